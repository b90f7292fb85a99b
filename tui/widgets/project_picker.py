"""Choose a project by typing part of its name or id: an input over a filtered list.

The picker knows nothing of the store: the form gives it the projects, says whether
*All organization projects* may be offered, and adds a project when the picker asks for one.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from store.models import Project
from store.repository import ALL_PROJECTS
from tui.text import literal

from .text_input import TextInput

ALL_OPTION = "__all__"
ADD_OPTION = "__add__"


class ProjectList(OptionList):
    """The list of matching projects; ``up`` on the first one goes back to the search."""

    def action_cursor_up(self) -> None:
        """Move up, or back to the search input from the top of the list."""
        if not self.highlighted:
            picker = self.parent
            if isinstance(picker, ProjectPicker):
                picker.search.focus()
                return
        super().action_cursor_up()


class ProjectPicker(Vertical):
    """An input to search projects by name or id, and the matching projects below it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "to_list", "Projects", show=False),
    ]

    DEFAULT_CSS = """
    ProjectPicker {
        height: auto;
        & > ProjectList {
            height: auto;
            max-height: 6;
            border: none;
            padding: 0 1;
            background: $surface;
        }
        & > #project-choice {
            padding: 0 1;
            color: $text-muted;
        }
        & > #project-choice.-chosen {
            color: $text-success;
        }
    }
    """

    class Picked(Message):
        """A project (or All organization projects) was chosen."""

        def __init__(self, picker: ProjectPicker) -> None:
            super().__init__()
            self.picker = picker

        @property
        def control(self) -> ProjectPicker:
            """The picker that changed."""
            return self.picker

    class AddRequested(Message):
        """The admin asked to add a project with this name."""

        def __init__(self, picker: ProjectPicker, name: str) -> None:
            super().__init__()
            self.picker = picker
            self.name = name

        @property
        def control(self) -> ProjectPicker:
            """The picker that asked."""
            return self.picker

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._projects: list[Project] = []
        self._allow_all = False
        self._loaded = False
        self.choice: str | None = None  # a project id, ALL_OPTION, or None
        self._choice_text = ""

    def compose(self) -> ComposeResult:
        """The search input, the matches and a line saying what is chosen."""
        search = TextInput(placeholder="Type part of a project's name or id", id="project-search")
        search.border_title = "Project"
        yield search
        yield ProjectList(id="project-options")
        yield Label("Loading projects…", id="project-choice", markup=False)

    @property
    def search(self) -> Input:
        """The search input."""
        return self.query_one("#project-search", Input)

    @property
    def options(self) -> ProjectList:
        """The list of matching projects."""
        return self.query_one(ProjectList)

    @property
    def projects(self) -> list[Project]:
        """The projects on offer."""
        return list(self._projects)

    @property
    def all_projects(self) -> bool:
        """Whether All organization projects is chosen."""
        return self.choice == ALL_OPTION

    @property
    def project_id(self) -> str | None:
        """The chosen project's id, or the one project whose name or id was typed in full."""
        if self.choice == ALL_OPTION:
            return None
        if self.choice is not None:
            return self.choice
        typed = self.search.value.strip().casefold()
        exact = [p for p in self._projects if typed in (p.name.casefold(), p.id.casefold())]
        return exact[0].id if typed and len(exact) == 1 else None

    def project(self, project_id: str | None) -> Project | None:
        """The project on offer with this id, if any."""
        return next((p for p in self._projects if p.id == project_id), None)

    def set_projects(self, projects: list[Project]) -> None:
        """Offer these projects (keeping the choice if it is still there)."""
        self._projects = sorted(projects, key=lambda project: project.name.casefold())
        self._loaded = True
        if self.choice not in (None, ALL_OPTION) and not any(p.id == self.choice for p in projects):
            self.choice = None
        self._refresh_options()

    def allow_all(self, allowed: bool) -> None:
        """Offer All organization projects or not (Analytics keys, some roles)."""
        self._allow_all = allowed
        if not allowed and self.choice == ALL_OPTION:
            self.choice = None
        self._refresh_options()

    def choose(self, project_id: str) -> None:
        """Choose a project (or ``ALL_OPTION``) as if the admin had picked it."""
        self.choice = project_id
        if project_id == ALL_OPTION:
            self._choice_text = ALL_PROJECTS
        else:
            project = next((p for p in self._projects if p.id == project_id), None)
            self._choice_text = project.name if project else project_id
        with self.search.prevent(Input.Changed):
            self.search.value = self._choice_text
        self._refresh_options()
        self.post_message(self.Picked(self))

    def _matches(self) -> list[Project]:
        typed = self.search.value.strip().casefold()
        if not typed or typed == self._choice_text.casefold():
            return self._projects
        return [p for p in self._projects if typed in p.name.casefold() or typed in p.id.casefold()]

    def _refresh_options(self) -> None:
        if not self.is_mounted:
            return
        typed = self.search.value.strip()
        matches = self._matches()
        options: list[Option] = []
        if self._allow_all and (not typed or typed.casefold() in ALL_PROJECTS.casefold()
                                or self.choice == ALL_OPTION):
            options.append(Option(
                Text.assemble((ALL_PROJECTS, "italic"), ("  every project", "dim")), id=ALL_OPTION
            ))
        options.extend(Option(_project_prompt(p), id=p.id) for p in matches)
        # Offered only while there is no project at all: with projects, an unmatched search
        # plus enter would otherwise make a project out of a typo.
        if self._loaded and not self._projects:
            prompt = (
                Text.assemble("+ Add project “", literal(typed), "”")
                if typed else Text("+ Add a project (type its name above)")
            )
            options.append(Option(prompt, id=ADD_OPTION))
        option_list = self.options
        option_list.set_options(options)
        ids = [option.id for option in options]
        if self.choice in ids:
            option_list.highlighted = ids.index(self.choice)
        elif typed and matches:
            option_list.highlighted = ids.index(matches[0].id)  # what was typed, not "All"
        else:
            option_list.highlighted = 0 if ids else None
        self._show_choice()

    def _show_choice(self) -> None:
        label = self.query_one("#project-choice", Label)
        label.set_class(self.choice is not None, "-chosen")
        if not self._loaded:
            label.update("Loading projects…")
        elif self.choice == ALL_OPTION:
            label.update(f"✓ {ALL_PROJECTS}")
        elif self.choice is not None:
            project = next((p for p in self._projects if p.id == self.choice), None)
            label.update(Text.assemble("✓ ", _project_prompt(project) if project else self.choice))
        elif not self._projects:
            label.update("No projects yet: type a name and pick “+ Add project”")
        elif self.search.value.strip() and not self._matches():
            label.update(Text.assemble("No project matches “", literal(self.search.value.strip()), "”"))
        else:
            label.update("Type to search, then enter (or ↓) to pick")

    @on(Input.Changed, "#project-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.choice is not None and event.value != self._choice_text:
            self.choice = None  # what is typed no longer names the chosen project
        self._refresh_options()

    @on(Input.Submitted, "#project-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        option_list = self.options
        if option_list.highlighted is not None:
            self._pick(option_list.get_option_at_index(option_list.highlighted))

    @on(OptionList.OptionSelected, "#project-options")
    def _option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._pick(event.option)

    def _pick(self, option: Option) -> None:
        if option.id == ADD_OPTION:
            self.post_message(self.AddRequested(self, self.search.value.strip()))
        elif option.id is not None:
            self.choose(option.id)

    def on_mount(self) -> None:
        """The list of matches shows only while the admin is choosing (it takes 6 lines)."""
        self.options.display = False

    def on_descendant_focus(self) -> None:
        """Choosing: show the matches."""
        self.options.display = True

    def on_descendant_blur(self) -> None:
        """Left the picker: fold the matches away once focus has settled elsewhere."""
        self.call_after_refresh(self._fold_unless_focused)

    def _fold_unless_focused(self) -> None:
        self.options.display = self.has_focus_within

    def action_to_list(self) -> None:
        """From the search input, move into the list of matches."""
        option_list = self.options
        if option_list.option_count:
            option_list.focus()
            if option_list.highlighted is None:
                option_list.highlighted = 0


def _project_prompt(project: Project) -> Text:
    """``Storefront  prj_4f2a9c  not deployed`` with the name shown literally."""
    prompt = Text.assemble(literal(project.name), ("  " + project.id, "dim"))
    if not project.deployed:
        prompt.append("  not deployed", style="yellow")
    return prompt
