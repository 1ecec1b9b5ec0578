"""Never a 500: hostile bodies, paths and query strings on every route (protocol 3.1).

Every JSON write endpoint gets malformed JSON, trailing data, an empty body, non-object JSON,
wrong field types and an oversized body: each answer must be a 4xx ``{"error": ...}`` and must
write nothing. Unknown paths answer 404 JSON, known paths with the wrong method 405 JSON,
malformed ids in paths a 4xx, non-integer paging parameters 400. A Hypothesis property sends
random JSON values to representative endpoints and asserts the server never answers 5xx.

The endpoint list and the per-case state come from the scope matrix
(:mod:`tests.server.test_scope_matrix`), so a route added there is swept here too.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from clickclack_server.app import AREAS
from clickclack_server.config import Config
from clickclack_server.db import Tx
from clickclack_server.runner import Running, run_server
from clickclack_server.store import bots as bot_store
from clickclack_server.store import sessions as session_store
from clickclack_server.store import users as user_store
from tests.conftest import World
from tests.server.test_scope_matrix import (
    BOT_ADMIN,
    BOT_ONLY,
    ENDPOINTS,
    HUMAN_P,
    Endpoint,
    Public,
    Scene,
    fingerprint,
)

JSON_HEADERS = {"Content-Type": "application/json"}
MAX_JSON_BODY = 1 << 20
SINGLE_VALUE = "json request body must contain a single JSON value"
TOO_LARGE = "http: request body too large"
WRITE_METHODS = ("POST", "PATCH", "PUT")


def _is_json_write(row: Endpoint) -> bool:
    """Routes that decode a JSON body: writes with a body template, minus the sign-in stubs
    that answer 501 before reading anything and logout, which never reads its body."""
    if row.method not in WRITE_METHODS or row.json is None or row.upload or row.label:
        return False
    if isinstance(row.access, Public):
        return row.path == "/api/auth/magic/consume"
    return True


JSON_WRITES = tuple(row for row in ENDPOINTS if _is_json_write(row))

# Rows whose valid template is ``{}``: the fields they read, with a wrong type each.
EXTRA_WRONG_FIELDS: dict[str, list[dict[str, Any]]] = {
    "/api/workspaces/{ws}/bots/{managed_bot}/tokens": [
        {"name": 7},
        {"scopes": "bot:read"},
        {"scopes": [1]},
    ],
    "/api/bots/{managed_bot}/tokens": [{"name": ["x"]}, {"scopes": {"a": 1}}],
}


def principal_for(row: Endpoint) -> str:
    """A caller the row lets through, so that the body (not the credential) is what fails."""
    return BOT_ADMIN if row.access == BOT_ONLY else HUMAN_P


def _swap(value: Any) -> list[Any]:
    """Values of the wrong JSON type for a field currently holding ``value``."""
    if isinstance(value, bool):
        return ["yes", 1]
    if isinstance(value, int):
        return ["1", 1.5, True]
    if isinstance(value, str):
        return [123, True, ["x"], {"x": 1}]
    if isinstance(value, list):
        return ["x", [123]]
    if isinstance(value, dict):
        return ["x", [1]]
    return []


def wrong_type_variants(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``body`` with exactly one field (or one field of a nested object) of the wrong type."""
    for key, value in body.items():
        for wrong in _swap(value):
            yield {**body, key: wrong}
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for inner in wrong_type_variants(value[0]):
                yield {**body, key: [inner, *value[1:]]}


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


MALFORMED = (
    b'{"body": "x",',
    b"{",
    b'{"body" "x"}',
    b"{'body': 'x'}",
    b'{"seq": NaN}',
    b"\xef\xbb\xbf{}",
    b"\xff\xfe\x00",
)
DEEPLY_NESTED = (b"[" * 50_000, b'{"a":' * 50_000, b"[" * 3_000 + b"]" * 3_000)
NOT_OBJECTS = (b"[]", b'[{"body": "x"}]', b'"text"', b"42", b"true", b"1.5")
BODY_KINDS = (
    "malformed",
    "deeply_nested",
    "trailing",
    "empty",
    "not_object",
    "wrong_types",
    "too_large",
)


