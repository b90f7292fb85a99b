"""The fields of a key, shared by Create key and Edit key: name and per-scope settings.

:class:`KeyFields` shows a key's name and the settings of the scopes it is given, starting from
:class:`FieldValues`, and reads back what the admin typed as :class:`FieldValues` again. The
forms build a draft or the changes from that; errors from the store come back through
:meth:`KeyFields.show_errors`, each under the field it concerns. Widgets a form wants between
the name and the settings (the scope choice and project picker of Create) are passed in as
``between``, so the fields know nothing of which form they are in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Static, Switch

from store.lifecycle import parse_expiry
from store.models import NAME_MAX, NO_EXPIRY, ApiKey, Scope
from tui.text import literal
from tui.widgets.choice_set import ChoiceSet

from .text_input import TextInput

# Which error label shows a store error, and which widget gets focus for it, in form order.
# Keys not listed here (``input``, ``key``, …) go to the form's general error line.
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
    "expires_at": ("expires_at", "#expires-at"),
}
FORM_ORDER = [
    "name", "scope", "project", "domains", "networks", "ios_bundle_ids", "android_packages",
    "platforms", "expires_days", "expires_at",
]
SCOPE_GROUPS = {
    Scope.WEB: "#web-fields", Scope.MOBILE: "#mobile-fields", Scope.ANALYTICS: "#analytics-fields",
}
FIRST_FIELD = {Scope.WEB: "#domains", Scope.MOBILE: "#ios", Scope.ANALYTICS: "#expires"}
EXPIRY_CHOICES = (("30", "30 days"), ("60", "60 days"), ("90", "90 days"))
DEFAULT_EXPIRY_DAYS = 30


def shown_expiry(expires_at: str) -> str:
    """A stored expiry as the field shows it: the date, or the date and time when the key
    does not expire at midnight UTC (so saving it unchanged changes nothing)."""
    if expires_at[11:19] == "00:00:00":
        return expires_at[:10]
    return expires_at


def split_list(text: str) -> list[str]:
    """``"a, b  c"`` → ``["a", "b", "c"]``: commas or spaces separate entries."""
    return [item for item in re.split(r"[\s,]+", text) if item]


def error_label(name: str) -> Label:
    """An empty, hidden error line for ``name`` (shown under its field when refused)."""
    label = Label("", id=f"{name}-error", classes="field-error", markup=False)
    label.display = False
    return label


def with_title(widget: Widget, title: str) -> Widget:
    """Label a field through its border title: one line less than a label above it."""
    widget.border_title = title
    return widget


@dataclass
class FieldValues:
    """What the fields hold: the name and the settings of every scope, as plain data."""

    name: str = ""
    domains: list[str] = field(default_factory=list)
    developing_locally: bool = False
    networks: list[str] = field(default_factory=list)
    cross_page_persistence: bool = False
    ios_bundle_ids: list[str] = field(default_factory=list)
    android_packages: list[str] = field(default_factory=list)
    expires_days: int = DEFAULT_EXPIRY_DAYS
    expires_at: str = ""  # Web and Mobile: as typed (empty: no expiry)

    @classmethod
    def of_key(cls, key: ApiKey) -> FieldValues:
        """The values of an existing key, as the edit form opens with them."""
        values = cls(name=key.name)
        if key.web is not None:
            values.domains = list(key.web.domains)
            values.developing_locally = key.web.developing_locally
            values.networks = list(key.web.networks)
            values.cross_page_persistence = key.web.cross_page_persistence
        if key.mobile is not None:
            values.ios_bundle_ids = list(key.mobile.ios_bundle_ids)
            values.android_packages = list(key.mobile.android_packages)
        if key.expires_at and key.scope is not Scope.ANALYTICS:
            values.expires_at = shown_expiry(key.expires_at)
        return values

    def expiry(self, now: datetime) -> str:
        """The typed expiry as the store takes it: an ISO time, or ``never`` when empty.

        ValueError (from :func:`store.lifecycle.parse_expiry`) says what is accepted."""
        text = self.expires_at.strip()
        return NO_EXPIRY if not text else parse_expiry(text, now)

    def web(self) -> dict[str, Any]:
        """The Web settings as a :class:`~store.models.WebSettings` dict.

        Turning *developing locally* off drops the IP networks, as the command line does.
        """
        return {
            "domains": self.domains,
            "developing_locally": self.developing_locally,
            "networks": self.networks if self.developing_locally else [],
            "cross_page_persistence": self.cross_page_persistence,
        }

    def mobile(self) -> dict[str, Any]:
        """The Mobile settings as a :class:`~store.models.MobileSettings` dict."""
        return {"ios_bundle_ids": self.ios_bundle_ids, "android_packages": self.android_packages}

    def settings(self, scope: Scope) -> dict[str, Any]:
        """The draft fields of ``scope``: ``web``, ``mobile`` or ``expires_days``."""
        if scope is Scope.WEB:
            return {"web": self.web()}
        if scope is Scope.MOBILE:
            return {"mobile": self.mobile()}
        return {"expires_days": self.expires_days}


class KeyFields(Vertical):
    """A key's name, then ``between``, then the settings of each of ``scopes``.

    Only the settings of the shown scope are visible (:meth:`show_scope`).
    """

    DEFAULT_CSS = """
    KeyFields {
        height: auto;
        & Input, & ChoiceSet {
            border: round $border-blurred;
            border-title-color: $text-muted;
        }
        & Input:focus, & ChoiceSet:focus {
            border: round $border;
            border-title-color: $text;
        }
        & .scope-fields, & #networks-field {
            height: auto;
        }
        & #networks-field, & #expiry-fields {
            margin-top: 1;
        }
        & .hint {
            color: $text-muted;
            padding: 0 1;
        }
        & .field-error {
            color: $text-error;
            padding: 0 1;
            width: 1fr;
        }
        & .toggle-row {
            height: 1;
            margin: 1 0 0 1;
        }
        & .toggle-row Switch {
            border: none;
            padding: 0;
            height: 1;
            width: auto;
        }
        & .toggle-row Switch:focus {
            background: $block-cursor-background 40%;
        }
        & .toggle-label {
            margin-left: 1;
        }
    }
    """

    def __init__(
        self,
        values: FieldValues,
        scopes: Iterable[Scope],
        *,
        between: Iterable[Widget] = (),
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.initial = values
        self.scopes = list(scopes)
        self.scope = self.scopes[0]
        self.between = list(between)

    def compose(self) -> ComposeResult:
        """Name, ``between``, then each scope's settings."""
        values = self.initial
        yield with_title(TextInput(
            value=values.name, placeholder="e.g. Checkout widget", max_length=NAME_MAX, id="name",
        ), "Name")
        yield error_label("name")
        yield from self.between
        composers = {Scope.WEB: self._web, Scope.MOBILE: self._mobile, Scope.ANALYTICS: self._analytics}
        for scope in self.scopes:
            yield from composers[scope](values)
        if Scope.WEB in self.scopes or Scope.MOBILE in self.scopes:
            yield from self._expiry(values)

    def _expiry(self, values: FieldValues) -> ComposeResult:
        with Vertical(id="expiry-fields", classes="scope-fields"):
            yield with_title(TextInput(
                value=values.expires_at, placeholder="never (default) · 30d · 2027-01-31",
                id="expires-at",
            ), "Expires (optional)")
            yield error_label("expires_at")
            yield Static("30d: 30 days from now · a date: 00:00 UTC that day · empty: never",
                         classes="hint")

    def _web(self, values: FieldValues) -> ComposeResult:
        with Vertical(id="web-fields", classes="scope-fields"):
            yield with_title(TextInput(
                value=", ".join(values.domains),
                placeholder="https://app.example.com, https://www.example.com", id="domains",
            ), "Custom UI domains")
            yield error_label("domains")
            yield Static("Origins (https://host[:port]), separated by commas or spaces", classes="hint")
            with Horizontal(classes="toggle-row"):
                yield Switch(value=values.developing_locally, id="developing-locally")
                yield Label("I'm developing locally", classes="toggle-label")
            with Vertical(id="networks-field"):
                yield with_title(TextInput(
                    value=", ".join(values.networks), placeholder="127.0.0.1/32, 192.168.0.0/16",
                    id="networks",
                ), "IP networks (CIDR, comma separated)")
                yield error_label("networks")
            with Horizontal(classes="toggle-row"):
                yield Switch(value=values.cross_page_persistence, id="cross-page")
                yield Label("Enable cross page persistence", classes="toggle-label")

    def _mobile(self, values: FieldValues) -> ComposeResult:
        with Vertical(id="mobile-fields", classes="scope-fields"):
            yield with_title(TextInput(
                value=", ".join(values.ios_bundle_ids), placeholder="com.example.app", id="ios",
            ), "iOS bundle ids")
            yield error_label("ios_bundle_ids")
            yield with_title(TextInput(
                value=", ".join(values.android_packages), placeholder="com.example.app", id="android",
            ), "Android package names")
            yield error_label("android_packages")
            yield Static("Comma separated; at least one iOS or Android app", classes="hint")
            yield error_label("platforms")

    def _analytics(self, values: FieldValues) -> ComposeResult:
        with Vertical(id="analytics-fields", classes="scope-fields"):
            yield with_title(ChoiceSet(*EXPIRY_CHOICES, value=str(values.expires_days), id="expires"),
                             "Expires after")
            yield error_label("expires_days")
            yield Static("The secret of an Analytics key is shown once, at creation.", classes="hint")

    def on_mount(self) -> None:
        """Show the first scope's settings, and the networks only when developing locally."""
        self.show_scope(self.scope)
        self._show_networks()

    # -- what is shown --------------------------------------------------------------------

    def show_scope(self, scope: Scope) -> None:
        """Show the settings of ``scope`` and hide the others."""
        self.scope = scope
        for each, selector in SCOPE_GROUPS.items():
            for group in self.query(selector):
                group.display = each is scope
        for group in self.query("#expiry-fields"):
            group.display = scope is not Scope.ANALYTICS

    def focus_settings(self) -> None:
        """Focus the first setting of the shown scope."""
        self.query_one(FIRST_FIELD[self.scope]).focus()

    @on(Switch.Changed, "#developing-locally")
    def _developing_locally_changed(self) -> None:
        self._show_networks()

    def _show_networks(self) -> None:
        for switch in self.query("#developing-locally").results(Switch):
            networks = self.query_one("#networks-field")
            networks.display = switch.value
            if switch.value:
                networks.call_after_refresh(networks.scroll_visible)

    # -- what the admin typed -------------------------------------------------------------

    def values(self) -> FieldValues:
        """What the fields say now (fields of scopes not composed keep their initial value)."""
        values = FieldValues(name=self.query_one("#name", Input).value)
        initial = self.initial
        if Scope.WEB in self.scopes:
            values.domains = split_list(self.query_one("#domains", Input).value)
            values.developing_locally = self.query_one("#developing-locally", Switch).value
            values.networks = split_list(self.query_one("#networks", Input).value)
            values.cross_page_persistence = self.query_one("#cross-page", Switch).value
        if Scope.MOBILE in self.scopes:
            values.ios_bundle_ids = split_list(self.query_one("#ios", Input).value)
            values.android_packages = split_list(self.query_one("#android", Input).value)
        for typed in self.query("#expires-at").results(Input):
            values.expires_at = typed.value
        if Scope.ANALYTICS in self.scopes:
            expiry = self.query_one("#expires", ChoiceSet).value
            values.expires_days = int(expiry) if expiry else initial.expires_days
        return values

    def state(self) -> tuple[tuple[str | None, object], ...]:
        """Every control's value, to tell whether the admin changed anything."""
        return tuple(
            (widget.id, getattr(widget, "value", None))
            for widget in self.query("Input, Switch, ChoiceSet")
        )

    # -- errors ---------------------------------------------------------------------------

    def show_errors(self, errors: dict[str, str]) -> list[str]:
        """Show each message under its field and focus the first; return the messages that
        belong to no shown field (the form puts them on its general line)."""
        general: list[str] = []
        shown: dict[str, str] = {}
        for name, message in errors.items():
            target = ERROR_FIELDS.get(name)
            if target is None or not self.query(f"#{target[0]}-error") or target[0] in shown:
                general.append(message)
                continue
            label_name, focus = target
            if not self._visible(focus):
                general.append(message)
                continue
            shown[label_name] = focus
            self.show_error(label_name, message)
        first = next((name for name in FORM_ORDER if name in shown), None)
        if first is not None:
            self.query_one(shown[first]).focus()
            error = self.query_one(f"#{first}-error")
            self.call_after_refresh(error.scroll_visible, animate=False)
        return general

    def _visible(self, selector: str) -> bool:
        widgets = self.query(selector)
        if not widgets:
            return False
        widget: Widget | None = widgets.first()
        while widget is not None and widget is not self:
            if not widget.display:
                return False
            parent = widget.parent
            widget = parent if isinstance(parent, Widget) else None
        return True

    def show_error(self, name: str, message: str) -> None:
        """Show ``message`` (plain text) under the field ``name``."""
        label = self.query_one(f"#{name}-error", Label)
        label.update(literal(message))
        label.display = True

    def hide_error(self, name: str) -> None:
        """Hide the error under the field ``name``."""
        for label in self.query(f"#{name}-error").results(Label):
            label.update("")
            label.display = False

    def clear_errors(self) -> None:
        """Hide every field's error."""
        for label in self.query(".field-error").results(Label):
            label.update("")
            label.display = False
