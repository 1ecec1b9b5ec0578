"""Sign-in, sign-out and the credential/CSRF/CORS edge (protocol 2.1-2.5), over real HTTP."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from clickclack_server import ids
from clickclack_server.config import Config
from clickclack_server.db import Tx
from clickclack_server.runner import Running, run_server
from clickclack_server.store import auth as auth_store
from clickclack_server.store import users as user_store
from tests.conftest import World

JSON = {"Content-Type": "application/json"}
THIRTY_DAYS_S = 30 * 24 * 3600
FIFTEEN_MINUTES_NS = 15 * 60 * 1_000_000_000


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def origin_of(url: str) -> str:
    """The canonical origin of a server URL such as ``http://127.0.0.1:PORT``."""
    return url.rstrip("/")


@asynccontextmanager
async def client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own (unused) cookie jar, so Set-Cookie never leaks into other calls."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield http


async def mint(world: World, email: str, name: str = "") -> str:
    _, token = await world.db.write(auth_store.create_magic_link, email=email, display_name=name)
    assert isinstance(token, str)
    return token


async def consume(http: httpx.AsyncClient, token: Any, **headers: str) -> httpx.Response:
    response = await http.post(
        "/api/auth/magic/consume", json={"token": token}, headers={**JSON, **headers}
    )
    http.cookies.clear()
    return response


def cookie_header(response: httpx.Response) -> str:
    [value] = response.headers.get_list("set-cookie")
    return value


def cookie_attrs(value: str) -> dict[str, str]:
    """``name=value; A=b; Flag`` -> {"cc_session": value, "a": "b", "flag": ""}."""
    first, *rest = [part.strip() for part in value.split(";")]
    name, _, raw = first.partition("=")
    attrs = {name: raw}
    for part in rest:
        key, _, val = part.partition("=")
        attrs[key.lower()] = val
    return attrs


def row_dict(tx: Tx, sql: str, *params: Any) -> dict[str, Any]:
    row = tx.one(sql, params)
    assert row is not None
    return dict(row)


async def count(world: World, table: str) -> int:
    return int(await world.db.read(lambda tx: tx.scalar(f"SELECT count(*) FROM {table}")))


# Magic links ----------------------------------------------------------------------------------


async def test_magic_request_needs_dev_bootstrap(world: World) -> None:
    response = await world.anon().post(
        "/api/auth/magic/request", json={"email": "a@example.com"}, headers=JSON
    )
    assert response.status_code == 501
    assert response.json() == {"error": "magic-link delivery is not configured"}
    owner = await world.owner.post("/api/auth/magic/request", json={"email": "a@example.com"})
    assert owner.status_code == 501
    assert await count(world, "auth_magic_links") == 0


async def test_magic_request_on_dev_server(dev_running: Running) -> None:
    async with client(dev_running.url) as http:
        response = await http.post(
            "/api/auth/magic/request",
            json={"email": "  Grace.Hopper@Example.COM ", "display_name": "  Grace  "},
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"magic_link", "token"}
    link, token = body["magic_link"], body["token"]
    assert set(link) == {"id", "email", "display_name", "created_at", "expires_at"}
    assert link["id"].startswith("mln_") and len(link["id"]) == 30
    assert token.startswith("mgt_") and len(token) == 4 + 52
    assert link["email"] == "grace.hopper@example.com"
    assert link["display_name"] == "Grace"
    lifetime = ids.parse_rfc3339_ns(link["expires_at"]) - ids.parse_rfc3339_ns(link["created_at"])
    assert lifetime == FIFTEEN_MINUTES_NS
    row = await dev_running.server.db.read(
        row_dict, "SELECT * FROM auth_magic_links WHERE id = ?", link["id"]
    )
    assert row["token_hash"] == sha256(token)
    assert token not in {str(value) for value in row.values()}
    assert row["used_at"] is None