def bad_bodies(kind: str, valid: dict[str, Any], row: Endpoint) -> list[tuple[bytes, int, str]]:
    """(body, status, exact error or "") for one kind of bad body."""
    if kind == "malformed":
        return [(body, 400, "") for body in MALFORMED]
    if kind == "deeply_nested":
        return [(body, 400, "") for body in DEEPLY_NESTED]
    if kind == "trailing":
        good = encode(valid)
        return [(good + tail, 400, SINGLE_VALUE) for tail in (b" {}", b"x", b"[1]", b'"a"')]
    if kind == "empty":
        return [(b"", 400, "EOF"), (b" \r\n\t", 400, "EOF")]
    if kind == "not_object":
        return [(body, 400, "") for body in NOT_OBJECTS]
    if kind == "wrong_types":
        variants = [*wrong_type_variants(valid), *EXTRA_WRONG_FIELDS.get(row.path, [])]
        assert variants, f"no wrong-type variant for {row.id}"
        return [(encode(variant), 400, "") for variant in variants]
    assert kind == "too_large"
    padding = "x" * MAX_JSON_BODY
    return [(encode({**valid, "padding": padding}), 413, TOO_LARGE)]


def json_write_cases() -> list[Any]:
    return [
        pytest.param(row, kind, id=f"{row.id}-{kind}") for row in JSON_WRITES for kind in BODY_KINDS
    ]


def assert_error(response: httpx.Response, status: int | None = None, text: str = "") -> None:
    """A JSON ``{"error": "..."}`` answer with ``status`` (or any 4xx)."""
    if status is None:
        assert 400 <= response.status_code < 500, (response.status_code, response.text)
    else:
        assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"], body
    if text:
        assert body["error"] == text


@pytest.mark.parametrize(("row", "kind"), json_write_cases())
async def test_bad_json_bodies_are_refused_without_writing(
    world: World, row: Endpoint, kind: str
) -> None:
    scene = await Scene.create(world, principal_for(row), manager=row.manager)
    path = await scene.fill(row.path)
    valid: dict[str, Any] = await scene.fill(row.json)
    params = await scene.fill(dict(row.params)) if row.params else None
    for body, status, text in bad_bodies(kind, valid, row):
        before = await fingerprint(world)
        response = await scene.caller.request(
            row.method, path, content=body, params=params, headers=JSON_HEADERS
        )
        assert_error(response, status, text)
        assert await fingerprint(world) == before, f"{body[:80]!r} wrote something"
    # The same route, state and caller accept the valid body (trailing whitespace is fine), so
    # the refusals above were about the bodies.
    accepted = await scene.caller.request(
        row.method, path, content=encode(valid) + b" \n", params=params, headers=JSON_HEADERS
    )
    assert accepted.status_code == row.ok, accepted.text


BODYLESS_WRITES = tuple(
    row
    for row in ENDPOINTS
    if row.method in (*WRITE_METHODS, "DELETE")
    and row.json is None
    and row.form is None
    and not row.upload
    and not isinstance(row.access, Public)
)


@pytest.mark.parametrize("row", [pytest.param(row, id=row.id) for row in BODYLESS_WRITES])
async def test_bodyless_writes_ignore_whatever_body_is_sent(world: World, row: Endpoint) -> None:
    """Writes that take no body (revoke, open, route, deletes) ignore one, however broken."""
    scene = await Scene.create(world, principal_for(row), manager=row.manager)
    path = await scene.fill(row.path)
    response = await scene.caller.request(
        row.method, path, content=b'{"a":' * 50_000, headers=JSON_HEADERS
    )
    assert response.status_code == row.ok, response.text


async def test_logout_ignores_its_body(world: World) -> None:
    response = await world.owner.post("/api/auth/logout", content=b"[[[", headers=JSON_HEADERS)
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True}
    assert (await world.owner.get("/api/me")).status_code == 401


