"""Checks of what people type and of what the store file holds.

Two kinds of check live here, split out of the models and the repository (issue 11):

* input checks, run when a key, project or member is written: display text, origins, IP
  networks, app identifiers, and the mapping of pydantic errors to one line per field;
* :func:`record_problem`, the cheap check of every stored key record on read. The file may
  have been edited by hand (SPEC §4), and a full pydantic validation costs ~0.8 s at 100,000
  keys, so it checks only the fields the program uses, with their types, and returns a
  reason instead of raising, so a list can flag the record and revoke can still reach it.
"""

from __future__ import annotations

import ipaddress
import re
import sys
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from .errors import InvalidInput

if TYPE_CHECKING:  # pydantic comes with the models that use these; readers need neither
    from pydantic import BaseModel, ValidationError

# C0, DEL, C1, and the bidi embedding/override/isolate/mark characters: any of these would
# reach an admin's terminal and could disguise what a name says.
# Lone surrogates (e.g. from a command line argument that was not UTF-8) are refused too: they
# cannot be written to the store's JSON at all.
_FORBIDDEN_CHARS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)




def describe_char(char: str) -> str:
    """A readable name for a refused character, e.g. ``U+202E (RIGHT-TO-LEFT OVERRIDE)``."""
    fallback = "surrogate" if "\ud800" <= char <= "\udfff" else "control character"
    name = unicodedata.name(char, fallback)
    return f"U+{ord(char):04X} ({name})"


def check_display_text(value: str, *, what: str, max_length: int) -> str:
    """Trim ``value`` and refuse empty, over-long, control or bidi-override text."""
    # Checked before trimming: str.strip() counts \t, \n, \x1c-\x1f and \x85 as white space,
    # so a control character at either end would otherwise be dropped silently, not refused.
    bad = _FORBIDDEN_CHARS.search(value)
    if bad:
        raise ValueError(f"{what} contains {describe_char(bad.group())}, which is not allowed")
    value = value.strip()
    if not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > max_length:
        raise ValueError(f"{what} is {len(value)} characters long; the limit is {max_length}")
    return value




_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_ORIGIN = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>[^/?#]*)/?$")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_origin(value: str) -> str:
    """Check an origin ``scheme://host[:port]`` and return it in canonical lower case.

    ``https`` is required except for localhost and loopback addresses, where ``http`` is
    allowed for local development. A trailing ``/`` is accepted and dropped; any other path,
    query, user name or fragment is refused.
    """
    text = value.strip()
    match = _ORIGIN.match(text)
    if not match:
        raise ValueError(f"{value!r} is not an origin of the form https://host[:port]")
    scheme = match.group("scheme").lower()
    rest = match.group("rest")
    if "@" in rest:
        raise ValueError(f"{value!r} must not contain a user name")
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ValueError(f"{value!r} has an unclosed IPv6 address")
        host, port_text = rest[: end + 1], rest[end + 1 :]
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"{value!r} has an invalid IPv6 address") from None
        host = host.lower()
    else:
        host, _, port = rest.partition(":")
        port_text = f":{port}" if ":" in rest else ""
        host = host.lower().rstrip(".")
        if not host:
            raise ValueError(f"{value!r} has no host")
        if not _is_ipv4(host) and (
            len(host) > 253 or not all(_HOST_LABEL.match(label) for label in host.split("."))
        ):
            raise ValueError(f"{value!r} has an invalid host name")
    if port_text:
        port = port_text[1:]
        # isascii: str.isdigit() is also true for "²" and other non-ASCII digits.
        if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
            raise ValueError(f"{value!r} has an invalid port (1–65535)")
        port_text = f":{int(port)}"
    if scheme not in ("https", "http"):
        raise ValueError(f"{value!r} must use https")
    if scheme == "http" and not is_loopback_host(host):
        raise ValueError(f"{value!r} must use https (http is only for localhost)")
    default_port = {"https": ":443", "http": ":80"}[scheme]
    if port_text == default_port:
        port_text = ""
    return f"{scheme}://{host}{port_text}"


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


