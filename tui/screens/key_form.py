"""Create key / Edit key: one form, errors shown under the field they concern.

The form calls the store itself (in a worker) so that a refused draft keeps the form open with
every message beside its field. Creating dismisses with the :class:`CreatedKey` (its secret is
shown next); editing a Web or Mobile key dismisses with the updated :class:`ApiKey`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, RadioSet, Static, Switch

from store import access
from store.errors import InvalidInput, StoreError
from store.models import NAME_MAX, ApiKey, CreatedKey, Project, Role, Scope
from tui.format import scope_label
from tui.text import literal, safe_text
from tui.widgets.choice_set import ChoiceSet
from tui.widgets.project_picker import ProjectPicker
from tui.workers import store_call

# Which error label shows a store error, and which widget gets focus for it, in form order.
# Keys not listed here (``input``, ``key``, …) go to the general error line.
ERROR_FIELDS: dict[str, tuple[str, str]] = {
    "name": ("name", "#name"),
    "scope": ("scope", "#scope"),
    "project": ("project", "#project-search"),
    "project_id": ("project", "#project-search"),
    "all_projects": ("project", "#project-search"),
    "web": ("domains", "#domains"),
    "domains": ("domains", "#domains"),
    "developing_locally": ("networks", "#networks"),
    "networks": ("networks", "#networks"),
    "cross_page_persistence": ("domains", "#domains"),
    "mobile": ("platforms", "#ios"),
    "platforms": ("platforms", "#ios"),
    "ios_bundle_ids": ("ios_bundle_ids", "#ios"),
    "android_packages": ("android_packages", "#android"),
    "expires_days": ("expires_days", "#expires"),
}
FORM_ORDER = [
    "name", "scope", "project", "domains", "networks", "ios_bundle_ids", "android_packages",
    "platforms", "expires_days",
]
SCOPE_FIELDS = {"web": "#web-fields", "mobile": "#mobile-fields", "analytics": "#analytics-fields"}
FIRST_SCOPE_FIELD = {"web": "#domains", "mobile": "#ios", "analytics": "#expires"}
DEFAULT_EXPIRY = "30"


def split_list(text: str) -> list[str]:
    """``"a, b  c"`` → ``["a", "b", "c"]``: commas or spaces separate entries."""
    return [item for item in re.split(r"[\s,]+", text) if item]


def error_label(field: str) -> Label:
    """An empty, hidden error line for ``field`` (shown under it when the store refuses)."""
    label = Label("", id=f"{field}-error", classes="field-error", markup=False)
    label.display = False
    return label


def with_title(widget: Widget, title: str) -> Widget:
    """Label a field through its border title: one line less than a label above it."""
    widget.border_title = title
    return widget


class KeyFormScreen(ModalScreen["CreatedKey | ApiKey | None"]):
    """Create a key (no ``key``) or edit a Web or Mobile ``key``."""

    CSS_PATH = "key_form.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, key: ApiKey | None = None) -> None:
        super().__init__()
        self.key = key
        self.scope: str = key.scope.value if key else Scope.WEB.value
        self.saving = False
        self._may_use_all_projects = False
        self._local_errors: dict[str, str] = {}

    @property
    def editing(self) -> bool:
        """True when this form edits an existing key."""
        return self.key is not None

    @property
    def refusal(self) -> str | None:
        """Why the given key cannot be edited at all, or None."""
        if self.key is None:
            return None
        if self.key.status == "revoked":
            return f"{self.key.id} is revoked: a revoked key cannot be edited."
        if self.key.scope is Scope.ANALYTICS:
            return (
                f"{self.key.id} is an Analytics key, which cannot be edited: "
                "revoke it and create a new one."
            )
        return None

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Title, the scrolling fields, the general error line and the buttons."""
        key = self.key
        with Vertical(id="dialog"):
            with Vertical(id="form-header"):
                yield Label("Edit key" if key else "Create key", id="form-title")
                if key is not None:
                    yield Static(literal(f"{scope_label(key.scope.value)} key {key.id}"), id="form-context")
            with VerticalScroll(id="form-body"):
                if self.refusal is None:
                    yield from self._compose_fields()
            with Vertical(id="form-footer"):
                yield error_label("form")
                with Horizontal(id="form-buttons"):
                    yield Button("Save", variant="primary", id="save", disabled=self.refusal is not None)
                    yield Button("Cancel", id="cancel")
        yield Footer()

    def _compose_fields(self) -> ComposeResult:
        key = self.key
        yield with_title(Input(
            value=key.name if key else "", placeholder="e.g. Checkout widget",
            max_length=NAME_MAX, id="name",
        ), "Name")
        yield error_label("name")
        if key is None:
            yield with_title(ChoiceSet(
                ("web", "Web"), ("mobile", "Mobile"), ("analytics", "Analytics"),
                value=self.scope, id="scope",
            ), "Scope")
            yield error_label("scope")
            yield ProjectPicker(id="project")
            yield error_label("project")
        if key is None or key.scope is Scope.WEB:
            yield from self._compose_web(key)
        if key is None or key.scope is Scope.MOBILE:
            yield from self._compose_mobile(key)
        if key is None:
            with Vertical(id="analytics-fields", classes="scope-fields"):
                yield with_title(ChoiceSet(
                    ("30", "30 days"), ("60", "60 days"), ("90", "90 days"),
                    value=DEFAULT_EXPIRY, id="expires",
                ), "Expires after")
                yield error_label("expires_days")
                yield Static(
                    "The secret of an Analytics key is shown once, at creation.", classes="hint"
                )

    def _compose_web(self, key: ApiKey | None) -> ComposeResult:
        web = key.web if key else None
        with Vertical(id="web-fields", classes="scope-fields"):
            yield with_title(Input(
                value=", ".join(web.domains) if web else "",
                placeholder="https://app.example.com, https://www.example.com", id="domains",
            ), "Custom UI domains")
            yield error_label("domains")
            yield Static("Origins (https://host[:port]), separated by commas or spaces", classes="hint")
            with Horizontal(classes="toggle-row"):
                yield Switch(value=web.developing_locally if web else False, id="developing-locally")
                yield Label("I'm developing locally", classes="toggle-label")
            with Vertical(id="networks-field"):
                yield with_title(Input(
                    value=", ".join(web.networks) if web else "",
                    placeholder="127.0.0.1/32, 192.0.2.0/24", id="networks",
                ), "IP networks (CIDR, comma separated)")
                yield error_label("networks")
            with Horizontal(classes="toggle-row"):
                yield Switch(value=web.cross_page_persistence if web else False, id="cross-page")
                yield Label("Enable cross page persistence", classes="toggle-label")

    def _compose_mobile(self, key: ApiKey | None) -> ComposeResult:
        mobile = key.mobile if key else None
        with Vertical(id="mobile-fields", classes="scope-fields"):
            yield with_title(Input(
                value=", ".join(mobile.ios_bundle_ids) if mobile else "",
                placeholder="com.example.app", id="ios",
            ), "iOS bundle ids")
            yield error_label("ios_bundle_ids")
            yield with_title(Input(
                value=", ".join(mobile.android_packages) if mobile else "",
                placeholder="com.example.app", id="android",
            ), "Android package names")
            yield error_label("android_packages")
            yield Static("Comma separated; at least one iOS or Android app", classes="hint")
            yield error_label("platforms")

    def on_mount(self) -> None:
        """Show the fields of the scope; load projects (create) or the key's project (edit)."""
        refusal = self.refusal
        if refusal is not None:
            self._show_error("form", refusal)
            self.query_one("#cancel", Button).focus()
            return
        self._show_scope_fields()
        self._show_networks()
        self.query_one("#name", Input).focus()
        repo = self.app.repo
        if self.key is None:
            store_call(self, lambda: (repo.list_projects(), repo.me().role), done=self._projects_loaded)
        else:
            project_id = self.key.project_id
            store_call(self, lambda: repo.project_name(project_id), done=self._project_named)

    def _projects_loaded(self, loaded: tuple[list[tuple[Project, int]], Role]) -> None:
        projects, role = loaded
        self._may_use_all_projects = access.may_use_all_projects(role)
        picker = self.query_one(ProjectPicker)
        picker.set_projects([project for project, _count in projects])
        picker.allow_all(self.scope == Scope.ANALYTICS and self._may_use_all_projects)

    def _project_named(self, name: str) -> None:
        assert self.key is not None
        context = self.query_one("#form-context", Static)
        context.update(literal(f"{scope_label(self.key.scope.value)} key {self.key.id} · project {name}"))

    # -- reacting to the admin ------------------------------------------------------------

    @on(RadioSet.Changed, "#scope")
    def _scope_changed(self, event: RadioSet.Changed) -> None:
        choice = self.query_one("#scope", ChoiceSet).value
        if choice is None or choice == self.scope:
            return
        self.scope = choice
        self._show_scope_fields()
        self.query_one(ProjectPicker).allow_all(
            choice == Scope.ANALYTICS and self._may_use_all_projects
        )

    def _show_scope_fields(self) -> None:
        for scope, selector in SCOPE_FIELDS.items():
            for group in self.query(selector):
                group.display = scope == self.scope

    @on(Switch.Changed, "#developing-locally")
    def _developing_locally_changed(self) -> None:
        self._show_networks()

    def _show_networks(self) -> None:
        for switch in self.query("#developing-locally").results(Switch):
            field = self.query_one("#networks-field")
            field.display = switch.value
            if switch.value:
                field.call_after_refresh(field.scroll_visible)

    @on(ProjectPicker.Picked)
    def _project_picked(self) -> None:
        self._hide_error("project")
        self.query_one(FIRST_SCOPE_FIELD[self.scope]).focus()

    @on(ProjectPicker.AddRequested)
    def _add_project(self, event: ProjectPicker.AddRequested) -> None:
        self._hide_error("project")
        name = event.name
        if not name:
            self._show_error("project", "Type the new project's name in the search box first.")
            self.query_one("#project-search", Input).focus()
            return
        repo = self.app.repo
        store_call(
            self, lambda: repo.add_project(name, deployed=True),
            done=self._project_added,
            failed=lambda error: self._show_error("project", str(error)),
        )

    def _project_added(self, project: Project) -> None:
        picker = self.query_one(ProjectPicker)
        picker.set_projects([*picker.projects, project])
        picker.choose(project.id)
        self.notify(f"Added project {safe_text(project.name)} ({project.id})", markup=False)

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)

    # -- saving ---------------------------------------------------------------------------

    def action_save(self) -> None:
        """Send the draft (or the changes) to the store in a worker."""
        if self.saving or self.refusal is not None:
            return
        self._clear_errors()
        repo = self.app.repo
        key = self.key
        if key is None:
            draft = self.draft()
            call: Any = lambda: repo.create_key(draft)  # noqa: E731
        else:
            changes = self.changes()
            call = lambda: repo.edit_key(key.id, changes)  # noqa: E731
        self.saving = True
        self.query_one("#save", Button).disabled = True
        store_call(self, call, done=self._saved, failed=self._refused)

    def draft(self) -> dict[str, Any]:
        """What the fields say, as a :class:`~store.models.KeyDraft` dict."""
        picker = self.query_one(ProjectPicker)
        draft: dict[str, Any] = {
            "name": self.query_one("#name", Input).value,
            "scope": self.scope,
            "project_id": picker.project_id,
            "all_projects": self.scope == Scope.ANALYTICS and picker.all_projects,
        }
        self._local_errors = {}
        if not draft["all_projects"] and draft["project_id"] is None:
            typed = picker.search.value.strip()
            self._local_errors["project"] = (
                f"no project matches “{typed}”: pick one from the list" if typed
                else "choose a project: type part of its name or id, then enter"
            )
        chosen = picker.project(draft["project_id"])
        if self.scope == Scope.WEB and chosen is not None and not chosen.deployed:
            # The store says the same, but only once the rest of the draft is valid.
            self._local_errors["project"] = (
                f"project {chosen.name!r} is not deployed: deploy it before making a Web key for it"
            )
        if self.scope == Scope.WEB:
            draft["web"] = self._web_settings()
        elif self.scope == Scope.MOBILE:
            draft["mobile"] = self._mobile_settings()
        else:
            expiry = self.query_one("#expires", ChoiceSet).value
            draft["expires_days"] = int(expiry) if expiry else None
        return draft

    def changes(self) -> dict[str, Any]:
        """What the fields say, as a :class:`~store.models.KeyChanges` dict."""
        self._local_errors = {}
        changes: dict[str, Any] = {"name": self.query_one("#name", Input).value}
        if self.scope == Scope.WEB:
            changes["web"] = self._web_settings()
        elif self.scope == Scope.MOBILE:
            changes["mobile"] = self._mobile_settings()
        return changes

    def _web_settings(self) -> dict[str, Any]:
        local = self.query_one("#developing-locally", Switch).value
        return {
            "domains": split_list(self.query_one("#domains", Input).value),
            "developing_locally": local,
            "networks": split_list(self.query_one("#networks", Input).value) if local else [],
            "cross_page_persistence": self.query_one("#cross-page", Switch).value,
        }

    def _mobile_settings(self) -> dict[str, Any]:
        return {
            "ios_bundle_ids": split_list(self.query_one("#ios", Input).value),
            "android_packages": split_list(self.query_one("#android", Input).value),
        }

    def _saved(self, result: CreatedKey | ApiKey) -> None:
        self.saving = False
        self.dismiss(result)

    def _refused(self, error: StoreError) -> None:
        self.saving = False
        self.query_one("#save", Button).disabled = False
        errors = dict(self._local_errors)
        if isinstance(error, InvalidInput):
            for field, message in error.errors.items():
                errors.setdefault(field, message)
        else:
            errors["input"] = str(error)
        self.show_errors(errors)

    # -- errors ---------------------------------------------------------------------------

    def show_errors(self, errors: dict[str, str]) -> None:
        """Show each message under its field (others on the general line); focus the first."""
        general: list[str] = []
        shown: dict[str, str] = {}
        for field, message in errors.items():
            target = ERROR_FIELDS.get(field)
            if target is None or not self.query(f"#{target[0]}-error") or target[0] in shown:
                general.append(message)
                continue
            label_field, focus = target
            if not self.query_one(focus).display or not self._visible(focus):
                general.append(message)
                continue
            shown[label_field] = focus
            self._show_error(label_field, message)
        if general:
            self._show_error("form", "; ".join(general))
        first = next((field for field in FORM_ORDER if field in shown), None)
        if first is not None:
            self.query_one(shown[first]).focus()
            error = self.query_one(f"#{first}-error")
            self.call_after_refresh(error.scroll_visible, animate=False)

    def _visible(self, selector: str) -> bool:
        widget: Widget | None = self.query_one(selector)
        while widget is not None and widget is not self:
            if not widget.display:
                return False
            parent = widget.parent
            widget = parent if isinstance(parent, Widget) else None
        return True

    def _show_error(self, field: str, message: str) -> None:
        label = self.query_one(f"#{field}-error", Label)
        label.update(literal(message))
        label.display = True

    def _hide_error(self, field: str) -> None:
        for label in self.query(f"#{field}-error").results(Label):
            label.update("")
            label.display = False

    def _clear_errors(self) -> None:
        for label in self.query(".field-error").results(Label):
            label.update("")
            label.display = False