async def test_magic_request_rejects_bad_input_and_remote_callers(dev_running: Running) -> None:
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"json": {"display_name": "x"}}, 400, "email is required"),
        ({"json": {"email": "   "}}, 400, "email is required"),
        ({"json": {"email": 5}}, 400, None),
        ({"content": b"", "headers": JSON}, 400, "EOF"),
        ({"content": b"[]", "headers": JSON}, 400, None),
        (
            {"json": {"email": "a@x.io"}, "headers": {"X-Forwarded-For": "203.0.113.9"}},
            403,
            "magic-link token minting is only available from loopback clients",
        ),
        ({"json": {"email": "a@x.io"}, "headers": {"Origin": "https://evil.example"}}, 403, None),
        ({"json": {"email": "a@x.io"}, "headers": {"Sec-Fetch-Site": "cross-site"}}, 403, None),
        ({"json": {"email": "a@x.io"}, "headers": {"Host": "chat.example.com"}}, 403, None),
    ]
    async with client(dev_running.url) as http:
        for kwargs, status, message in cases:
            response = await http.post("/api/auth/magic/request", **kwargs)
            assert response.status_code == status, (kwargs, response.text)
            if message is not None:
                assert response.json() == {"error": message}
            assert "error" in response.json()
    total = await dev_running.server.db.read(
        lambda tx: tx.scalar("SELECT count(*) FROM auth_magic_links")
    )
    assert total == 0