# Developing locally means from the developer's own machine or network: a network outside
# these ranges (0.0.0.0/0, ::/0, a public range) would make a Web key verify from anywhere.
LOCAL_NETWORKS = tuple(ipaddress.ip_network(text) for text in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
    "::1/128", "fc00::/7", "fe80::/10",
))
LOCAL_NETWORKS_TEXT = (
    "loopback (127.0.0.0/8, ::1), private (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16), "
    "link-local (169.254.0.0/16, fe80::/10) or unique-local (fc00::/7)"
)


def is_local_network(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """Whether ``network`` lies inside a loopback, private, link-local or unique-local range."""
    return any(
        network.version == allowed.version and network.subnet_of(allowed)  # type: ignore[arg-type]
        for allowed in LOCAL_NETWORKS
    )


def normalise_network(value: str) -> str:
    """Check a local IPv4 or IPv6 network in CIDR form; a bare address means that one host."""
    text = value.strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP network such as 192.168.1.0/24") from None
    if not is_local_network(network):
        raise ValueError(
            f"{value!r} is not a local network: "
            f"developing locally accepts only {LOCAL_NETWORKS_TEXT} networks"
        )
    return str(network)


_BUNDLE_ID = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PACKAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")


def _check_bundle_id(value: str) -> str:
    value = value.strip()
    if len(value) > 155 or not _BUNDLE_ID.match(value):
        raise ValueError(f"{value!r} is not an iOS bundle id such as com.example.app")
    return value


def _check_package_name(value: str) -> str:
    value = value.strip()
    if len(value) > 150 or not _PACKAGE_NAME.match(value):
        raise ValueError(f"{value!r} is not an Android package name such as com.example.app")
    return value




def validation_errors(error: ValidationError) -> dict[str, str]:
    """Map pydantic errors to ``{field: message}`` for forms and one-line CLI errors.

    Model-level validators prefix their message with ``field: `` to name the field.
    """
    errors: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        location = [str(part) for part in item["loc"] if not isinstance(part, int)]
        field = location[-1] if location else "input"
        # Only a bare identifier names a field: a refused value quoted at the start of a
        # message may itself contain ": " (e.g. "'a: b' is not an origin …").
        if ": " in message and message.split(": ", 1)[0].isidentifier():
            field, message = message.split(": ", 1)
        if item["type"] == "missing":
            message = "is required"
        elif item["type"] == "too_short" and field in ("domains",):
            message = "add at least one custom UI domain"
        errors.setdefault(field, message)
    return errors


def validate_or_raise(model: type[BaseModel], data: Any) -> Any:
    """Validate ``data`` as ``model``; on failure raise :class:`InvalidInput` by field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(validation_errors(error)) from None


# -- stored records ---------------------------------------------------------------------------

KNOWN_SCOPES = frozenset(("web", "mobile", "analytics"))
KNOWN_STATUSES = frozenset(("active", "disabled", "revoked"))
_ISO_TIME = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\dZ")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_time_match = _ISO_TIME.fullmatch
_LATE_DAYS = ("29", "30", "31")
_TEXT_FIELDS = ("name", "created_by", "updated_by", "key_prefix")
_TIME_FIELDS = ("created_at", "updated_at")
_OPTIONAL_TIME_FIELDS = ("revoked_at", "expires_at", "last_used_at")
_OPTIONAL_TEXT_FIELDS = ("project_id", "revoked_by")
_WEB_LISTS = ("domains", "networks")
_WEB_FLAGS = ("developing_locally", "cross_page_persistence")
_MOBILE_LISTS = ("ios_bundle_ids", "android_packages")


def listable(record: Any, table_key: str) -> bool:
    """The part of :func:`record_problem` that lists need before they can sort and filter:
    the record is an object whose id, creator, creation time, status and scope have the
    right types (~0.5 µs; the rest is checked when a view's ``problem`` is first read)."""
    return (
        type(record) is dict
        and record.get("id") == table_key
        and type(record.get("created_by")) is str
        and type(record.get("created_at")) is str
        and type(record.get("name")) is str
        and record.get("status") in _STATUS_TEXT
        and record.get("scope") in _SCOPE_TEXT
        and type(record.get("project_id", "")) in (str, type(None))  # a list would not hash
    )


def record_problem(record: Any, table_key: str) -> str | None:
    """Why a stored key record cannot be trusted, or None when it can (~1.5 µs).

    Checks the fields the program reads, with their types: a hand-edited record with an
    unknown status, a bad date, a number where text belongs or an ``id`` that differs from
    its table key is named here, never treated as valid and never a crash.
    """
    if _looks_fine(record, table_key):
        return None
    return _record_problem(record, table_key)


def _looks_fine(record: Any, table_key: str) -> bool:
    """The common case in one pass, with as few calls as possible (~1.5 µs, a third of the
    field-by-field check): a CLI list of 100,000 keys reads every view's ``problem``."""
    try:
        times = [record["created_at"], record["updated_at"]]
        for field in _OPTIONAL_TIME_FIELDS:
            value = record.get(field)
            if value is not None:
                times.append(value)
        for value in times:
            if type(value) is not str or _time_match(value) is None or (
                value[8:10] in _LATE_DAYS and not _is_calendar_date(value)
            ):
                return False
        if not (
            record["id"] == table_key
            and type(record["name"]) is str
            and type(record["created_by"]) is str
            and type(record["updated_by"]) is str
            and type(record["key_prefix"]) is str
            and type(record.get("project_id", "")) is str
            and type(record.get("revoked_by", "")) is str
            and type(record.get("secret", "")) is str
            and type(record.get("revision", 0)) is int
            and record["revision"] >= 0
            and type(record["status"]) is str
            and record["status"] in KNOWN_STATUSES
            and type(record["secret_hash"]) is str
            and len(record["secret_hash"]) == 64
        ):
            return False
        scope = record["scope"]
        if scope == "analytics":
            return True
        if scope == "web":
            web = record["web"]
            return (
                type(web) is dict
                and type(web.get("developing_locally", False)) is bool
                and type(web.get("cross_page_persistence", False)) is bool
                and _texts(web.get("domains", ())) and _texts(web.get("networks", ()))
            )
        if scope == "mobile":
            mobile = record["mobile"]
            return type(mobile) is dict and _texts(mobile.get("ios_bundle_ids", ())) and _texts(
                mobile.get("android_packages", ())
            )
        return False
    except (KeyError, TypeError, AttributeError):
        return False


def _texts(values: Any) -> bool:
    if type(values) is not list and values != ():
        return False
    return all(type(value) is str for value in values)


_STATUS_TEXT = {status: True for status in ("active", "disabled", "revoked")}
_SCOPE_TEXT = {scope: True for scope in ("web", "mobile", "analytics")}


def _is_time(value: Any) -> bool:
    return type(value) is str and len(value) == 20 and _ISO_TIME.fullmatch(value) is not None and (
        value[8:10] not in _LATE_DAYS or _is_calendar_date(value)
    )


def _is_calendar_date(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


def _settings_fine(record: dict[str, Any]) -> bool:
    scope = record["scope"]
    if scope == "web":
        return _settings_problem(record.get("web"), "web", _WEB_LISTS, _WEB_FLAGS) is None
    if scope == "mobile":
        return _settings_problem(record.get("mobile"), "mobile", _MOBILE_LISTS, ()) is None
    return True


def _record_problem(record: Any, table_key: str) -> str | None:
    """:func:`record_problem` field by field, to name what is wrong."""
    if type(record) is not dict:
        return "not a record"
    key_id = record.get("id")
    if key_id != table_key:
        return f"its id {_shown(key_id)} differs from its table key"
    for field in _TEXT_FIELDS:
        if type(record.get(field)) is not str:
            return _wrong(field, record.get(field), "text")
    for field in _TIME_FIELDS:
        value = record.get(field)
        if not _is_time(value):
            return _wrong(field, value, "a time such as 2026-12-01T09:30:00Z")
    for field in _OPTIONAL_TIME_FIELDS:
        value = record.get(field)
        if value is not None and not _is_time(value):
            return _wrong(field, value, "a time such as 2026-12-01T09:30:00Z")
    for field in _OPTIONAL_TEXT_FIELDS:
        value = record.get(field)
        if value is not None and type(value) is not str:
            return _wrong(field, value, "text")
    scope = record.get("scope")
    if scope not in KNOWN_SCOPES or type(scope) is not str:
        return f"unknown scope {_shown(scope)}"
    status = record.get("status")
    if status not in KNOWN_STATUSES or type(status) is not str:
        return f"unknown status {_shown(status)}"
    secret_hash = record.get("secret_hash")
    if type(secret_hash) is not str or not _SHA256.fullmatch(secret_hash):
        return _wrong("secret_hash", None, "a SHA-256 in hex")
    secret = record.get("secret")
    if secret is not None and type(secret) is not str:
        return _wrong("secret", None, "text")
    revision = record.get("revision", 0)
    if type(revision) is not int or revision < 0:
        return _wrong("revision", revision, "a whole number")
    if scope == "web":
        return _settings_problem(record.get("web"), "web", _WEB_LISTS, _WEB_FLAGS)
    if scope == "mobile":
        return _settings_problem(record.get("mobile"), "mobile", _MOBILE_LISTS, ())
    return None


def _settings_problem(
    settings: Any, name: str, lists: tuple[str, ...], flags: tuple[str, ...]
) -> str | None:
    if type(settings) is not dict:
        return f"its {name} settings are missing or not an object"
    for field in lists:
        values = settings.get(field, [])
        if type(values) is not list or any(type(value) is not str for value in values):
            return _wrong(f"{name}.{field}", None, "a list of text")
    for field in flags:
        if type(settings.get(field, False)) is not bool:
            return _wrong(f"{name}.{field}", settings.get(field), "true or false")
    return None


def _wrong(field: str, value: Any, expected: str) -> str:
    shown = "" if value is None else f" {_shown(value)}"
    return f"{field}{shown} is not {expected}"


def _shown(value: Any) -> str:
    """A stored value for an error message: short, quoted, no control characters."""
    text = repr(value)
    text = _FORBIDDEN_CHARS.sub("\ufffd", text)
    return text if len(text) <= 40 else text[:39] + "…"


_EPOCH = "1970-01-01T00:00:00Z"


def readable_record(record: Any, table_key: str) -> dict[str, Any]:
    """A record that failed :func:`record_problem`, made safe to list, sort and revoke.

    Each field the views read gets its stored value when it has the right type, else a
    stand-in (text is shown as text, a bad time as the epoch, a missing one as absent). The
    id is always the table key, the one thing revoke needs. Only for flagged records: never
    written back, never verified.
    """
    source = record if type(record) is dict else {}
    readable: dict[str, Any] = {"id": table_key}
    for field in _TEXT_FIELDS:
        value = source.get(field)
        readable[field] = value if type(value) is str else ("" if value is None else _shown(value))
    for field in _TIME_FIELDS:
        value = source.get(field)
        readable[field] = value if _is_time(value) else _EPOCH
    for field in _OPTIONAL_TIME_FIELDS:
        value = source.get(field)
        if _is_time(value):
            readable[field] = value
    for field in _OPTIONAL_TEXT_FIELDS:
        value = source.get(field)
        if type(value) is str:
            readable[field] = value
    scope, status = source.get("scope"), source.get("status")
    readable["scope"] = scope if type(scope) is str else _shown(scope)
    readable["status"] = status if type(status) is str else _shown(status)
    revision = source.get("revision")
    readable["revision"] = revision if type(revision) is int else 0
    return readable


def is_validation_error(error: BaseException) -> TypeGuard[ValidationError]:
    """Whether ``error`` is pydantic's ``ValidationError``, without importing pydantic: a
    program that never loaded it (the UI's start, a read) cannot have raised one."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(error, pydantic.ValidationError)