async def test_magic_link_request_bodies(tmp_path: Path) -> None:
    """``POST /api/auth/magic/request`` only reads its body on a dev server (501 otherwise)."""
    config = Config(addr="127.0.0.1:0", data=str(tmp_path / "data"), dev_bootstrap=True)
    links = "SELECT count(*) FROM auth_magic_links"
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(run_server, config)
        async with httpx.AsyncClient(base_url=running.url) as http:
            valid = {"email": "dev@example.com", "display_name": "Dev"}
            row = Endpoint(method="POST", path="/api/auth/magic/request", access=Public(201))
            for kind in BODY_KINDS:
                for body, status, text in bad_bodies(kind, valid, row):
                    response = await http.post(
                        "/api/auth/magic/request", content=body, headers=JSON_HEADERS
                    )
                    assert_error(response, status, text)
            count = await running.server.db.read(lambda tx: tx.scalar(links))
            assert count == 0
            created = await http.post("/api/auth/magic/request", json=valid)
            assert created.status_code == 201, created.text
        nursery.cancel_scope.cancel()


async def test_upload_refuses_json_bodies(world: World) -> None:
    """The multipart endpoint answers a JSON (or empty) body with a 400, storing nothing."""
    before = await fingerprint(world)
    for content in (b"", b"{}", b"[" * 10_000):
        response = await world.owner.post(
            "/api/uploads",
            params={"workspace_id": world.workspace_id},
            content=content,
            headers=JSON_HEADERS,
        )
        assert_error(response, 400)
    assert await fingerprint(world) == before


# Unknown paths and wrong methods.

UNKNOWN_PATHS = (
    "/api",
    "/api/",
    "/api/nope",
    "/api/workspaces/wsp_x/nope",
    "/api/channels/chn_x/messages/extra/deeper",
    "/api/messages",
    "/api/bots/self/commands/extra",
    "/api/" + "x" * 3000,
)


async def test_unknown_api_paths_answer_404_json(world: World) -> None:
    assert not any(allowed_methods(path) for path in UNKNOWN_PATHS)
    for path, method, caller in itertools.product(
        UNKNOWN_PATHS, ("GET", "POST", "PATCH", "PUT", "DELETE"), (world.owner, world.anon())
    ):
        response = await caller.request(method, path, content=b"{}", headers=JSON_HEADERS)
        assert_error(response, 404, "not found")


def http_routes() -> list[Route]:
    return [route for area in AREAS for route in area.routes if isinstance(route, Route)]


def concrete(template: str) -> str:
    """A route template with every parameter replaced by a harmless placeholder value."""
    return re.sub(r"\{[^}]+\}", "zzz", template)


def allowed_methods(path: str) -> set[str]:
    """Every method some route serves for this concrete path."""
    methods: set[str] = set()
    for route in http_routes():
        if route.path_regex.match(path):
            methods |= set(route.methods or ())
    return methods


async def test_wrong_methods_answer_405_json(world: World) -> None:
    before = await fingerprint(world)
    checked = 0
    for path in sorted({concrete(route.path) for route in http_routes()}):
        allowed = allowed_methods(path)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method in allowed:
                continue
            response = await world.owner.request(method, path, content=b"{}", headers=JSON_HEADERS)
            assert_error(response, 405, "method not allowed")
            # Allow names every method of the path, including those served by sibling routes.
            assert set(response.headers["allow"].split(", ")) == allowed, (method, path)
            checked += 1
    assert checked > 50
    assert await fingerprint(world) == before


# Malformed ids in paths.

BAD_IDS = (
    "chn_x",
    "%00",
    "msg_%00%00",
    "a" * 8000,
    "wsp_" + "0" * 26 + "%0A",
    "%2e%2e",
    "%F0%9F%92%A5",
    "%ff%fe",
    "usr_' OR 1=1 --",
    "%20",
)
UNIVERSAL_BODY = {
    "body": "hello",
    "emoji": "x",
    "seq": 1,
    "name": "probe",
    "display_name": "Probe",
    "display_title": "Probe",
    "upload_id": "upl_x",
    "user_id": "usr_x",
    "commands": [],
}


def param_routes() -> list[tuple[str, str]]:
    return sorted(
        {
            (method, route.path)
            for route in http_routes()
            if "{" in route.path
            for method in route.methods or ()
            if method != "HEAD"
        }
    )