async def test_consume_creates_user_session_and_cookie(world: World) -> None:
    token = await mint(world, " New.Person@Example.com ", "  New Person ")
    async with client(world.url) as http:
        response = await consume(http, token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"user", "session", "token"}
    user, session = body["user"], body["session"]
    assert user["kind"] == "human"
    assert user["display_name"] == "New Person"
    assert user["handle"] == ""
    assert user["id"].startswith("usr_")
    assert set(session) == {"id", "token", "user_id", "created_at", "expires_at"}
    assert session["id"].startswith("ses_") and len(session["id"]) == 30
    assert session["token"].startswith("sst_") and body["token"] == session["token"]
    assert session["user_id"] == user["id"]
    created = ids.parse_rfc3339_ns(session["created_at"])
    expires = ids.parse_rfc3339_ns(session["expires_at"])
    assert expires - created == THIRTY_DAYS_S * 1_000_000_000

    cookie = cookie_attrs(cookie_header(response))
    assert cookie["cc_session"] == session["token"]
    assert cookie["path"] == "/"
    assert "httponly" in cookie
    assert cookie["samesite"] == "Lax"
    assert "secure" not in cookie  # plain-HTTP local development
    assert abs(int(cookie["max-age"]) - THIRTY_DAYS_S) <= 5
    assert cookie["expires"].endswith(" GMT")

    identity = await world.db.read(
        row_dict, "SELECT * FROM identities WHERE user_id = ?", user["id"]
    )
    assert identity["provider"] == "magic"
    assert identity["email"] == identity["provider_subject"] == "new.person@example.com"
    # Signing in adds no workspace membership.
    me = await world.anon().get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["user"]["id"] == user["id"]
    spaces = await world.anon().get(
        "/api/workspaces", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert spaces.json() == {"workspaces": []}


async def test_consume_resolves_existing_users_and_falls_back_to_email(world: World) -> None:
    async with client(world.url) as http:
        owner = await consume(http, await mint(world, "OWNER@example.com", "Someone Else"))
        assert owner.json()["user"]["id"] == world.owner.user_id
        assert owner.json()["user"]["display_name"] == "Owner"
        nameless = await consume(http, await mint(world, "quiet@example.com"))
        assert nameless.json()["user"]["display_name"] == "quiet@example.com"
        again = await consume(http, await mint(world, "Quiet@Example.com", "Loud"))
        assert again.json()["user"]["id"] == nameless.json()["user"]["id"]
        assert again.json()["session"]["id"] != nameless.json()["session"]["id"]
    users = await world.db.read(
        lambda tx: tx.scalar("SELECT count(*) FROM users WHERE email = 'quiet@example.com'")
    )
    assert users == 1


async def test_consume_errors_and_same_origin_rules(world: World) -> None:
    token = await mint(world, "late@example.com")
    async with client(world.url) as http:
        no_type = await http.post(
            "/api/auth/magic/consume", content=b'{"token": "%s"}' % token.encode()
        )
        assert no_type.status_code == 415
        assert no_type.json() == {"error": "content-type must be application/json"}
        plain = await http.post(
            "/api/auth/magic/consume", json={"token": token}, headers={"Content-Type": "text/plain"}
        )
        assert plain.status_code == 415
        foreign = await consume(http, token, Origin="https://evil.example")
        assert foreign.status_code == 403
        assert foreign.json() == {"error": "cross-site login requests are not allowed"}
        cross = await consume(http, token, **{"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403
        for bad in ("mgt_nope", "", None):
            unknown = await consume(http, bad)
            assert unknown.status_code == 400
            assert unknown.json() == {"error": "sql: no rows in result set"}
        wrong_type = await consume(http, 5)
        assert wrong_type.status_code == 400
        assert await count(world, "sessions") == 1  # only the owner's fixture session
        # None of the refusals spent the link; the same-origin browser request works once.
        ok = await consume(
            http, token, Origin=origin_of(world.url), **{"Sec-Fetch-Site": "same-origin"}
        )
        assert ok.status_code == 200, ok.text
        used = await consume(http, token)
        assert used.status_code == 400
        assert used.json() == {"error": "magic link already used"}
        assert "set-cookie" not in used.headers

        expired = await mint(world, "late@example.com")

        def expire(tx: Any) -> None:
            tx.execute(
                "UPDATE auth_magic_links SET expires_at = ? WHERE token_hash = ?",
                (ids.format_ns(1), sha256(expired)),
            )

        await world.db.write(expire)
        stale = await consume(http, expired)
        assert stale.status_code == 400
        assert stale.json() == {"error": "magic link expired"}


async def test_consume_refuses_deleted_account(world: World) -> None:
    gone = await world.user("Gone Person")

    def delete(tx: Any) -> None:
        tx.execute("UPDATE users SET deleted_at = ? WHERE id = ?", (ids.now(), gone.user_id))

    await world.db.write(delete)
    async with client(world.url) as http:
        response = await consume(http, await mint(world, "gone.person@example.com"))
    assert response.status_code == 400
    assert "set-cookie" not in response.headers


async def test_cookie_is_secure_off_loopback(world: World) -> None:
    async with client(world.url) as http:
        response = await consume(
            http, await mint(world, "remote@example.com"), Host="chat.example.com"
        )
    assert response.status_code == 200, response.text
    cookie = cookie_attrs(cookie_header(response))
    assert "secure" in cookie
    assert cookie["samesite"] == "Lax"


async def _serve(nursery: trio.Nursery, data: Path, **config: Any) -> Running:
    result: Running = await nursery.start(
        run_server, Config(addr="127.0.0.1:0", data=str(data), **config)
    )
    return result


async def test_cookie_same_site_follows_frontend_host(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    split = await _serve(
        nursery,
        tmp_path / "split",
        frontend_url="https://app.example.com",
        public_url="https://api.example.com",
    )
    same = await _serve(
        nursery,
        tmp_path / "same",
        frontend_url="http://localhost:5173",
        public_url="http://localhost:8080",
    )
    for running, same_site in ((split, "None"), (same, "Lax")):
        _, token = await running.server.db.write(
            auth_store.create_magic_link, email="cookie@example.com"
        )
        async with client(running.url) as http:
            response = await consume(http, token)
            assert response.status_code == 200, response.text
            cookie = cookie_attrs(cookie_header(response))
            assert cookie["samesite"] == same_site
            if same_site == "None":
                assert "secure" in cookie
                # The configured frontend is the only accepted browser origin.
                _, other = await running.server.db.write(
                    auth_store.create_magic_link, email="cookie@example.com"
                )
                refused = await consume(http, other, Origin=running.url)
                assert refused.status_code == 403
                allowed = await consume(http, other, Origin="https://app.example.com")
                assert allowed.status_code == 200
                preflight = await http.options(
                    "/api/me",
                    headers={
                        "Origin": "https://app.example.com",
                        "Access-Control-Request-Method": "GET",
                    },
                )
                assert preflight.status_code == 204
                assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"


@asynccontextmanager
async def serving(**config: Any) -> AsyncIterator[Running]:
    """A throw-away server of its own (Hypothesis runs each example outside the fixtures)."""
    with tempfile.TemporaryDirectory() as tmp:
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(
                run_server, Config(addr="127.0.0.1:0", data=tmp, **config)
            )
            try:
                yield running
            finally:
                nursery.cancel_scope.cancel()


@settings(max_examples=15, deadline=None)
@given(
    local=st.from_regex(r"[A-Za-z0-9._]{1,20}", fullmatch=True),
    pad=st.sampled_from(["", " ", "\t", "  \n"]),
)
async def test_email_normalisation_finds_one_user(local: str, pad: str) -> None:
    email = f"{local}@Example.ORG"
    async with serving() as running, client(running.url) as http:
        db = running.server.db
        tokens = []
        for variant in (pad + email + pad, email.swapcase(), email.upper()):
            _, token = await db.write(auth_store.create_magic_link, email=variant, display_name="")
            tokens.append(token)
        users = {(await consume(http, token)).json()["user"]["id"] for token in tokens}
        assert len(users) == 1
        [user_id] = users
        stored = await db.read(
            lambda tx: tx.scalar("SELECT email FROM users WHERE id = ?", (user_id,))
        )
    assert stored == email.lower()


# Logout ---------------------------------------------------------------------------------------


async def test_cookie_session_and_logout(world: World) -> None:
    async with client(world.url) as http:
        login = await consume(http, await mint(world, "cookie.user@example.com", "Cookie User"))
        token = login.json()["token"]
        cookie = {"Cookie": f"cc_session={token}"}
        me = await http.get("/api/me", headers=cookie)
        assert me.status_code == 200
        assert me.json()["user"]["display_name"] == "Cookie User"
        no_csrf = await http.post("/api/auth/logout", headers={**JSON, **cookie})
        assert no_csrf.status_code == 403
        assert no_csrf.json() == {"error": "cross-site session requests are not allowed"}
        csrf = {**JSON, **cookie, "X-ClickClack-CSRF": "1"}
        out = await http.post("/api/auth/logout", headers=csrf)
        assert out.status_code == 200
        assert out.json() == {"ok": True}
        cleared = cookie_attrs(cookie_header(out))
        assert cleared["cc_session"] == ""
        assert cleared["max-age"] == "0"
        assert cleared["path"] == "/"
        assert "httponly" in cleared
        after = await http.get("/api/me", headers=cookie)
        assert after.status_code == 401
        again = await http.post("/api/auth/logout", headers=csrf)
        assert again.status_code == 200 and again.json() == {"ok": True}
        anonymous = await http.post("/api/auth/logout", headers=JSON)
        assert anonymous.status_code == 200 and anonymous.json() == {"ok": True}
    revoked = await world.db.read(
        lambda tx: tx.scalar(
            "SELECT revoked_at FROM sessions WHERE token_hash = ?", (sha256(token),)
        )
    )
    assert revoked is not None


async def test_logout_bearer_first_and_content_rules(world: World) -> None:
    alice = await world.user("Alice")
    bob = await world.user("Bob")
    assert alice.token is not None and bob.token is not None
    no_type = await alice.post("/api/auth/logout")
    assert no_type.status_code == 415
    foreign = await alice.post(
        "/api/auth/logout", headers={**JSON, "Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert foreign.json() == {"error": "cross-site login requests are not allowed"}
    assert (await alice.get("/api/me")).status_code == 200
    # Bearer and cookie together: only the Bearer session ends, and no CSRF header is needed.
    out = await alice.post(
        "/api/auth/logout", headers={**JSON, "Cookie": f"cc_session={bob.token}"}
    )
    assert out.status_code == 200
    assert (await alice.get("/api/me")).status_code == 401
    assert (await bob.get("/api/me")).status_code == 200


async def test_logout_never_revokes_bot_tokens(world: World) -> None:
    bot = await world.bot(["bot:read"])
    out = await bot.post("/api/auth/logout", headers=JSON)
    assert out.status_code == 200 and out.json() == {"ok": True}
    me = await bot.get("/api/me")
    assert me.status_code == 200
    assert me.json()["user"]["id"] == bot.user_id


async def test_unconfigured_sign_in_methods_answer_501(world: World) -> None:
    cases = [
        ("POST", "/api/auth/password/login", "password login is not configured"),
        ("POST", "/api/auth/password/change", "password login is not configured"),
        ("GET", "/api/auth/github/start", "github oauth is not configured"),
        ("GET", "/api/auth/github/callback", "github oauth is not configured"),
        ("GET", "/api/auth/github/desktop/start", "github oauth is not configured"),
        ("POST", "/api/auth/github/desktop/consume", "github oauth is not configured"),
        ("GET", "/api/auth/openclaw/start", "openclaw id sign-in is not configured"),
        ("GET", "/api/auth/openclaw/callback", "openclaw id sign-in is not configured"),
    ]
    for caller in (world.anon(), world.owner):
        for method, path, message in cases:
            kwargs: dict[str, Any] = {"json": {}} if method == "POST" else {}
            response = await caller.request(method, path, **kwargs)
            assert response.status_code == 501, (method, path)
            assert response.json() == {"error": message}
    wrong_method = await world.anon().get("/api/auth/logout")
    assert wrong_method.status_code == 405


# Credential resolution order (2.1) ------------------------------------------------------------


async def test_bearer_wins_and_never_falls_back_to_cookie(world: World) -> None:
    alice = await world.user("Alice Order")
    bob = await world.user("Bob Order")
    both = {"Cookie": f"cc_session={bob.token}"}
    me = await alice.get("/api/me", headers=both)
    assert me.json()["user"]["id"] == alice.user_id
    bad_bearer = await world.anon().get(
        "/api/me", headers={**both, "Authorization": "Bearer sst_not_a_session"}
    )
    assert bad_bearer.status_code == 401
    cookie_only = await world.anon().get("/api/me", headers=both)
    assert cookie_only.json()["user"]["id"] == bob.user_id


async def test_revoked_and_expired_sessions_are_401(world: World) -> None:
    revoked = await world.user("Revoked")
    expired = await world.user("Expired")
    assert revoked.token is not None and expired.token is not None

    def end(tx: Any) -> None:
        tx.execute(
            "UPDATE sessions SET revoked_at = ? WHERE token_hash = ?",
            (ids.now(), sha256(revoked.token or "")),
        )
        tx.execute(
            "UPDATE sessions SET expires_at = ? WHERE token_hash = ?",
            (ids.format_ns(1), sha256(expired.token or "")),
        )
        tx.mark_changed("auth")

    await world.db.write(end)
    for caller in (revoked, expired):
        bearer = await caller.get("/api/me")
        assert bearer.status_code == 401
        cookie = await world.anon().get("/api/me", headers={"Cookie": f"cc_session={caller.token}"})
        assert cookie.status_code == 401


async def test_duplicate_and_empty_session_cookies(world: World) -> None:
    alice = await world.user("Dup Cookie")
    twice = await world.anon().get(
        "/api/me", headers={"Cookie": f"cc_session={alice.token}; cc_session={alice.token}"}
    )
    assert twice.status_code == 401
    assert twice.json() == {"error": "multiple cookies with the same name are not allowed"}
    empty = await world.anon().get("/api/me", headers={"Cookie": "cc_session=; other=1"})
    assert empty.status_code == 401
    assert empty.json() == {"error": "authentication required"}
    unknown = await world.anon().get("/api/me", headers={"Cookie": "cc_session=sst_unknown"})
    assert unknown.status_code == 401


async def test_dev_auth_only_for_local_requests(dev_running: Running) -> None:
    def make_user(tx: Any) -> str:
        return str(user_store.create_user(tx, display_name="Second Dev").id)

    other = await dev_running.server.db.write(make_user)
    async with client(dev_running.url) as http:
        first = await http.get("/api/me")
        assert first.status_code == 200
        assert first.json()["user"]["id"] == dev_running.dev_user_id
        assert first.json()["user"]["display_name"] == "Local Captain"
        chosen = await http.get("/api/me", headers={"X-ClickClack-User": other})
        assert chosen.json()["user"]["id"] == other
        missing = await http.get("/api/me", headers={"X-ClickClack-User": "usr_missing"})
        assert missing.status_code == 401
        for headers in (
            {"X-Forwarded-For": "203.0.113.9"},
            {"X-Real-IP": "198.51.100.1"},
            {"Forwarded": "for=203.0.113.9"},
            {"Host": "chat.example.com"},
            {"Origin": "https://evil.example"},
            {"Sec-Fetch-Site": "cross-site"},
        ):
            remote = await http.get("/api/me", headers=headers)
            assert remote.status_code == 401, headers
        local_proxy = await http.get("/api/me", headers={"X-Forwarded-For": "127.0.0.1"})
        assert local_proxy.status_code == 200


async def test_no_dev_auth_without_dev_bootstrap(world: World) -> None:
    response = await world.anon().get("/api/me", headers={"X-ClickClack-User": world.owner.user_id})
    assert response.status_code == 401
    assert response.json() == {"error": "authentication required"}


# CSRF, CORS and correlation ids (2.5, 1.3) ----------------------------------------------------


async def test_csrf_for_cookie_authenticated_writes(world: World) -> None:
    user = await world.user("Csrf User")
    cookie = {"Cookie": f"cc_session={user.token}"}
    anon = world.anon()
    same = origin_of(world.url)
    refused = [
        {},
        {"X-ClickClack-CSRF": "true"},
        {"X-ClickClack-CSRF": "1", "Origin": "https://evil.example"},
        {"X-ClickClack-CSRF": "1", "Origin": "http://127.0.0.1:1"},
        {"X-ClickClack-CSRF": "1", "Sec-Fetch-Site": "cross-site"},
        {"Origin": same},
    ]
    for extra in refused:
        response = await anon.patch(
            "/api/me", json={"display_name": "Hijacked"}, headers={**cookie, **extra}
        )
        assert response.status_code == 403, extra
        assert response.json() == {"error": "cross-site session requests are not allowed"}
    assert (await user.get("/api/me")).json()["user"]["display_name"] == "Csrf User"
    allowed = [
        ({"X-ClickClack-CSRF": "1", "Origin": same}, "With Origin"),
        ({"X-ClickClack-CSRF": "1"}, "No Origin"),
        ({"X-ClickClack-CSRF": "1", "Sec-Fetch-Site": "same-origin"}, "Same Site"),
    ]
    for extra, name in allowed:
        response = await anon.patch(
            "/api/me", json={"display_name": name}, headers={**cookie, **extra}
        )
        assert response.status_code == 200, (extra, response.text)
        assert response.json()["user"]["display_name"] == name
    # Bearer requests skip CSRF even when a cookie rides along; safe methods always skip it.
    bearer = await user.patch("/api/me", json={"display_name": "Bearer"}, headers=cookie)
    assert bearer.status_code == 200
    safe = await anon.get("/api/me", headers={**cookie, "Origin": "https://evil.example"})
    assert safe.status_code == 200
    # No session cookie at all: CSRF does not apply, authentication does.
    nobody = await anon.patch(
        "/api/me", json={"display_name": "x"}, headers={"Cookie": "cc_session="}
    )
    assert nobody.status_code == 401


async def test_cors_preflight(world: World) -> None:
    anon = world.anon()
    same = origin_of(world.url)
    ok = await anon.request(
        "OPTIONS",
        "/api/me",
        headers={
            "Origin": same,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type, x-clickclack-csrf",
        },
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-max-age"] == "600"
    assert ok.headers["access-control-allow-origin"] == same
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert "PATCH" in ok.headers["access-control-allow-methods"]
    for headers in (
        {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        {"Origin": same, "Access-Control-Request-Method": "CONNECT"},
        {
            "Origin": same,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-evil",
        },
    ):
        refused = await anon.request("OPTIONS", "/api/me", headers=headers)
        assert refused.status_code == 403, headers
        assert refused.json() == {"error": "origin is not allowed"}
        assert refused.headers.get("access-control-max-age") is None
    simple = await world.owner.get("/api/me", headers={"Origin": same})
    assert simple.headers["access-control-allow-origin"] == same
    foreign = await world.owner.get("/api/me", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 200
    assert "access-control-allow-origin" not in foreign.headers


async def test_correlation_ids(world: World) -> None:
    valid = "req-1.2:abc_XYZ"
    echoed = await world.owner.get("/api/me", headers={"X-Correlation-ID": valid})
    assert echoed.headers["x-correlation-id"] == valid
    for bad in ("has space", "x" * 129, "semi;colon"):
        replaced = await world.owner.get("/api/me", headers={"X-Correlation-ID": bad})
        assert re.fullmatch(r"corr_[0-9a-f]{16}", replaced.headers["x-correlation-id"]), bad
    generated = await world.anon().get("/api/me")
    assert generated.status_code == 401
    assert re.fullmatch(r"corr_[0-9a-f]{16}", generated.headers["x-correlation-id"])
    longest = "a" * 128
    kept = await world.anon().get("/api/me", headers={"X-Correlation-ID": longest})
    assert kept.headers["x-correlation-id"] == longest


async def test_session_tokens_are_stored_hashed(world: World) -> None:
    async with client(world.url) as http:
        login = await consume(http, await mint(world, "hashed@example.com"))
    session = login.json()["session"]
    row = await world.db.read(row_dict, "SELECT * FROM sessions WHERE id = ?", session["id"])
    assert row["token_hash"] == sha256(session["token"])
    assert session["token"] not in {str(value) for value in row.values()}
    assert row["revoked_at"] is None
    assert ids.wire_time(row["expires_at"]) == session["expires_at"]
