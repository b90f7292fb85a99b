"""Help: the keys of the screen it was opened on, and a few notes on copying and filtering."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Static

from ..text import safe_text

# (heading, text, a command shown on its own line or None, text after the command)
NOTES: list[tuple[str, str, str | None, str]] = [
    (
        "Copy over SSH",
        "The copy goes to your own terminal as OSC 52, which sends no reply: check your "
        "clipboard. tmux passes it on only with this line in ~/.tmux.conf:",
        "set -g set-clipboard on",
        "If nothing arrives, press v in the key's details to reveal the secret instead.",
    ),
    (
        "Filter",
        "Press / and type: only rows containing that text (in any column, any case) stay. "
        "enter goes back to the table with the filter kept; escape clears the filter, and "
        "a second escape goes back.",
        None,
        "",
    ),
    (
        "Key lifecycle",
        "R rolls a key (a new secret; the previous one works for the grace you choose), D "
        "disables the marked keys or the one under the cursor until E enables them, x shows "
        "only keys expiring within the policy's warning window, P opens the policy. Capitals, "
        "so no lower-case key changes meaning.",
        None,
        "",
    ),
    (
        "Command palette",
        "ctrl+p lists every action of the screen by name: type a few letters, press enter.",
        None,
        "",
    ),
]


@dataclass
class BindingGroup:
    """Bindings defined in one place (the screen, a widget on it, or the app)."""

    title: str
    rows: list[tuple[str, str, bool]] = field(default_factory=list)  # keys, description, enabled


# Screen's own defaults: focus moves belong with the app-wide keys, and copying selected text
# does not apply to these screens.
FOCUS_ACTIONS = frozenset({"app.focus_next", "app.focus_previous"})
SKIPPED_ACTIONS = frozenset({"screen.copy_text"})
# A row cursor never moves sideways, and the main screens bind enter themselves.
SKIPPED_TABLE_ACTIONS = frozenset(
    {"cursor_left", "cursor_right", "page_left", "page_right", "select_cursor"}
)


def _group_title(node: DOMNode, screen: Screen, action: str) -> tuple[int, str]:
    if node is screen and action in FOCUS_ACTIONS:
        return 3, "Everywhere"
    if node is screen:
        return 0, "On this screen"
    if isinstance(node, DataTable) or type(node).__name__.endswith("Table"):
        return 1, "Moving in the table"
    if isinstance(node, Input):
        return 1, "Typing in the text field"
    if node is screen.app:
        return 3, "Everywhere"
    return 2, f"In {type(node).__name__}"


def binding_groups(screen: Screen) -> list[BindingGroup]:
    """The described bindings active on ``screen``, keys of one action together, grouped."""
    app = screen.app
    merged: dict[tuple[int, str], tuple[DOMNode, Binding, bool, list[str]]] = {}
    active: dict[str, ActiveBinding] = screen.active_bindings
    for active_binding in active.values():
        binding = active_binding.binding
        if not binding.description or binding.system or binding.action in SKIPPED_ACTIONS:
            continue
        node = active_binding.node
        if isinstance(node, DataTable) and binding.action in SKIPPED_TABLE_ACTIONS:
            continue
        slot = (id(node), binding.action)
        display = app.get_key_display(binding)
        if slot not in merged:
            merged[slot] = (node, binding, active_binding.enabled, [display])
        elif display not in merged[slot][3]:
            merged[slot][3].append(display)
        else:  # "d,delete" with key_display="d": name the other key as it is
            merged[slot][3].append(binding.key)
    groups: dict[tuple[int, str], BindingGroup] = {}
    for node, binding, enabled, keys in merged.values():
        order = _group_title(node, screen, binding.action)
        group = groups.setdefault(order, BindingGroup(order[1]))
        group.rows.append((" / ".join(keys), binding.description, enabled))
    return [groups[order] for order in sorted(groups)]


class HelpScreen(ModalScreen[None]):
    """Every key of ``for_screen`` with what it does, plus notes; escape, ? or q closes."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > #help {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $accent;
        border-title-align: center;
        border-subtitle-align: right;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen .help-heading { text-style: bold; color: $accent; margin-top: 1; }
    HelpScreen .help-note-end { margin-bottom: 1; }
    HelpScreen .help-command { padding-left: 4; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", key_display="?", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, for_screen: Screen) -> None:
        super().__init__()
        self.for_screen = for_screen
        self.groups = binding_groups(for_screen)

    def compose(self) -> ComposeResult:
        """One table of keys per group, then the notes, in a scrolling box."""
        with VerticalScroll(id="help") as box:
            box.border_title = "Keys"
            box.border_subtitle = "↑↓ scroll · escape close"
            title = self.for_screen.title or self.app.title
            yield Static(Text(f"Help for {safe_text(title)}", style="bold"))
            for group in self.groups:
                yield Static(Text(group.title), classes="help-heading")
                yield Static(_keys_table(group))
            yield Static(Text("Notes"), classes="help-heading")
            for heading, note, command, after in NOTES:
                parts = [Static(Text.assemble((heading + ": ", "bold"), note))]
                if command:
                    parts.append(Static(Text(command, style="bold"), classes="help-command"))
                if after:
                    parts.append(Static(Text(after)))
                parts[-1].add_class("help-note-end")
                yield from parts

    def on_mount(self) -> None:
        """Let the arrow keys scroll the box."""
        self.query_one("#help").focus()

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)


def _keys_table(group: BindingGroup) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(width=14, no_wrap=True)
    table.add_column()
    for keys, description, enabled in group.rows:
        style = "" if enabled else "dim"
        note = "" if enabled else " (not available now)"
        table.add_row(
            Text(keys, style=f"bold {style}".strip()), Text(description + note, style=style)
        )
    return table
