"""What the store accepts: names, origins, networks and drafts (property tests with hypothesis).

Refusals come as pydantic's ``ValidationError`` from the models and as :class:`InvalidInput`
(with the field it concerns) from the repository; nothing else escapes, and nothing is written.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conftest import analytics_draft, mobile_draft, web_draft
from store.audit import audit_path
from store.errors import InvalidInput
from store.models import NAME_MAX, KeyChanges, KeyDraft, WebSettings, validation_errors
from store.repository import Repository
from store.validation import LOCAL_NETWORKS

# Under a loaded test run one example may take longer than hypothesis's 200 ms deadline.
NO_DEADLINE = settings(deadline=None)
# Hypothesis shares one store between the examples of a test: each example checks the file.
SHARED_STORE = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

FORBIDDEN = (
    [chr(code) for code in range(0x00, 0x20)]
    + [chr(code) for code in range(0x7F, 0xA0)]
    + ["\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]
)
# Letters, marks, digits, punctuation, symbols and the space: what str.isprintable() accepts.
PRINTABLE = st.one_of(st.characters(categories=["L", "M", "N", "P", "S"]), st.just(" "))


def snapshot(store_path: Path) -> tuple[bytes, bytes]:
    """The store file's and the audit trail's bytes, to show that nothing was written."""
    trail = audit_path(store_path)
    return store_path.read_bytes(), trail.read_bytes() if trail.exists() else b""


def draft_named(name: str) -> dict:
    """An Analytics draft (the cheapest to validate) with this name."""
    return {"name": name, "scope": "analytics", "project_id": "Storefront", "expires_days": 30}


# -- names -------------------------------------------------------------------------------

@NO_DEADLINE
@given(before=st.text(), bad=st.sampled_from(FORBIDDEN), after=st.text())
@example(before="", bad="\n", after="")
@example(before="invoice ", bad="\x1b", after="[31m red")
@example(before="trailing", bad="\x85", after="")  # NEL: str.strip() would drop it
@example(before="", bad="\u202e", after="gnp.exe")
def test_a_name_with_a_control_or_bidi_character_is_refused(
    before: str, bad: str, after: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        KeyDraft.model_validate(draft_named(before + bad + after))
    assert "name" in validation_errors(refused.value)
    with pytest.raises(ValidationError):
        KeyChanges.model_validate({"name": before + bad + after})


def test_a_lone_surrogate_is_refused_not_a_crash_when_written(
    owner_repo: Repository, store_path: Path
) -> None:
    # A command line argument that is not UTF-8 arrives as a lone surrogate (surrogateescape);
    # JSON cannot hold one, so it must be refused before the write, with the field named.
    before = snapshot(store_path)
    with pytest.raises(InvalidInput) as refused:
        owner_repo.create_key(draft_named("caf\udce9"))
    assert set(refused.value.errors) == {"name"}
    assert "U+DCE9" in str(refused.value)
    assert snapshot(store_path) == before


@NO_DEADLINE
@given(
    name=st.text(PRINTABLE, min_size=1, max_size=NAME_MAX),
    padding=st.sampled_from(["", " ", "  \u3000"]),
)
@example(name="[/]", padding="")
@example(name="[@click=app.quit]x", padding="")
@example(name="[bold]x[/]", padding=" ")
@example(name="🔑 Zahlungs-API 👨‍👩‍👧", padding="")
@example(name="結帳小工具", padding="")
@example(name="x" * NAME_MAX, padding="  ")
def test_a_printable_name_is_accepted_and_kept_exactly(name: str, padding: str) -> None:
    assume(name.strip() == name)
    draft = KeyDraft.model_validate(draft_named(padding + name + padding))
    assert draft.name == name


@SHARED_STORE
@given(name=st.text(PRINTABLE, min_size=1, max_size=NAME_MAX))
@example(name="[/]")
@example(name="[@click=app.quit]x")
@example(name="[bold]x[/]")
@example(name="👨‍👩‍👧 ключ 結帳")
def test_a_name_round_trips_through_the_store(
    owner_repo: Repository, store_path: Path, name: str
) -> None:
    assume(name.strip() == name)
    created = owner_repo.create_key(draft_named(name))
    # A new process reads back exactly what was given.
    again = Repository(store_path, owner_repo.login)
    assert again.get_key(created.key.id).name == name
    assert [view.name for view in again.list_keys() if view.id == created.key.id] == [name]


@NO_DEADLINE
@given(name=st.text(PRINTABLE, min_size=NAME_MAX + 1, max_size=NAME_MAX + 40))
def test_a_name_longer_than_64_characters_is_refused(name: str) -> None:
    assume(len(name.strip()) > NAME_MAX)
    with pytest.raises(ValidationError) as refused:
        KeyDraft.model_validate(draft_named(name))
    assert "64" in validation_errors(refused.value)["name"]


@pytest.mark.parametrize("name", ["", "   ", "\u3000"])
def test_an_empty_name_is_refused(name: str) -> None:
    with pytest.raises(ValidationError) as refused:
        KeyDraft.model_validate(draft_named(name))
    assert "name" in validation_errors(refused.value)


# -- origins -----------------------------------------------------------------------------

LABEL = st.from_regex(r"\A[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?\Z")
TOP_LEVEL = st.from_regex(r"\A[a-zA-Z]{2,8}\Z").filter(lambda label: label.lower() != "localhost")
HOST = st.builds(
    lambda labels, top: ".".join([*labels, top]), st.lists(LABEL, min_size=1, max_size=3), TOP_LEVEL
)
PORT = st.one_of(st.none(), st.integers(1, 65535), st.just(443))


def origin_text(scheme: str, host: str, port: int | None, slash: bool) -> str:
    """``scheme://host[:port][/]``."""
    return f"{scheme}://{host}{'' if port is None else f':{port}'}{'/' if slash else ''}"


