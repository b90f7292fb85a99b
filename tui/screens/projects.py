"""Projects: every project with its id, whether it is deployed and how many keys it has.

Owners and support add projects and toggle *deployed*; other roles read. The rules come from
:mod:`store.access`, so the screen and the command line never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from store import access
from store.errors import Forbidden
from store.models import Member, Project

from ..text import literal, safe_text
from ..workers import store_call
from .live import LiveScreen, cursor_key, flex_width, move_cursor_to
from .prompts import TextPrompt

ID_WIDTH = 10
DEPLOYED_WIDTH = 8
KEYS_WIDTH = 6
NAME_MIN_WIDTH = 12


@dataclass(frozen=True)
class ProjectsLoaded:
    """What the screen shows: the acting member and every project with its key count."""

    me: Member
    projects: list[tuple[Project, int]]


class ProjectsScreen(LiveScreen[ProjectsLoaded]):
    """The projects of the organisation (``p`` from the main screen)."""

    TITLE = "Projects"
    AUTO_FOCUS = "DataTable"
    DEFAULT_CSS = """
    ProjectsScreen > #projects-summary { height: 1; padding: 0 1; color: $text-muted; }
    ProjectsScreen > #no-projects { padding: 1 2; }
    ProjectsScreen > DataTable { height: 1fr; }
    """
    # Each action has a hidden twin that runs when check_action hides the action, so a
    # member who presses the key anyway is told why.
    BINDINGS = [
        Binding("n", "add_project", "Add project"),
        Binding("n", "refuse('add projects')", show=False),
        Binding("space", "toggle_deployed", "Deploy on/off"),
        Binding("space", "refuse('change projects')", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.me: Member | None = None
        self.projects: dict[str, tuple[Project, int]] = {}
        self._order: list[str] = []
        self._select_after_load: str | None = None
        self._name_width = 0

    def compose(self) -> ComposeResult:
        """Header, a summary line, the table (or the empty state), footer."""
        yield Header()
        yield Static("Loading projects…", id="projects-summary", classes="summary")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="no-projects")
        yield Footer()

    def on_mount(self) -> None:
        """Hide the empty state until the first load says there is nothing."""
        # LiveScreen.on_mount runs as well: Textual calls the handler of every class.
        self.query_one("#no-projects").display = False

    # -- loading ----------------------------------------------------------------------

    def fetch(self) -> ProjectsLoaded:
        """The acting member and the projects (worker thread)."""
        return ProjectsLoaded(me=self.repo.me(), projects=self.repo.list_projects())

    def show(self, data: ProjectsLoaded) -> None:
        """Fill the table, keeping the cursor on the same project."""
        self.me = data.me
        self.projects = {project.id: (project, count) for project, count in data.projects}
        self._order = [project.id for project, _count in data.projects]
        table = self.query_one(DataTable)
        keep = self._select_after_load or cursor_key(table)
        self._select_after_load = None
        self._fill(keep)
        count = len(self._order)
        summary = f"{count} project{'s' if count != 1 else ''}"
        if not self.may_manage:
            summary += " · read only: owners and support manage projects"
        self.query_one("#projects-summary", Static).update(literal(summary))
        empty = self.query_one("#no-projects", Static)
        if count == 0:
            empty.update(literal(
                "No projects yet. Press n to add one." if self.may_manage
                else "No projects yet. An owner or a support member can add one."
            ))
        empty.display = count == 0
        table.display = count > 0

    def _fill(self, keep: str | None) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        fallback = table.cursor_row
        self._name_width = self._wanted_name_width()
        table.clear(columns=True)
        table.add_column("Name", width=self._name_width, key="name")
        table.add_column("ID", width=ID_WIDTH, key="id")
        table.add_column("Deployed", width=DEPLOYED_WIDTH, key="deployed")
        table.add_column("Keys", width=KEYS_WIDTH, key="keys")
        for project_id in self._order:
            project, count = self.projects[project_id]
            table.add_row(*self._cells(project, count), key=project_id)
        move_cursor_to(table, keep, fallback)

    @staticmethod
    def _cells(project: Project, count: int) -> tuple[Text, ...]:
        name = literal(project.name)
        name.no_wrap, name.overflow = True, "ellipsis"
        deployed = Text("Yes", style="green") if project.deployed else Text("No", style="dim")
        return (name, literal(project.id), deployed, Text(str(count)))

    def _wanted_name_width(self) -> int:
        longest = max((len(project.name) for project, _ in self.projects.values()), default=0)
        room = flex_width(self.size.width, [ID_WIDTH, DEPLOYED_WIDTH, KEYS_WIDTH], NAME_MIN_WIDTH)
        return max(NAME_MIN_WIDTH, min(room, max(longest, len("Name"))))

    def on_resize(self) -> None:
        """Give the name column the room a wider (or narrower) terminal has."""
        if self.loaded and self._wanted_name_width() != self._name_width:
            self._fill(cursor_key(self.query_one(DataTable)))

    # -- who may do what ----------------------------------------------------------------

    @property
    def may_manage(self) -> bool:
        """Whether the acting member may add and change projects (owner or support)."""
        return self.me is not None and self.me.role in access.MANAGES_PROJECTS

    def _refusal(self, action: str) -> str:
        """The store's own words for refusing ``action`` to the acting member."""
        if self.me is None:
            return "the projects are still loading"
        try:
            access.require_project_manager(self.me.login, self.me.role, action)
        except Forbidden as error:
            return str(error)
        return ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide changes from members who may not make them; grey toggle without a row."""
        if action == "add_project":
            return self.may_manage
        if action == "toggle_deployed":
            if not self.may_manage:
                return False
            return True if self.projects else None
        if action == "refuse":
            return not self.may_manage
        return True

    def action_refuse(self, action: str) -> None:
        """Say why the pressed action is not available to this member."""
        self.notify(self._refusal(action), severity="warning", markup=False)

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
        project_id = cursor_key(self.query_one(DataTable))
        if project_id is None or project_id not in self.projects:
            return
        project, _count = self.projects[project_id]
        deployed = not project.deployed

        def done(changed: Project) -> None:
            state = "deployed" if changed.deployed else "not deployed"
            self.notify(f"{safe_text(changed.name)} is now {state}", markup=False)
            self.reload()

        store_call(self, lambda: self.repo.set_project_deployed(project_id, deployed), done)