@pytest.mark.parametrize("bad", [pytest.param(bad, id=bad[:24]) for bad in BAD_IDS])
async def test_malformed_path_ids_answer_4xx(world: World, bad: str) -> None:
    """Every route with a path parameter, every parameter replaced by ``bad``: 4xx, no writes,
    for a human (passes every scope check) and a ``bot:admin`` token of the workspace."""
    bot = await world.bot(["bot:admin"])
    before = await fingerprint(world)
    for (method, template), caller in itertools.product(param_routes(), (world.owner, bot)):
        path = re.sub(r"\{[^}]+\}", lambda _: bad, template)
        kwargs: dict[str, Any] = {}
        if method in WRITE_METHODS:
            kwargs = {"content": encode(UNIVERSAL_BODY), "headers": JSON_HEADERS}
        response = await caller.request(method, path, **kwargs)
        assert 400 <= response.status_code < 500, (method, path[:120], response.text[:200])
        assert set(response.json()) == {"error"}, response.text[:200]
    assert await fingerprint(world) == before


# Non-integer paging parameters.

PAGED: dict[str, tuple[str, dict[str, str], tuple[str, ...]]] = {
    "channel messages": (
        "/api/channels/{channel}/messages",
        {},
        ("after_seq", "before_seq", "around_seq", "limit"),
    ),
    "dm messages": (
        "/api/dms/{dm}/messages",
        {},
        ("after_seq", "before_seq", "around_seq", "limit"),
    ),
    "thread": (
        "/api/messages/{message}/thread",
        {},
        ("after_seq", "before_seq", "around_seq", "limit"),
    ),
    "search": ("/api/search", {"workspace_id": "{ws}", "q": "hello"}, ("limit",)),
    "members": ("/api/workspaces/{ws}/members", {}, ("limit",)),
    "deliveries": ("/api/event-subscriptions/{subscription}/deliveries", {}, ("limit",)),
}
NON_INTEGERS = ("abc", "1.5", "1e3", "0x10", "--1", "½", "seven", "1,000", "true")
# Python's int() accepts these; no other HTTP stack reads them as integers.
LENIENT_INTEGERS = ("1_0", "١٢", "１２")
HUGE = "9" * 40


def paging_cases() -> list[Any]:
    cases = []
    for name, (_path, _params, names) in PAGED.items():
        for param in names:
            for value in NON_INTEGERS + LENIENT_INTEGERS:
                cases.append(pytest.param(name, param, value, id=f"{name}-{param}={value}"))
    return cases


async def _paged_scene(world: World) -> Scene:
    return await Scene.create(world, HUMAN_P, manager=False)


@pytest.mark.parametrize(("name", "param", "value"), paging_cases())
async def test_non_integer_paging_params_answer_400(
    world: World, name: str, param: str, value: str
) -> None:
    path_template, base, _ = PAGED[name]
    scene = await _paged_scene(world)
    path = await scene.fill(path_template)
    params = {**await scene.fill(base), param: value}
    assert (await scene.caller.get(path, params=await scene.fill(base))).status_code == 200
    assert_error(await scene.caller.get(path, params=params), 400)


@pytest.mark.parametrize("name", sorted(PAGED))
async def test_huge_paging_numbers_never_500(world: World, name: str) -> None:
    """Integers beyond 64 bits are a client error or a fallback, never a server error."""
    path_template, base, names = PAGED[name]
    scene = await _paged_scene(world)
    path = await scene.fill(path_template)
    for param, value in itertools.product(names, (HUGE, "-" + HUGE)):
        response = await scene.caller.get(path, params={**await scene.fill(base), param: value})
        assert response.status_code < 500, (param, value, response.text)
        if response.status_code >= 400:
            assert_error(response)


async def test_realtime_pull_limit_falls_back(world: World) -> None:
    """``/api/realtime/events``: any unusable ``limit`` means the default (protocol 4.7)."""
    for value in (*NON_INTEGERS, HUGE, "0", "-5", "501"):
        response = await world.owner.get(
            "/api/realtime/events", params={"workspace_id": world.workspace_id, "limit": value}
        )
        assert response.status_code == 200, (value, response.text)
        assert response.json()["events"] == []