def web_settings(*domains: str) -> WebSettings:
    """Validate Web settings with these domains."""
    return WebSettings.model_validate({"domains": list(domains)})


@NO_DEADLINE
@given(host=HOST, port=PORT, scheme=st.sampled_from(["https", "HTTPS", "Https"]), slash=st.booleans())
def test_an_https_origin_is_accepted_and_normalised(
    host: str, port: int | None, scheme: str, slash: bool
) -> None:
    settings_ = web_settings(origin_text(scheme, host, port, slash))
    expected_port = "" if port in (None, 443) else f":{port}"
    assert settings_.domains == [f"https://{host.lower()}{expected_port}"]


@NO_DEADLINE
@given(
    host=st.one_of(
        st.sampled_from(["localhost", "LocalHost", "[::1]", "127.0.0.1"]),
        st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(
            lambda parts: "127." + ".".join(map(str, parts))
        ),
    ),
    port=st.one_of(st.none(), st.integers(1, 65535), st.just(80)),
)
def test_http_is_accepted_for_loopback_only(host: str, port: int | None) -> None:
    settings_ = web_settings(origin_text("http", host, port, False))
    expected_port = "" if port in (None, 80) else f":{port}"
    assert settings_.domains == [f"http://{host.lower()}{expected_port}"]


@NO_DEADLINE
@given(host=HOST, port=PORT)
@example(host="192.0.2.10", port=None)
@example(host="10.0.0.1", port=8080)
def test_http_is_refused_for_any_other_host(host: str, port: int | None) -> None:
    with pytest.raises(ValidationError) as refused:
        web_settings(origin_text("http", host, port, False))
    assert "https" in validation_errors(refused.value)["domains"]


@NO_DEADLINE
@given(text=st.text(max_size=60))
@example(text="shop.example.com")
@example(text="https://shop.example.com/checkout")
@example(text="https://shop.example.com?x=1")
@example(text="https://shop.example.com#top")
@example(text="https://user@shop.example.com")
@example(text="https://shop.example.com:0")
@example(text="https://shop.example.com:65536")
@example(text="https://shop.example.com:²")
@example(text="https://shop.example.com:١٢٣")
@example(text="https://shop.exa mple.com")
@example(text="https://bücher.example")
@example(text="ftp://shop.example.com")
@example(text="https://[::1")
@example(text="https://[nope]")
@example(text="https://-bad-.example.com")
@example(text="https://")
@example(text="x: y")
@example(text="'https://a: b'")
def test_garbage_origins_are_refused_cleanly(text: str) -> None:
    try:
        settings_ = web_settings(text)
    except ValidationError as refused:
        assert set(validation_errors(refused)) == {"domains"}
        return
    # The rare text that is a valid origin comes back canonical.
    (origin,) = settings_.domains
    assert origin.startswith(("https://", "http://"))
    assert origin == origin.lower() and origin.isascii()


@SHARED_STORE
@given(text=st.text(max_size=40))
@example(text="x: y")
@example(text="https://shop.example.com:²")
def test_the_repository_refuses_a_bad_origin_by_field_and_writes_nothing(
    owner_repo: Repository, store_path: Path, text: str
) -> None:
    before = snapshot(store_path)
    try:
        created = owner_repo.create_key(web_draft(domains=[text]))
    except InvalidInput as refused:
        assert set(refused.errors) == {"domains"}
        assert "\n" not in str(refused)
        assert snapshot(store_path) == before
    else:
        assert created.key.web is not None and created.key.web.domains[0].startswith("http")


# -- networks ----------------------------------------------------------------------------

def _inside(allowed: ipaddress.IPv4Network | ipaddress.IPv6Network) -> st.SearchStrategy:
    """Any network inside one of the local ranges *developing locally* accepts."""
    return st.tuples(
        st.integers(0, allowed.num_addresses - 1), st.integers(allowed.prefixlen, allowed.max_prefixlen)
    ).map(lambda pair: ipaddress.ip_network(f"{allowed.network_address + pair[0]}/{pair[1]}", strict=False))


