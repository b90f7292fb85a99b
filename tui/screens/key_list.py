"""The main screen: every key this member may see, in a table that costs what the screen shows."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from store import access
from store.models import ApiKey, CreatedKey, KeyView, Role, Status
from store.tokens import VISIBLE_RANDOM_CHARS

from ..clipboard import copy_text
from ..format import EXPIRY_WARNING_DAYS, days_until, expiry_phrase, scope_label, short_date
from ..text import literal, safe_text
from ..widgets.key_index import SORT_ORDERS, KeyIndex
from ..widgets.virtual_table import Column, VirtualTable
from ..workers import store_call

SORT_LABELS = {"created_desc": "created ↓", "created_asc": "created ↑", "scope": "scope"}

COLUMNS = (
    Column("name", "Name", 16, priority=100, flex=True),
    Column("scope", "Scope", 9, priority=90),
    Column("project", "Project", 12, priority=80),
    Column("key", "Key", VISIBLE_RANDOM_CHARS + 7, priority=70),
    Column("created", "Created", 10, priority=60),
    Column("status", "Status", 11, priority=50),
    Column("created_by", "Created by", 12, priority=20),
    Column("last_used", "Last used", 10, priority=10),
)


@dataclass
class Loaded:
    """What one load of the store brings back from the worker."""

    index: KeyIndex
    organisation: str
    role: Role
    project_count: int
    marker: object


class KeyListScreen(Screen[None]):
    """API Keys: the table, its count and sort order, the filter, marks and every key action."""

    CSS_PATH = "key_list.tcss"
    AUTO_FOCUS = "#keys"
    BINDINGS = [
        Binding("n", "new_key", "New"),
        Binding("enter", "open_key", "Details", show=False),
        Binding("e", "edit_key", "Edit"),
        Binding("d,delete", "revoke", "Revoke", key_display="d"),
        Binding("c", "copy_key", "Copy"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("slash", "start_filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear"),
        Binding("a", "toggle_revoked", "Show/hide revoked keys", show=False),
        Binding("p", "projects", "Projects"),
        Binding("m", "members", "Members", show=False),
        Binding("l", "activity", "Activity log", show=False),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.index: KeyIndex | None = None
        self.role: Role | None = None
        self.sort_order = "created_desc"
        self.filter_text = ""
        self.show_revoked = False
        self.project_count = 0
        self._marker: object = None
        self._loading = False
        self._pending_cursor: str | None = None
        self._first_load = True

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Header, the filter (hidden until ``/``), the summary, the table and the footer."""
        yield Header()
        with Vertical(id="keys-body"):
            yield Input(placeholder="Filter by name, id, project or scope — esc clears", id="filter")
            yield Static(id="summary", markup=False)
            yield VirtualTable(COLUMNS, self._cell, row_id=_row_id, row_style=self._row_style, id="keys")
            yield Static(id="empty", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> VirtualTable:
        """The keys table."""
        return self.query_one("#keys", VirtualTable)

    def on_mount(self) -> None:
        """Load the store, and look for other admins' changes every ``live_interval``."""
        self.query_one("#empty", Static).display = False
        self.title = "API Keys"
        self.load()
        self.set_interval(self.app.live_interval, self._check_for_changes)

    def on_screen_resume(self) -> None:
        """Back from another screen: show what changed there."""
        if self.index is not None:
            self.load()

    # -- loading --------------------------------------------------------------------------

    def load(self, cursor_to: str | None = None) -> None:
        """Reload the keys in a worker; keep the cursor on its key (or move it to ``cursor_to``)."""
        if cursor_to:
            self._pending_cursor = cursor_to
        repo = self.app.repo
        include_revoked = self.show_revoked
        sort_order = self.sort_order

        first = self._first_load

        def read() -> Loaded:
            marker = repo.changed_marker()
            if first:
                repo.open_or_create()  # the first login to open a new store becomes its owner
            # Later, a store moved away is an error (organisation() says so), not a new store.
            organisation = repo.organisation()
            member = repo.me()
            index = KeyIndex(repo.list_keys(include_revoked=include_revoked))
            index.positions(sort_order)  # the first paint's order, sorted off the UI thread
            return Loaded(
                index=index,
                organisation=organisation,
                role=member.role,
                project_count=repo.project_count(),
                marker=marker,
            )

        self._loading = True
        store_call(self, read, self._loaded, failed=self._load_failed, group="load", exclusive=True)

    def _loaded(self, loaded: Loaded) -> None:
        self._loading = False
        self.index, self.role = loaded.index, loaded.role
        self.project_count, self._marker = loaded.project_count, loaded.marker
        repo = self.app.repo
        self.title = f"API Keys — {safe_text(loaded.organisation)}"
        self.sub_title = f"{safe_text(repo.login)} ({loaded.role.value})"
        self._show_rows()
        if self._pending_cursor:
            self.table.move_cursor_to_id(self._pending_cursor)
            self._pending_cursor = None
        self.refresh_bindings()
        if self._first_load:
            # The first load's objects (millions at 100k keys) are mostly long-lived: keep the
            # cyclic collector from rescanning them during the first interactions.
            self._first_load = False
            gc.freeze()
        # The other sort orders and the filter's search texts, ready before they are asked for.
        self.run_worker(loaded.index.prepare, thread=True, group="prepare", exclusive=True)

    def _load_failed(self, error: Exception) -> None:
        self._loading = False
        self.index = None
        self.table.set_rows([])
        empty = self.query_one("#empty", Static)
        empty.update(literal(f"The store cannot be used: {error}"))
        empty.display = True
        self.query_one("#summary", Static).update("")
        self.notify(str(error), title="Store error", severity="error", markup=False, timeout=10)
        self.refresh_bindings()

    def _check_for_changes(self) -> None:
        if self._loading or self.app.screen is not self:
            return
        repo = self.app.repo

        def changed() -> bool:
            return repo.changed_marker() != self._marker

        store_call(self, changed, lambda yes: yes and self.load(), group="poll", exclusive=True)

    # -- showing --------------------------------------------------------------------------

    def _show_rows(self) -> None:
        if self.index is None:
            return
        rows = self.index.rows(self.sort_order, self.filter_text)
        self.table.set_rows(rows)
        self._update_summary(len(rows))

    def _update_summary(self, shown: int) -> None:
        assert self.index is not None
        total = len(self.index)
        noun = "key" if total == 1 else "keys"
        parts = [f"{total:,} {noun}" if shown == total else f"{shown:,} of {total:,} {noun}"]
        parts.append(f"sorted by {SORT_LABELS[self.sort_order]}")
        if self.show_revoked:
            parts.append("revoked shown")
        marked = len(self._marked_ids())
        if marked:
            parts.append(f"{marked} marked")
        if self.role is not None and not access.sees_every_key(self.role):
            parts.append("your keys only")
        self.query_one("#summary", Static).update(" · ".join(parts))
        empty = self.query_one("#empty", Static)
        empty.display = shown == 0
        self.table.display = shown > 0
        if shown == 0:
            empty.update(self._empty_message(total))
        elif self.focused is None:
            self.table.focus()

    def _empty_message(self, total: int) -> Text:
        if total:
            return literal(f"No key matches “{self.filter_text}”. Press escape to clear the filter.")
        if self.project_count == 0:
            return Text(
                "No API keys yet.\n\nPress n to create your first key. Every key belongs to a "
                "project: the form lets you add the first one (or press p for Projects).\n\n"
                "Press ? for every key, q to quit."
            )
        if not self.show_revoked:
            return Text(
                "No active API keys.\n\nPress n to create a key, or a to show revoked keys too "
                "(? lists every key)."
            )
        return Text("No API keys yet.\n\nPress n to create your first key, ? for help.")

    def _cell(self, view: KeyView, column: str) -> str | Text:
        record = view.record
        if column == "name":
            return record["name"]
        if column == "scope":
            return scope_label(record["scope"])
        if column == "project":
            return view.project_name
        if column == "key":
            return record["key_prefix"] + "•••"
        if column == "created":
            return short_date(record["created_at"])
        if column == "created_by":
            return record["created_by"]
        if column == "last_used":
            return short_date(record.get("last_used_at")) if record.get("last_used_at") else "never"
        if column == "status":
            return self._status_text(view)
        return ""

    def _status_text(self, view: KeyView) -> Text:
        status = view.status(self.app.repo.now())
        if status is Status.REVOKED:
            return Text("revoked", style="dim")
        if status is Status.EXPIRED:
            return Text("expired", style="red")
        if status is Status.DISABLED:
            return Text("disabled", style="yellow")
        expires_at = view.record.get("expires_at")
        if expires_at:
            phrase = expiry_phrase(expires_at, self.app.repo.clock())
            soon = days_until(expires_at, self.app.repo.clock()) <= EXPIRY_WARNING_DAYS
            return Text(phrase, style="bold yellow" if soon else "")
        return Text("active", style="green")

    def _row_style(self, view: KeyView) -> str:
        status = view.status(self.app.repo.now())
        if status is not Status.ACTIVE:
            return "dim"
        expires_at = view.record.get("expires_at")
        if expires_at and days_until(expires_at, self.app.repo.clock()) <= EXPIRY_WARNING_DAYS:
            return "bold"
        return ""

    # -- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide key actions while there is no key under the cursor.

        Where a key is selected but the action does not apply to it (an Analytics key cannot
        be edited, another member's key is read-only), the action stays available and says
        why when pressed, rather than silently doing nothing.
        """
        view = self.table.cursor_row if self.is_mounted else None
        if action in ("edit_key", "copy_key", "open_key") and view is None:
            return False
        if action == "revoke" and view is None and not self._marked_ids():
            return False
        if action == "clear_filter" and not (
            self.filter_text or self._filter_visible() or self._marked_ids()
        ):
            return False
        return True

    def _editable(self, view: KeyView) -> bool:
        return (
            view.scope != "analytics"
            and view.record["status"] != "revoked"
            and self.role is not None
            and access.can_change(self.app.repo.login, self.role, view.record)
        )

    @on(VirtualTable.CursorMoved)
    def _cursor_moved(self) -> None:
        self.refresh_bindings()

    @on(VirtualTable.MarksChanged)
    def _marks_changed(self) -> None:
        if self.index is not None:
            self._update_summary(self.table.row_count)
        self.refresh_bindings()

    @on(VirtualTable.RowActivated)
    def _row_activated(self) -> None:
        self.action_open_key()

    def action_open_key(self) -> None:
        """Open the details of the key under the cursor."""
        from .key_detail import KeyDetailScreen

        view = self.table.cursor_row
        if view is not None:
            self.app.push_screen(KeyDetailScreen(view.id))

    def action_new_key(self) -> None:
        """Open the create form; then show the new secret once."""
        from .key_form import KeyFormScreen

        self.app.push_screen(KeyFormScreen(), self._key_created)

    def _key_created(self, created: Any) -> None:
        from .key_created import KeyCreatedScreen

        if isinstance(created, CreatedKey):
            self._pending_cursor = created.key.id
            self.app.push_screen(KeyCreatedScreen(created), lambda _: self.load(created.key.id))

    def action_edit_key(self) -> None:
        """Edit the key under the cursor (Web and Mobile keys; own keys, or any as owner)."""
        view = self.table.cursor_row
        if view is None:
            return
        if view.scope == "analytics":
            self.notify("Analytics keys cannot be edited: revoke it and create a new one.", severity="warning")
            return
        if view.record["status"] == "revoked":
            self.notify("A revoked key cannot be edited.", severity="warning")
            return
        if not self._editable(view):
            self.notify(
                f"Only an owner may edit a key created by {safe_text(view.created_by)}.",
                severity="warning", markup=False,
            )
            return

        from .key_form import KeyFormScreen

        def edited(result: ApiKey | None) -> None:
            if result is not None:
                self.notify(f"Saved {safe_text(result.name)}", markup=False)
                self.load(result.id)

        store_call(self, lambda: self.app.repo.get_key(view.id),
                   lambda key: self.app.push_screen(KeyFormScreen(key), edited))

    def action_revoke(self) -> None:
        """Ask, then revoke the marked keys, or the key under the cursor."""
        from .confirm_revoke import ConfirmRevoke

        marked = self._marked_ids()
        if marked:
            views = [view for view in self.index.views if view.id in marked] if self.index else []
        else:
            views = [self.table.cursor_row] if self.table.cursor_row is not None else []
        views = [view for view in views if view.record["status"] != "revoked"]
        if not views:
            self.notify("Nothing to revoke: the key is already revoked.", severity="warning")
            return
        refused = [view for view in views if self.role is None
                   or not access.can_change(self.app.repo.login, self.role, view.record)]
        if refused:
            self.notify(
                f"Only an owner may revoke a key created by another member "
                f"({safe_text(refused[0].name)} was created by {safe_text(refused[0].created_by)}).",
                severity="warning", markup=False,
            )
            return
        ids = [view.id for view in views]

        def confirmed(yes: bool | None) -> None:
            if yes:
                store_call(self, lambda: self.app.repo.revoke_keys(ids), self._revoked)

        self.app.push_screen(ConfirmRevoke([(v.id, v.name, v.scope) for v in views]), confirmed)

    def _revoked(self, keys: list[ApiKey]) -> None:
        self.table.clear_marks()
        if len(keys) == 1:
            self.notify(f"Revoked {safe_text(keys[0].name)}", markup=False)
        else:
            self.notify(f"Revoked {len(keys)} keys")
        self.load()

    def action_copy_key(self) -> None:
        """Copy the secret of the key under the cursor (never for Analytics keys)."""
        view = self.table.cursor_row
        if view is None:
            return
        if not _copyable(view, self.app.repo.now()):
            reason = (
                "An Analytics secret is shown only once, at creation, and is not stored: "
                "create a new key if it was lost."
                if view.scope == "analytics"
                else "This key is revoked: its secret was wiped."
            )
            self.notify(reason, severity="warning")
            return
        store_call(
            self,
            lambda: self.app.repo.reveal_secret(view.id),
            lambda secret: self.notify(copy_text(self.app, secret.get_secret_value())),
        )

    def action_cycle_sort(self) -> None:
        """Created ↓ → created ↑ → scope → created ↓."""
        position = SORT_ORDERS.index(self.sort_order)
        self.sort_order = SORT_ORDERS[(position + 1) % len(SORT_ORDERS)]
        self._show_rows()

    def action_toggle_revoked(self) -> None:
        """Show or hide revoked keys."""
        self.show_revoked = not self.show_revoked
        self.load()

    def action_start_filter(self) -> None:
        """Show the filter box and type into it."""
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        """Clear and hide the filter (or, with no filter, clear the marks)."""
        box = self.query_one("#filter", Input)
        if not box.display and not self.filter_text:
            self.table.clear_marks()
            return
        box.value = ""
        box.display = False
        self.table.focus()

    def _filter_visible(self) -> bool:
        return self.query_one("#filter", Input).display

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._show_rows()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.table.focus()

    def action_reload(self) -> None:
        """Read the store again now."""
        self.load()

    def action_projects(self) -> None:
        """Open Projects."""
        from .projects import ProjectsScreen

        self.app.push_screen(ProjectsScreen())

    def action_members(self) -> None:
        """Open Members."""
        from .members import MembersScreen

        self.app.push_screen(MembersScreen())

    def action_activity(self) -> None:
        """Open the audit trail."""
        from .activity import ActivityScreen

        self.app.push_screen(ActivityScreen())

    def _marked_ids(self) -> set[str]:
        if not self.is_mounted:
            return set()
        return self.table.marked_ids


def _row_id(view: KeyView) -> str:
    return view.record["id"]


def _copyable(view: KeyView, now: str) -> bool:
    return view.scope != "analytics" and view.status(now) is not Status.REVOKED
