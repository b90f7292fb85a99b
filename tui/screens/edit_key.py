"""Edit key: a Web or Mobile key's name and settings; dismisses with the saved key.

No lost edits between people (SPEC §4): the form remembers the key's revision and the values it
opened with, and sends only what this admin changed. If a colleague changed the key meanwhile,
the store keeps their change where it does not overlap, and refuses (saying who changed what)
where it does; the form then stays open with that message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.widgets import Button, Static

from store.access import KeyAction
from store.models import NO_EXPIRY, ApiKey, KeyChanges
from tui.format import scope_label
from tui.text import literal
from tui.widgets.key_fields import FieldValues, KeyFields
from tui.workers import store_call

from .key_form import KeyFormModal

NOTHING_CHANGED = "Nothing changed"


@dataclass(frozen=True)
class EditContext:
    """What the form asks the store once, when it opens."""

    refusal: str | None
    project_name: str


class EditKeyModal(KeyFormModal[ApiKey]):
    """Edit ``key`` (as read when the form opened); dismiss with the saved key, or None."""

    TITLE_TEXT = "Edit key"

    def __init__(self, key: ApiKey) -> None:
        super().__init__()
        self.key = key
        self.revision = key.revision
        self.opened = FieldValues.of_key(key)
        # What the admin sees now; the store merges against it if the key changes meanwhile.
        self.base = KeyChanges.model_construct(
            name=key.name, web=key.web, mobile=key.mobile, expires_at=key.expires_at or NO_EXPIRY,
        )

    def make_fields(self) -> KeyFields:
        """The name and the settings of the key's own scope."""
        return KeyFields(self.opened, [self.key.scope])

    def context(self) -> Static:
        """Which key this is (the project's name follows once read)."""
        return Static(literal(self._context_text()), id="form-context")

    def _context_text(self, project_name: str | None = None) -> str:
        key = self.key
        text = f"{scope_label(key.scope.value)} key {key.id}"
        return f"{text} · project {project_name}" if project_name else text

    def on_mount(self) -> None:
        """Ask the rule book whether this key may be edited, and name its project."""
        super().on_mount()
        repo, key = self.repo, self.key

        def load() -> EditContext:
            return EditContext(repo.refusal(KeyAction.EDIT, key), repo.project_name(key.project_id))

        store_call(self, load, done=self._loaded)

    def _loaded(self, context: EditContext) -> None:
        self.query_one("#form-context", Static).update(literal(self._context_text(context.project_name)))
        if context.refusal is not None:
            self.refusal = context.refusal
            self.fields.display = False
            self.query_one("#save", Button).disabled = True
            self.show_form_error(context.refusal)
            self.query_one("#cancel", Button).focus()

    def changes(self) -> dict[str, Any]:
        """Only what the admin changed, as a :class:`~store.models.KeyChanges` dict."""
        values, opened, scope = self.fields.values(), self.opened, self.key.scope
        changes: dict[str, Any] = {}
        if values.name.strip() != opened.name:
            changes["name"] = values.name
        before = opened.settings(scope)
        for field, settings in values.settings(scope).items():
            if field in KeyChanges.model_fields and settings != before[field]:
                changes[field] = settings
        if values.expires_at.strip() != opened.expires_at.strip():
            changes["expires_at"] = values.expiry(self.repo.clock())  # ValueError: not an expiry
        return changes

    def save_call(self) -> Callable[[], ApiKey] | None:
        """Send the changes with the revision and values the form opened with."""
        try:
            changes = self.changes()
        except ValueError as error:
            self.show_errors({"expires_at": str(error)})
            return None
        if not changes:
            self.notify(NOTHING_CHANGED)
            self.dismiss(None)
            return None
        repo, key_id, revision, base = self.repo, self.key.id, self.revision, self.base
        return lambda: repo.edit_key(key_id, changes, expected_revision=revision, base=base)