# Random JSON values (Hypothesis), against one server started inside the test.

_KEYS = (
    "body",
    "nonce",
    "quoted_message_id",
    "upload_id",
    "kind",
    "turn_id",
    "topic_id",
    "name",
    "display_name",
    "display_title",
    "handle",
    "avatar_url",
    "kind",
    "archived",
    "external_managed",
    "external_ref",
    "external_url",
    "sidebar_section",
    "seq",
    "emoji",
    "workspace_id",
    "channel_id",
    "direct_conversation_id",
    "member_ids",
    "type",
    "payload",
    "commands",
    "scopes",
    "token_name",
    "initial_token",
    "owner_user_id",
    "notification_settings",
    "appearance_preferences",
)
_primitives = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    _primitives,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
json_bodies = json_values | st.dictionaries(st.sampled_from(_KEYS), json_values, max_size=6)
FUZZED = (
    ("POST", "/api/channels/{channel}/messages"),
    ("PATCH", "/api/me"),
    ("POST", "/api/dms"),
    ("POST", "/api/workspaces/{ws}/channels"),
    ("PATCH", "/api/channels/{channel}"),
    ("POST", "/api/channels/{channel}/read"),
    ("POST", "/api/messages/{message}/reactions"),
    ("POST", "/api/messages/{message}/thread/replies"),
    ("POST", "/api/realtime/ephemeral"),
    ("POST", "/api/workspaces/{ws}/bots"),
    ("PUT", "/api/bots/self/commands"),
)


def _mint_admin_bot(tx: Tx, workspace_id: str, created_by: str) -> str:
    bot = bot_store.create_bot_user(tx, workspace_id=workspace_id, display_name="Fuzz Bot")
    token = bot_store.mint_token(
        tx,
        bot_user_id=bot.id,
        workspace_id=workspace_id,
        owner_user_id=None,
        scopes=["bot:admin"],
        created_by=created_by,
    )
    assert token.token is not None
    return token.token


async def test_random_json_bodies_never_500(tmp_path: Path) -> None:
    """Any JSON value as the body of representative writes: a 2xx or a 4xx error, never 5xx."""
    config = Config(addr="127.0.0.1:0", data=str(tmp_path / "data"))
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(run_server, config)
        db = running.server.db
        boot = await db.write(user_store.bootstrap, name="Owner", email="owner@example.com")
        owner_token = (await db.write(session_store.create_session, boot.user_id)).token
        bot_token = await db.write(_mint_admin_bot, boot.workspace_id, boot.user_id)
        owner = {"Authorization": f"Bearer {owner_token}"}
        async with httpx.AsyncClient(base_url=running.url, headers=owner) as http:
            posted = await http.post(
                f"/api/channels/{boot.channel_id}/messages", json={"body": "fuzz root"}
            )
            assert posted.status_code == 201, posted.text
        ids = {
            "{channel}": boot.channel_id,
            "{ws}": boot.workspace_id,
            "{message}": posted.json()["message"]["id"],
        }
        targets = [
            (method, re.sub(r"\{\w+\}", lambda m: ids[m.group(0)], path)) for method, path in FUZZED
        ]

        def run_property() -> None:
            with httpx.Client(base_url=running.url, timeout=30) as client:

                @settings(
                    max_examples=300,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                )
                @given(target=st.sampled_from(targets), body=json_bodies)
                def check(target: tuple[str, str], body: Any) -> None:
                    method, path = target
                    token = bot_token if path == "/api/bots/self/commands" else owner_token
                    response = client.request(
                        method,
                        path,
                        content=encode(body),
                        headers={**JSON_HEADERS, "Authorization": f"Bearer {token}"},
                    )
                    assert response.status_code < 500, (method, path, body, response.text)
                    if response.status_code >= 400:
                        assert set(response.json()) == {"error"}, response.text

                check()

        with trio.fail_after(240):
            await trio.to_thread.run_sync(run_property)
        nursery.cancel_scope.cancel()
