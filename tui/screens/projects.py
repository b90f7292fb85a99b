"""Projects: every project with its id, whether it is deployed and how many keys it has.

Owners and support add projects and toggle *deployed*; other roles read. Whether this member
may is asked of the repository (the rule book), so the screen and the command line never
disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from store.access import OrganisationAction
from store.models import Project

from ..text import literal, safe_text
from ..widgets.virtual_table import Column
from ..workers import store_call
from .live import ListScreen, sized_columns
from .prompts import TextPrompt

COLUMNS = (
    Column("name", "Name", 12, priority=100, flex=True),
    Column("id", "ID", 10, priority=90),
    Column("deployed", "Deployed", 8, priority=80),
    Column("keys", "Keys", 6, priority=70, align="right"),
)

Row = tuple[Project, int]  # a project and how many keys it has


@dataclass(frozen=True)
class ProjectsLoaded:
    """What the screen shows: every project with its key count, and why this member may not
    manage them (None when they may)."""

    projects: list[Row]
    refusal: str | None


class ProjectsScreen(ListScreen[ProjectsLoaded]):
    """The projects of the organisation (``p`` from the main screen)."""

    TITLE = "Projects"
    CSS_PATH = "projects.tcss"
    COLUMNS = COLUMNS
    LOADING = "Loading projects…"
    # Each action has a hidden twin that runs when check_action hides the action, so a
    # member who presses the key anyway is told why.
    CHANGES = ("add_project", "toggle_deployed")
    ROW_CHANGES = ("toggle_deployed",)
    BINDINGS = [
        Binding("n", "add_project", "Add project"),
        Binding("n", "refuse", show=False),
        Binding("space", "toggle_deployed", "Deploy on/off"),
        Binding("space", "refuse", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.projects: dict[str, Row] = {}
        self._select_after_load: str | None = None

    def compose_below(self) -> ComposeResult:
        """The empty state."""
        yield Static("", id="no-projects")

    def on_mount(self) -> None:
        """Hide the empty state until the first load says there is nothing."""
        # ListScreen.on_mount runs as well: Textual calls the handler of every class.
        self.query_one("#no-projects").display = False

    # -- loading ----------------------------------------------------------------------

    def fetch(self) -> ProjectsLoaded:
        """The projects and whether this member may manage them (worker thread)."""
        return ProjectsLoaded(
            projects=self.repo.list_projects(),
            refusal=self.repo.refusal(OrganisationAction.MANAGE_PROJECTS),
        )

    def show(self, data: ProjectsLoaded) -> None:
        """Fill the table, keeping the cursor on the same project."""
        self.refusal = data.refusal
        self.projects = {project.id: (project, count) for project, count in data.projects}
        table = self.table
        table.set_columns(sized_columns(COLUMNS, data.projects, self._plain))
        table.set_rows(data.projects)
        if self._select_after_load:
            table.move_cursor_to_id(self._select_after_load)
            self._select_after_load = None
        count = len(data.projects)
        summary = f"{count} project{'s' if count != 1 else ''}"
        if not self.may_change:
            summary += " · read only: owners and support manage projects"
        self.set_summary(summary)
        empty = self.query_one("#no-projects", Static)
        if count == 0:
            empty.update(literal(
                "No projects yet. Press n to add one." if self.may_change
                else "No projects yet. An owner or a support member can add one."
            ))
        empty.display = count == 0
        table.display = count > 0

    def row_id(self, row: Row) -> str:
        """A project's id."""
        return row[0].id

    def cell(self, row: Row, column: str) -> str | Text:
        """One cell of a project's row."""
        project, count = row
        if column == "deployed":
            return Text("Yes", style="green") if project.deployed else Text("No", style="dim")
        return self._plain(row, column)

    @staticmethod
    def _plain(row: Row, column: str) -> str:
        project, count = row
        if column == "name":
            return project.name
        if column == "id":
            return project.id
        if column == "keys":
            return str(count)
        return "Yes" if project.deployed else "No"

    # -- actions --------------------------------------------------------------------------

    def action_add_project(self) -> None:
        """Ask for a name and add the project, not deployed."""
        names = {project.name.casefold() for project, _count in self.projects.values()}

        def check(name: str) -> str | None:
            if not name:
                return "Type a name for the project."
            if name.casefold() in names:
                return "A project with this name exists already: choose another name."
            return None

        prompt = TextPrompt(
            "Add a project",
            placeholder="Project name",
            hint="It starts not deployed: press space on it to deploy it.",
            check=check,
            apply=lambda name: self.repo.add_project(name, deployed=False),
        )

        def added(name: str | None) -> None:
            if name is None or not isinstance(prompt.applied, Project):
                return
            self._select_after_load = prompt.applied.id
            self.notify(f"Added project {safe_text(prompt.applied.name)} ({prompt.applied.id})", markup=False)
            self.reload()

        self.app.push_screen(prompt, added)

    def action_toggle_deployed(self) -> None:
        """Mark the project under the cursor deployed, or not deployed."""
        row = self.table.cursor_row
        if row is None:
            return
        project = row[0]
        project_id = project.id
        deployed = not project.deployed

        def done(changed: Project) -> None:
            state = "deployed" if changed.deployed else "not deployed"
            self.notify(f"{safe_text(changed.name)} is now {state}", markup=False)
            self.reload()

        store_call(self, lambda: self.repo.set_project_deployed(project_id, deployed), done)