NETWORK = st.sampled_from(LOCAL_NETWORKS).flatmap(_inside)


@NO_DEADLINE
@given(network=NETWORK, spelling=st.sampled_from(["canonical", "exploded", "host-bits", "spaced"]))
def test_any_ip_network_round_trips(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, spelling: str
) -> None:
    text = {
        "canonical": str(network),
        "exploded": network.exploded,
        "host-bits": f"{network.broadcast_address}/{network.prefixlen}",
        "spaced": f"  {network}  ",
    }[spelling]
    settings_ = WebSettings.model_validate({
        "domains": ["https://shop.example.com"], "developing_locally": True, "networks": [text],
    })
    assert settings_.networks == [str(network)]


@NO_DEADLINE
@given(text=st.text(max_size=30))
@example(text="192.0.2.0/33")
@example(text="300.1.1.1")
@example(text="::1/129")
@example(text="10.0.0.0/8/8")
@example(text="")
def test_garbage_networks_are_refused(text: str) -> None:
    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        pass
    else:
        assume(False)  # a valid network, covered above
    with pytest.raises(ValidationError) as refused:
        WebSettings.model_validate({
            "domains": ["https://shop.example.com"], "developing_locally": True, "networks": [text],
        })
    assert set(validation_errors(refused.value)) == {"networks"}


# -- drafts the repository refuses -------------------------------------------------------

REFUSED_DRAFTS = {
    "unknown scope": ({"name": "x", "scope": "desktop", "project_id": "Storefront"}, "scope"),
    "unknown project": (web_draft(project="Nowhere"), "project"),
    "unknown project id": (mobile_draft(project="prj_000000"), "project"),
    "web key, undeployed project": (web_draft(project="Kiosk beta"), "project"),
    "expiry of 45 days": (analytics_draft(days=45), "expires_days"),
    "expiry of 0 days": (analytics_draft(days=0), "expires_days"),
    "no expiry": ({**analytics_draft(), "expires_days": None}, "expires_days"),
    "expiry on a web key": ({**web_draft(), "expires_days": 30}, "expires_days"),
    "local without networks": (web_draft(developing_locally=True), "networks"),
    "web key without domains": (web_draft(domains=[]), "domains"),
    "web key without settings": ({"name": "x", "scope": "web", "project_id": "Storefront"}, "domains"),
    "mobile without app ids": (
        {**mobile_draft(), "mobile": {"ios_bundle_ids": [], "android_packages": []}}, "platforms"
    ),
    "mobile without settings": (
        {"name": "x", "scope": "mobile", "project_id": "Storefront"}, "platforms"
    ),
    "bad bundle id": (
        {**mobile_draft(), "mobile": {"ios_bundle_ids": ["not a bundle"]}}, "ios_bundle_ids"
    ),
    "bad package name": (
        {**mobile_draft(), "mobile": {"android_packages": ["9.bad"]}}, "android_packages"
    ),
    "no project": ({"name": "x", "scope": "analytics", "expires_days": 30}, "project"),
    "all projects on a web key": ({**web_draft(), "all_projects": True}, "project"),
    "missing name": ({"scope": "analytics", "project_id": "Storefront", "expires_days": 30}, "name"),
    "unknown field": ({**analytics_draft(), "colour": "red"}, "colour"),
}


@pytest.mark.parametrize("case", REFUSED_DRAFTS)
def test_a_bad_draft_is_refused_by_field_and_nothing_is_written(
    owner_repo: Repository, store_path: Path, case: str
) -> None:
    draft, field = REFUSED_DRAFTS[case]
    before = snapshot(store_path)
    with pytest.raises(InvalidInput) as refused:
        owner_repo.create_key(draft)
    assert field in refused.value.errors
    message = str(refused.value)
    assert message and "\n" not in message
    assert snapshot(store_path) == before
    assert owner_repo.list_keys() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "bad\x07name"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"web": {"domains": ["http://shop.example.com"]}}, "domains"),
        ({"web": {"domains": ["https://a.example"], "developing_locally": True}}, "networks"),
        ({"mobile": {"ios_bundle_ids": ["com.example.app"]}}, "scope"),
    ],
)
def test_a_bad_edit_is_refused_by_field_and_nothing_is_written(
    owner_repo: Repository, store_path: Path, changes: dict, field: str
) -> None:
    key_id = owner_repo.create_key(web_draft()).key.id
    before = snapshot(store_path)
    with pytest.raises(InvalidInput) as refused:
        owner_repo.edit_key(key_id, changes)
    assert field in refused.value.errors
    assert snapshot(store_path) == before


def test_an_analytics_key_cannot_be_edited(owner_repo: Repository, store_path: Path) -> None:
    key_id = owner_repo.create_key(analytics_draft()).key.id
    before = snapshot(store_path)
    with pytest.raises(InvalidInput) as refused:
        owner_repo.edit_key(key_id, {"name": "renamed"})
    assert "scope" in refused.value.errors
    assert snapshot(store_path) == before
