"""Create key: name, scope, project and the scope's settings; dismisses with the new key.

A project added from here starts *not deployed*, as on the Projects screen and with
``apikeys projects add``; saving a Web key for a project that is not deployed offers to deploy
it (to members who may), as the store would otherwise refuse the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from textual import on
from textual.widgets import Input, RadioSet

from store.access import OrganisationAction
from store.errors import StoreError
from store.models import CreatedKey, KeyDraft, Project, Scope, validation_errors
from tui.text import safe_text
from tui.widgets.choice_set import ChoiceSet
from tui.widgets.key_fields import FieldValues, KeyFields, error_label, with_title
from tui.widgets.project_picker import ProjectPicker
from tui.workers import store_call

from .key_form import KeyFormModal
from .prompts import ConfirmDialog

SCOPE_CHOICES = (("web", "Web"), ("mobile", "Mobile"), ("analytics", "Analytics"))


def not_deployed(project: Project) -> str:
    """Why a Web key cannot be made for ``project`` yet (the store's words)."""
    return f"project {project.name!r} is not deployed: deploy it before making a Web key for it"


@dataclass(frozen=True)
class CreateContext:
    """What the form asks the store once, when it opens."""

    projects: list[Project]
    may_use_all_projects: bool
    may_manage_projects: bool


class CreateKeyModal(KeyFormModal[CreatedKey]):
    """Create a key; dismiss with the :class:`CreatedKey` (its secret is shown next), or None."""

    TITLE_TEXT = "Create key"

    def __init__(self) -> None:
        super().__init__()
        self.scope = Scope.WEB
        self.context_loaded: CreateContext | None = None
        self._project_errors: dict[str, str] = {}

    def make_fields(self) -> KeyFields:
        """Name, scope and project, then the settings of every scope (one shown at a time)."""
        between = [
            with_title(ChoiceSet(*SCOPE_CHOICES, value=self.scope.value, id="scope"), "Scope"),
            error_label("scope"),
            ProjectPicker(id="project"),
            error_label("project"),
        ]
        return KeyFields(FieldValues(), list(Scope), between=between)

    def on_mount(self) -> None:
        """Load the projects and what this member may do with them."""
        super().on_mount()
        repo = self.repo

        def load() -> CreateContext:
            return CreateContext(
                projects=[project for project, _count in repo.list_projects()],
                may_use_all_projects=repo.refusal(OrganisationAction.USE_ALL_PROJECTS) is None,
                may_manage_projects=repo.refusal(OrganisationAction.MANAGE_PROJECTS) is None,
            )

        store_call(self, load, done=self._loaded)

    def _loaded(self, context: CreateContext) -> None:
        self.context_loaded = context
        picker = self.picker
        picker.set_projects(context.projects)
        picker.allow_all(self._offers_all_projects())

    @property
    def picker(self) -> ProjectPicker:
        """The project picker."""
        return self.query_one(ProjectPicker)

    def _offers_all_projects(self) -> bool:
        context = self.context_loaded
        return self.scope is Scope.ANALYTICS and context is not None and context.may_use_all_projects

    # -- reacting to the admin ------------------------------------------------------------

    @on(RadioSet.Changed, "#scope")
    def _scope_changed(self, event: RadioSet.Changed) -> None:
        choice = self.query_one("#scope", ChoiceSet).value
        if choice is None or choice == self.scope.value:
            return
        self.scope = Scope(choice)
        self.fields.show_scope(self.scope)
        self.picker.allow_all(self._offers_all_projects())

    @on(ProjectPicker.Picked)
    def _project_picked(self) -> None:
        self.fields.hide_error("project")
        self.fields.focus_settings()

    @on(ProjectPicker.AddRequested)
    def _add_project(self, event: ProjectPicker.AddRequested) -> None:
        self.fields.hide_error("project")
        name = event.name
        if not name:
            self.fields.show_error("project", "Type the new project's name in the search box first.")
            self.query_one("#project-search", Input).focus()
            return
        repo = self.repo
        store_call(
            self, lambda: repo.add_project(name, deployed=False),  # as everywhere else
            done=self._project_added,
            failed=lambda error: self.fields.show_error("project", str(error)),
        )

    def _project_added(self, project: Project) -> None:
        picker = self.picker
        picker.set_projects([*picker.projects, project])
        picker.choose(project.id)
        self.notify(f"Added project {safe_text(project.name)} ({project.id}), not deployed", markup=False)

    # -- saving ---------------------------------------------------------------------------

    def draft(self) -> dict[str, Any]:
        """What the form says, as a :class:`~store.models.KeyDraft` dict."""
        picker = self.picker
        values = self.fields.values()
        all_projects = self.scope is Scope.ANALYTICS and picker.all_projects
        draft = {
            "name": values.name,
            "scope": self.scope.value,
            "project_id": None if all_projects else picker.project_id,
            "all_projects": all_projects,
            **values.settings(self.scope),
        }
        if self.scope is not Scope.ANALYTICS and values.expires_at.strip():
            draft["expires_at"] = values.expiry(self.repo.clock())  # ValueError: not an expiry
        return draft

    def save_call(self) -> Callable[[], CreatedKey] | None:
        """Create the key; first offer to deploy the project of a Web key if it is not."""
        try:
            draft = self.draft()
        except ValueError as error:
            self.show_errors({"expires_at": str(error)})
            return None
        self._project_errors = self._project_problems(draft)
        undeployed = self._undeployed_project(draft)
        if undeployed is not None and not self._project_errors:
            try:
                KeyDraft.model_validate(draft)
            except ValidationError as error:  # say everything at once; offer to deploy later
                self._project_errors = {"project": not_deployed(undeployed)}
                self.show_errors({**validation_errors(error), **self._project_errors})
                return None
            self._offer_deploy(undeployed)
            return None
        repo = self.repo
        return lambda: repo.create_key(draft)

    def _project_problems(self, draft: dict[str, Any]) -> dict[str, str]:
        """What is wrong with the project choice, said before the store is asked (the store
        says it too, but only once the rest of the draft is valid)."""
        if draft["all_projects"] or draft["project_id"] is not None:
            return {}
        typed = self.picker.search.value.strip()
        return {"project": (
            f"no project matches “{typed}”: pick one from the list" if typed
            else "choose a project: type part of its name or id, then enter"
        )}

    def _undeployed_project(self, draft: dict[str, Any]) -> Project | None:
        """The chosen project of a Web key when it is not deployed and this member may deploy it."""
        context = self.context_loaded
        if self.scope is not Scope.WEB or context is None or not context.may_manage_projects:
            return None
        project = self.picker.project(draft["project_id"])
        return project if project is not None and not project.deployed else None

    def _offer_deploy(self, project: Project) -> None:
        name = safe_text(project.name)

        def answered(deploy: bool | None) -> None:
            if not deploy:
                self.fields.show_error("project", not_deployed(project))
                self.query_one("#project-search", Input).focus()
                return
            repo = self.repo
            store_call(
                self, lambda: repo.set_project_deployed(project.id, True),
                done=self._deployed,
                failed=lambda error: self.fields.show_error("project", str(error)),
            )

        self.app.push_screen(ConfirmDialog(
            f"Deploy project {name}?",
            f"A Web key needs a deployed project, and {name} is not deployed. Deploy it now "
            "and create the key?",
            confirm="Deploy",
        ), answered)

    def _deployed(self, project: Project) -> None:
        picker = self.picker
        picker.set_projects([project if p.id == project.id else p for p in picker.projects])
        self.notify(f"Deployed project {safe_text(project.name)}", markup=False)
        self.action_save()

    def errors_of(self, error: StoreError) -> dict[str, str]:
        """The store's errors; a project problem found here wins over the store's wording."""
        return {**super().errors_of(error), **self._project_errors}
