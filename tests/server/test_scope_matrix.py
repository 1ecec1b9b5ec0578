"""The scope matrix: every routed REST endpoint x six principals (protocol 2.1, 2.6, 2.7, 3.x).

Each row of :data:`ENDPOINTS` names one route (method + path template), what a valid request
looks like for the fixture state, and who may call it: a list of bot scopes, ``HUMAN`` (bot
tokens are refused), ``BOT_ONLY`` (human sessions are refused) or ``Public`` (no credential
needed; every principal gets the same answer). From that, :func:`expected` derives the status
each principal must get:

- no credential -> 401 ``authentication required`` (the server runs without dev auth);
- a human member (the workspace owner on rows marked ``manager``) -> the row's success status;
- a bot token lacking a required scope -> 403 ``bot token is missing scope X`` (first missing
  scope in the row's order, which is the order the protocol lists them);
- any bot token on a human-only row -> 403;
- a ``bot:admin`` bot of ANOTHER workspace on a workspace-scoped row -> 403
  ``bot token cannot access this workspace``;
- a bot token past those checks on a row whose store rule admits no bot user (``bot_refusal``)
  -> 403 with that text;
- everyone else -> the success status.

Refused cells must also write nothing (a fingerprint of row counts is compared). Every case
runs against a fresh server and builds only the state its row needs, lazily, through
:class:`Scene` placeholders such as ``{message}`` or ``{dm}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
import httpx
import pytest

from clickclack_server.db import Tx
from clickclack_server.store import auth as auth_store
from clickclack_server.store import bots as bot_store
from tests.conftest import Caller, World

# Principals and bundles (protocol 2.6, restated here on purpose: this file checks the server).

ANON, HUMAN_P, BOT_READ, BOT_WRITE, BOT_ADMIN, OTHER_BOT = (
    "anon",
    "human",
    "bot_read",
    "bot_write",
    "bot_admin",
    "other_bot",
)
PRINCIPALS = (ANON, HUMAN_P, BOT_READ, BOT_WRITE, BOT_ADMIN, OTHER_BOT)
_READ = frozenset(
    {
        "workspaces:read",
        "channels:read",
        "messages:read",
        "threads:read",
        "dms:read",
        "realtime:read",
        "profile:read",
    }
)
_WRITE = _READ | {
    "messages:write",
    "threads:write",
    "dms:write",
    "uploads:write",
    "commands:write",
}
BUNDLE_SCOPES: Mapping[str, frozenset[str]] = {
    BOT_READ: _READ,
    BOT_WRITE: _WRITE,
    BOT_ADMIN: _WRITE | {"channels:write"},
    OTHER_BOT: _WRITE | {"channels:write"},
}
BUNDLE_NAMES = {BOT_READ: "bot:read", BOT_WRITE: "bot:write", BOT_ADMIN: "bot:admin"}

NONCE = "matrix-nonce-0001"
EMOJI = "👍"
WORKSPACE_DENIED = "bot token cannot access this workspace"
CALLBACK_URL = "https://hooks.example.com/clickclack"


@attrs.frozen
class Public:
    """No credential needed: every principal, anonymous included, gets ``status``."""

    status: int


HUMAN = "human-only"
BOT_ONLY = "bot-only"
Access = tuple[str, ...] | str | Public


@attrs.frozen(kw_only=True)
class Endpoint:
    """One row of the matrix: a route, a valid request for the fixture state, and its rule.

    ``path``, ``params`` and ``json`` may hold ``{placeholder}`` strings resolved by
    :meth:`Scene.fill`. ``access`` is the bot scopes needed (all of them, in protocol order),
    ``HUMAN``, ``BOT_ONLY`` (with the scopes in ``scopes``) or :class:`Public`. ``prepare``
    names state to create even though the request does not mention it (the message a by-nonce
    lookup should find). ``key`` is a field the success envelope must carry. ``bot_refusal``
    is the 403 text a bot token gets after passing the scope and workspace checks, on rows
    whose role rule no bot user meets (the moderation roster: active managers only).
    """

    method: str
    path: str
    access: Access
    ok: int = 200
    workspace_scoped: bool = True
    manager: bool = False
    label: str = ""
    scopes: tuple[str, ...] = ()
    prepare: tuple[str, ...] = ()
    params: Mapping[str, str] | None = None
    json: Any = None
    form: Mapping[str, str] | None = None
    upload: bool = False
    key: str | None = None
    bot_refusal: str | None = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}" + (f" [{self.label}]" if self.label else "")


def ep(method: str, path: str, access: Access, **kwargs: Any) -> Endpoint:
    return Endpoint(method=method, path=path, access=access, **kwargs)


WS = "/api/workspaces/{ws}"

# Every route of server/clickclack_server/api/*.py except the WebSocket (GET /api/realtime/ws,
# covered by the realtime tests). Extend this list when a route is added.
ENDPOINTS: tuple[Endpoint, ...] = (
    # Health (3.3) and sign-in (2.3, 2.4): no credential needed.
    ep("GET", "/healthz", Public(200), key="status"),
    ep("GET", "/readyz", Public(200), key="status"),
    ep(
        "POST",
        "/api/auth/magic/request",
        Public(501),
        json={"email": "someone@example.com", "display_name": "Someone"},
    ),
    ep(
        "POST",
        "/api/auth/magic/consume",
        Public(200),
        key="session",
        json={"token": "{magic_token}"},
    ),
    ep("POST", "/api/auth/logout", Public(200), key="ok", json={}),
    ep(
        "POST",
        "/api/auth/password/login",
        Public(501),
        json={"identifier": "owner@example.com", "password": "hunter2hunter2"},
    ),
    ep(
        "POST",
        "/api/auth/password/change",
        Public(501),
        json={"current_password": "a" * 10, "new_password": "b" * 10},
    ),
    ep("GET", "/api/auth/github/start", Public(501)),
    ep("GET", "/api/auth/github/callback", Public(501)),
    ep("GET", "/api/auth/github/desktop/start", Public(501)),
    ep("POST", "/api/auth/github/desktop/consume", Public(501), json={}),
    ep("GET", "/api/auth/openclaw/start", Public(501)),
    ep("GET", "/api/auth/openclaw/callback", Public(501)),
    # Me (3.4).
    ep("GET", "/api/me", ("profile:read",), key="user", workspace_scoped=False),
    ep(
        "PATCH",
        "/api/me",
        HUMAN,
        key="user",
        workspace_scoped=False,
        json={"display_name": "Renamed"},
    ),
    ep("GET", "/api/me/bots", HUMAN, key="bots", workspace_scoped=False),
    # Workspaces (3.5).
    ep("GET", "/api/workspaces", ("workspaces:read",), key="workspaces", workspace_scoped=False),
    ep(
        "POST",
        "/api/workspaces",
        HUMAN,
        ok=201,
        key="workspace",
        workspace_scoped=False,
        json={"name": "Fresh"},
    ),
    ep("GET", WS, ("workspaces:read",), key="workspace"),
    ep("PATCH", WS, HUMAN, key="event", manager=True, json={"name": "Renamed Space"}),
    ep("DELETE", WS, HUMAN, ok=204, manager=True),
    ep(
        "POST",
        WS + "/transfer-ownership",
        HUMAN,
        key="event",
        manager=True,
        json={"user_id": "{member2}"},
    ),
    ep("GET", WS + "/members", ("workspaces:read",), key="members"),
    ep(
        "GET",
        WS + "/moderation/members",
        ("workspaces:read",),
        key="members",
        manager=True,
        bot_refusal="moderation restriction",
    ),
    ep(
        "PATCH",
        WS + "/moderation/members/{member2}",
        HUMAN,
        key="member",
        manager=True,
        json={"moderation_note": "watch this one"},
    ),
    # Channels and routes (3.6, 1.2).
    ep("GET", WS + "/channels", ("channels:read",), key="channels"),
    ep(
        "POST",
        WS + "/channels",
        ("channels:write",),
        ok=201,
        key="event",
        json={"name": "{unique}"},
    ),
    ep(
        "PATCH",
        "/api/channels/{channel}",
        ("channels:write",),
        key="event",
        manager=True,
        json={"display_title": "Renamed"},
    ),
    ep("POST", "/api/channels/{channel}/read", ("messages:read",), key="receipt", json={"seq": 1}),
    ep(
        "GET",
        "/api/routes/{ws_route}/{channel_route}",
        ("channels:read",),
        key="route",
        label="channel",
    ),
    ep("GET", "/api/routes/{ws_route}/{dm_route}", ("dms:read",), key="route", label="dm"),
    ep(
        "GET",
        "/api/routes/{ws_route}/{thread_route}",
        ("threads:read",),
        key="route",
        label="thread",
    ),
    # Messages (3.7).
    ep(
        "GET",
        "/api/channels/{channel}/messages",
        ("messages:read",),
        key="messages",
        prepare=("message",),
    ),
    ep(
        "POST",
        "/api/channels/{channel}/messages",
        ("messages:write",),
        ok=201,
        key="event",
        json={"body": "hello from the matrix"},
    ),
    ep(
        "GET",
        "/api/messages/by-nonce",
        ("messages:write",),
        key="message",
        params={"workspace_id": "{ws}", "nonce": NONCE},
        prepare=("message",),
    ),
    ep("GET", "/api/messages/{message}", ("messages:read",), key="message"),
    ep(
        "GET",
        "/api/messages/{dm_message}",
        ("messages:read", "dms:read"),
        key="message",
        label="dm",
    ),
    ep(
        "PATCH",
        "/api/messages/{message}",
        ("messages:write",),
        key="event",
        json={"body": "edited"},
    ),
    ep(
        "PATCH",
        "/api/messages/{dm_message}",
        ("messages:write", "dms:write"),
        key="event",
        label="dm",
        json={"body": "edited"},
    ),
    ep("DELETE", "/api/messages/{message}", ("messages:write",), key="event"),
    ep(
        "DELETE",
        "/api/messages/{dm_message}",
        ("messages:write", "dms:write"),
        key="event",
        label="dm",
    ),
    ep("POST", "/api/messages/{message}/route", ("threads:read",), key="message"),
    # Threads (3.8).
    ep("GET", "/api/messages/{thread}/thread", ("threads:read",), key="replies"),
    ep(
        "GET",
        "/api/messages/{dm_thread}/thread",
        ("threads:read", "dms:read"),
        key="replies",
        label="dm",
    ),
    ep(
        "POST",
        "/api/messages/{message}/thread/replies",
        ("threads:write",),
        ok=201,
        key="events",
        json={"body": "a reply"},
    ),
    ep(
        "POST",
        "/api/messages/{dm_message}/thread/replies",
        ("threads:write", "dms:write"),
        ok=201,
        key="events",
        label="dm",
        json={"body": "a reply"},
    ),
    # Reactions (3.9).
    ep(
        "POST",
        "/api/messages/{message}/reactions",
        ("messages:write",),
        ok=201,
        key="reactions",
        json={"emoji": EMOJI},
    ),
    ep(
        "POST",
        "/api/messages/{dm_message}/reactions",
        ("messages:write", "dms:write"),
        ok=201,
        key="reactions",
        label="dm",
        json={"emoji": EMOJI},
    ),
    ep(
        "DELETE",
        "/api/messages/{reacted_message}/reactions/" + EMOJI,
        ("messages:write",),
        key="reactions",
    ),
    # Direct messages (3.12).
    ep(
        "GET",
        "/api/dms",
        ("dms:read",),
        key="conversations",
        params={"workspace_id": "{ws}"},
        prepare=("dm",),
    ),
    ep(
        "POST",
        "/api/dms",
        ("dms:write",),
        ok=201,
        key="conversation",
        json={"workspace_id": "{ws}", "member_ids": ["{partner}"]},
    ),
    ep("GET", "/api/dms/{dm}", ("dms:read",), key="conversation"),
    ep("DELETE", "/api/dms/{dm}", HUMAN, key="ok"),
    ep("POST", "/api/dms/{dm}/open", HUMAN, key="conversation"),
    ep("GET", "/api/dms/{dm}/messages", ("dms:read",), key="messages", prepare=("dm_message",)),
    ep(
        "POST",
        "/api/dms/{dm}/messages",
        ("dms:write",),
        ok=201,
        key="event",
        json={"body": "psst"},
    ),
    ep("POST", "/api/dms/{dm}/read", ("dms:read",), key="receipt", json={"seq": 1}),
    # Search (3.10).
    ep(
        "GET",
        "/api/search",
        ("messages:read",),
        key="results",
        params={"workspace_id": "{ws}", "q": "hello"},
    ),
    ep(
        "GET",
        "/api/search",
        ("messages:read", "dms:read"),
        key="results",
        label="dm",
        params={"workspace_id": "{ws}", "q": "hello", "direct_conversation_id": "{dm}"},
    ),
    # Uploads (3.11).
    ep("POST", "/api/uploads", ("uploads:write",), ok=201, key="upload", upload=True),
    ep(
        "GET",
        "/api/uploads/by-nonce",
        ("uploads:write",),
        key="upload",
        params={"workspace_id": "{ws}", "nonce": "{upload_nonce}"},
    ),
    ep("GET", "/api/uploads/{upload}", ("messages:read",)),
    ep(
        "POST",
        "/api/messages/{message}/attachments",
        ("uploads:write", "messages:write"),
        key="ok",
        json={"upload_id": "{upload}"},
    ),
    # Bots, tokens and command menus (3.13).
    ep(
        "POST",
        WS + "/bots",
        HUMAN,
        ok=201,
        key="bot_token",
        manager=True,
        json={"display_name": "Helper"},
    ),
    ep("GET", WS + "/bots", HUMAN, key="bots"),
    ep("GET", WS + "/bots/{managed_bot}/tokens", HUMAN, key="bot_tokens"),
    ep(
        "POST",
        WS + "/bots/{managed_bot}/tokens",
        HUMAN,
        ok=201,
        key="bot_token",
        manager=True,
        json={},
    ),
    ep("DELETE", WS + "/bots/{managed_bot}/membership", HUMAN, ok=204, manager=True),
    ep("GET", WS + "/bot-commands", ("workspaces:read",), key="bot_commands"),
    ep(
        "PUT",
        "/api/bots/self/commands",
        BOT_ONLY,
        key="bot_commands",
        scopes=("commands:write",),
        workspace_scoped=False,
        json={"commands": [{"command": "deploy", "description": "Ship it"}]},
    ),
    ep("GET", "/api/bots/{managed_bot}/tokens", HUMAN, key="bot_tokens"),
    ep(
        "POST",
        "/api/bots/{managed_bot}/tokens",
        HUMAN,
        ok=201,
        key="bot_token",
        manager=True,
        json={},
    ),
    ep("DELETE", "/api/bots/{managed_bot}", HUMAN, key="deleted_bot", manager=True),
    ep(
        "POST",
        "/api/bot-tokens/{managed_token}/revoke",
        HUMAN,
        key="bot_token",
        manager=True,
    ),
    # Incoming hooks (3.14, 3.15): the slash hook takes a form body.
    ep(
        "POST",
        "/api/hooks/mattermost/{channel}",
        ("messages:write",),
        ok=201,
        key="event",
        json={"text": "from mattermost"},
    ),
    ep(
        "POST",
        "/api/hooks/slash/{channel}",
        ("messages:write",),
        ok=201,
        key="event",
        form={"command": "/deploy", "text": "now"},
    ),
    # Slash-command registrations and event subscriptions (3.15, 3.16). Callback URLs point
    # at a documentation address, which the delivery code refuses without touching the network.
    ep(
        "POST",
        WS + "/slash-commands",
        HUMAN,
        ok=201,
        key="slash_command",
        manager=True,
        json={
            "command": "/deploy",
            "callback_url": CALLBACK_URL,
            "bot_user_id": "{managed_bot}",
            "description": "Ship it",
        },
    ),
    ep("GET", WS + "/slash-commands", HUMAN, key="slash_commands", prepare=("slash_command",)),
    ep(
        "POST",
        "/api/slash-commands/{slash_command}/revoke",
        HUMAN,
        key="slash_command",
        manager=True,
    ),
    ep(
        "POST",
        "/api/slash-commands/{slash_command}/rotate-secret",
        HUMAN,
        key="slash_command",
        manager=True,
    ),
    ep("GET", "/api/event-types", (), key="event_types", workspace_scoped=False),
    ep(
        "POST",
        WS + "/event-subscriptions",
        HUMAN,
        ok=201,
        key="event_subscription",
        manager=True,
        json={"event_types": ["message.created"], "callback_url": CALLBACK_URL},
    ),
    ep(
        "GET",
        WS + "/event-subscriptions",
        HUMAN,
        key="event_subscriptions",
        prepare=("subscription",),
    ),
    ep(
        "POST",
        "/api/event-subscriptions/{subscription}/revoke",
        HUMAN,
        key="event_subscription",
        manager=True,
    ),
    ep(
        "POST",
        "/api/event-subscriptions/{subscription}/rotate-secret",
        HUMAN,
        key="event_subscription",
        manager=True,
    ),
    ep("GET", "/api/event-subscriptions/{subscription}/deliveries", HUMAN, key="deliveries"),
    # Realtime (4.7).
    ep(
        "GET",
        "/api/realtime/events",
        ("realtime:read",),
        key="events",
        params={"workspace_id": "{ws}"},
    ),
    ep(
        "POST",
        "/api/realtime/ephemeral",
        ("messages:write",),
        ok=202,
        key="event",
        json={"workspace_id": "{ws}", "channel_id": "{channel}", "type": "typing.started"},
    ),
)

# Cells where the server disagrees with the protocol: (row id, principal) -> reason. Each one
# is reported to the lead; strict xfail keeps the suite green and flips red once fixed.
KNOWN_DISCREPANCIES: Mapping[tuple[str, str], str] = {}


def required_scopes(row: Endpoint) -> tuple[str, ...]:
    if isinstance(row.access, tuple):
        return row.access
    if row.access == BOT_ONLY:
        return row.scopes
    return ()


def expected(row: Endpoint, principal: str) -> tuple[int, str | None]:
    """The status (and, where the protocol fixes it, the error text) for one cell."""
    if isinstance(row.access, Public):
        return row.access.status, None
    if principal == ANON:
        return 401, "authentication required"
    if principal == HUMAN_P:
        return (403, None) if row.access == BOT_ONLY else (row.ok, None)
    if row.access == HUMAN:
        return 403, None
    granted = BUNDLE_SCOPES[principal]
    missing = next((scope for scope in required_scopes(row) if scope not in granted), None)
    if missing is not None:
        return 403, f"bot token is missing scope {missing}"
    if principal == OTHER_BOT and row.workspace_scoped:
        return 403, WORKSPACE_DENIED
    if row.bot_refusal is not None:
        return 403, row.bot_refusal
    return row.ok, None


def cases() -> list[Any]:
    params = []
    for row in ENDPOINTS:
        for principal in PRINCIPALS:
            reason = KNOWN_DISCREPANCIES.get((row.id, principal))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(row, principal, id=f"{row.id}-{principal}", marks=marks))
    return params


# Fixture state, built lazily per case.


def _mint_twin(tx: Tx, bot_user_id: str, workspace_id: str, created_by: str) -> str:
    token = bot_store.mint_token(
        tx,
        bot_user_id=bot_user_id,
        workspace_id=workspace_id,
        owner_user_id=None,
        name="matrix-twin",
        scopes=["bot:admin"],
        created_by=created_by,
    )
    assert token.token is not None
    return token.token


def _token_id(tx: Tx, bot_user_id: str) -> str:
    token_id: str = tx.scalar(
        "SELECT id FROM bot_tokens WHERE bot_user_id = ? ORDER BY created_at LIMIT 1",
        (bot_user_id,),
    )
    return token_id


def _mint_magic_link(tx: Tx) -> str:
    _link, token = auth_store.create_magic_link(tx, email="matrix@example.com")
    return token


# Counts and digests of everything a refused request could have touched.
FINGERPRINT_SQL = "SELECT " + ", ".join(
    f"({query})"
    for query in (
        "SELECT count(*) FROM events",
        "SELECT count(*) FROM messages",
        "SELECT group_concat(id || body || coalesce(deleted_at, '')) FROM messages",
        "SELECT count(*) FROM reactions",
        "SELECT count(*) FROM message_attachments",
        "SELECT count(*) FROM uploads",
        "SELECT group_concat(name || '|' || coalesce(display_title, '') || '|' "
        "|| coalesce(archived_at, '') || '|' || coalesce(sidebar_section, '')) FROM channels",
        "SELECT group_concat(name || '|' || slug) FROM workspaces",
        "SELECT group_concat(user_id || role) FROM workspace_members",
        "SELECT group_concat(id || display_name || coalesce(deleted_at, '')) FROM users",
        "SELECT count(*) FROM bot_tokens WHERE revoked_at IS NULL",
        "SELECT count(*) FROM bot_commands",
        "SELECT count(*) FROM direct_conversations",
        "SELECT count(*) FROM direct_conversation_hidden",
        "SELECT count(*) FROM channel_reads",
        "SELECT count(*) FROM direct_reads",
        "SELECT count(*) FROM sessions WHERE revoked_at IS NULL",
        "SELECT group_concat(id || signing_secret || coalesce(revoked_at, '')) FROM slash_commands",
        "SELECT count(*) FROM slash_command_invocations",
        "SELECT group_concat(id || signing_secret || coalesce(revoked_at, '')) "
        "FROM event_subscriptions",
    )
)


async def fingerprint(world: World) -> tuple[Any, ...]:
    """Row counts of everything a refused request could have touched."""
    row = await world.db.read(lambda tx: tx.one(FINGERPRINT_SQL))
    return tuple(row)


@attrs.define
class Scene:
    """One case's principal plus lazily created state in the main workspace.

    ``actor`` is who owns the state the request refers to: the principal itself when it is a
    member of the main workspace (bots act through a ``bot:admin`` twin token of the same bot
    user, so even a ``bot:read`` principal owns a message to edit), else the owner.
    """

    world: World
    principal: str
    caller: Caller
    actor: Caller
    cache: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    async def create(
        cls, world: World, principal: str, *, manager: bool, scopes: list[str] | None = None
    ) -> Scene:
        if principal == ANON:
            return cls(world, principal, world.anon(), world.owner)
        if principal == HUMAN_P:
            human = world.owner if manager else await world.user("Matrix Member")
            return cls(world, principal, human, human)
        if principal == OTHER_BOT:
            other = await world.workspace("Elsewhere")
            return cls(
                world, principal, await world.bot(["bot:admin"], workspace_id=other), world.owner
            )
        bot = await world.bot(scopes or [BUNDLE_NAMES[principal]])
        twin = await world.db.write(
            _mint_twin, bot.user_id, world.workspace_id, world.owner.user_id
        )
        return cls(world, principal, bot, Caller(world.http, bot.user_id, twin))

    async def fill(self, value: Any) -> Any:
        """Replace every ``{name}`` in strings (recursively) with the named state."""
        if isinstance(value, str):
            names = re.findall(r"\{(\w+)\}", value)
            for name in names:
                value = value.replace("{" + name + "}", await self.get(name))
            return value
        if isinstance(value, list):
            return [await self.fill(item) for item in value]
        if isinstance(value, dict):
            return {key: await self.fill(item) for key, item in value.items()}
        return value

    async def get(self, name: str) -> str:
        if name not in self.cache:
            self.cache[name] = await getattr(self, "make_" + name)()
        return self.cache[name]

    async def ok(self, response: httpx.Response, status: int = 201) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    # Makers (one per placeholder).

    async def make_ws(self) -> str:
        return self.world.workspace_id

    async def make_channel(self) -> str:
        return self.world.channel_id

    async def make_unique(self) -> str:
        return f"matrix-{len(self.cache)}-{self.principal.replace('_', '-')}"

    async def make_member2(self) -> str:
        return (await self.world.user("Second Member")).user_id

    async def make_partner(self) -> str:
        """Who the actor shares its DM with: the owner, or a second member for the owner."""
        if self.actor.user_id == self.world.owner.user_id:
            return await self.get("member2")
        return self.world.owner.user_id

    async def make_message(self) -> str:
        response = await self.actor.post(
            f"/api/channels/{self.world.channel_id}/messages",
            json={"body": "hello matrix", "nonce": NONCE},
        )
        return str((await self.ok(response))["message"]["id"])

    async def make_thread(self) -> str:
        root = await self.get("message")
        reply = await self.world.owner.post(
            f"/api/messages/{root}/thread/replies", json={"body": "owner reply"}
        )
        await self.ok(reply)
        return root

    async def make_reacted_message(self) -> str:
        message = await self.get("message")
        added = await self.actor.post(f"/api/messages/{message}/reactions", json={"emoji": EMOJI})
        await self.ok(added)
        return message

    async def make_dm(self) -> str:
        partner = await self.get("partner")
        response = await self.world.owner.post(
            "/api/dms",
            json={
                "workspace_id": self.world.workspace_id,
                "member_ids": [self.actor.user_id, partner],
            },
        )
        return str((await self.ok(response))["conversation"]["id"])

    async def make_dm_message(self) -> str:
        dm = await self.get("dm")
        response = await self.actor.post(f"/api/dms/{dm}/messages", json={"body": "hello dm"})
        return str((await self.ok(response))["message"]["id"])

    async def make_reacted_dm_message(self) -> str:
        message = await self.get("dm_message")
        added = await self.actor.post(f"/api/messages/{message}/reactions", json={"emoji": EMOJI})
        await self.ok(added)
        return message

    async def make_dm_upload(self) -> str:
        """The actor's upload, attached to the actor's DM message."""
        upload = await self.get("upload")
        message = await self.get("dm_message")
        attached = await self.actor.post(
            f"/api/messages/{message}/attachments", json={"upload_id": upload}
        )
        await self.ok(attached, 200)
        return upload

    async def make_dm_thread_route(self) -> str:
        """Opening a thread allocates the root's route id (DM roots included)."""
        root = await self.get("dm_message")
        response = await self.actor.get(f"/api/messages/{root}/thread")
        return str((await self.ok(response, 200))["root"]["route_id"])

    async def make_dm_thread(self) -> str:
        root = await self.get("dm_message")
        reply = await self.actor.post(
            f"/api/messages/{root}/thread/replies", json={"body": "dm reply"}
        )
        await self.ok(reply)
        return root

    async def make_upload_nonce(self) -> str:
        await self.get("upload")
        return "matrix-upload-nonce-1"

    async def make_upload(self) -> str:
        response = await self.actor.post(
            "/api/uploads",
            params={"workspace_id": self.world.workspace_id, "nonce": "matrix-upload-nonce-1"},
            files={"file": ("note.txt", b"hello upload", "text/plain")},
        )
        return str((await self.ok(response))["upload"]["id"])

    async def make_ws_route(self) -> str:
        response = await self.world.owner.get(f"/api/workspaces/{self.world.workspace_id}")
        return str((await self.ok(response, 200))["workspace"]["route_id"])

    async def make_channel_route(self) -> str:
        response = await self.world.owner.get(f"/api/workspaces/{self.world.workspace_id}/channels")
        channels = (await self.ok(response, 200))["channels"]
        [general] = [c for c in channels if c["id"] == self.world.channel_id]
        return str(general["route_id"])

    async def make_dm_route(self) -> str:
        dm = await self.get("dm")
        response = await self.actor.get(f"/api/dms/{dm}")
        return str((await self.ok(response, 200))["conversation"]["route_id"])

    async def make_thread_route(self) -> str:
        root = await self.get("thread")
        response = await self.actor.post(f"/api/messages/{root}/route")
        return str((await self.ok(response, 200))["message"]["route_id"])

    async def make_managed_bot(self) -> str:
        return (await self.world.bot(["bot:read"], name="Managed Bot")).user_id

    async def make_managed_token(self) -> str:
        bot = await self.get("managed_bot")
        token_id: str = await self.world.db.read(_token_id, bot)
        return token_id

    async def make_slash_command(self) -> str:
        bot = await self.get("managed_bot")
        response = await self.world.owner.post(
            f"/api/workspaces/{self.world.workspace_id}/slash-commands",
            json={"command": "/matrix", "callback_url": CALLBACK_URL, "bot_user_id": bot},
        )
        return str((await self.ok(response))["slash_command"]["id"])

    async def make_subscription(self) -> str:
        response = await self.world.owner.post(
            f"/api/workspaces/{self.world.workspace_id}/event-subscriptions",
            json={"event_types": ["*"], "callback_url": CALLBACK_URL},
        )
        return str((await self.ok(response))["event_subscription"]["id"])

    async def make_magic_token(self) -> str:
        token: str = await self.world.db.write(_mint_magic_link)
        return token


async def send(scene: Scene, row: Endpoint) -> httpx.Response:
    """Build the row's request from the scene's state and send it as the principal."""
    path = await scene.fill(row.path)
    for name in row.prepare:
        await scene.get(name)
    kwargs: dict[str, Any] = {}
    if row.params is not None:
        kwargs["params"] = await scene.fill(dict(row.params))
    if row.json is not None:
        kwargs["json"] = await scene.fill(row.json)
    if row.form is not None:
        kwargs["data"] = await scene.fill(dict(row.form))
    if row.upload:
        kwargs["params"] = {"workspace_id": scene.world.workspace_id}
        kwargs["files"] = {"file": ("matrix.txt", b"matrix bytes", "text/plain")}
    before = await fingerprint(scene.world)
    response = await scene.caller.request(row.method, path, **kwargs)
    if response.status_code >= 400:
        assert await fingerprint(scene.world) == before, "a refused request wrote something"
    return response


@pytest.mark.parametrize(("row", "principal"), cases())
async def test_scope_matrix(world: World, row: Endpoint, principal: str) -> None:
    scene = await Scene.create(world, principal, manager=row.manager)
    response = await send(scene, row)
    status, error = expected(row, principal)
    assert response.status_code == status, (
        f"{row.id} as {principal}: expected {status}, got {response.status_code} {response.text}"
    )
    if status >= 400:
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"error"}, body
        assert isinstance(body["error"], str) and body["error"], body
        if error is not None:
            assert body["error"] == error
    elif row.path == "/api/uploads/{upload}":
        assert response.content == b"hello upload"
    elif status != 204:
        body = response.json()
        assert isinstance(body, dict) and "error" not in body, body
        if row.key is not None:
            assert row.key in body, body


# Add-on scopes: what a bot needs on top of a route's own scope when the target is a DM, the
# message carries an upload, or the message is an agent-activity row (the parentheses of the
# 2.6 table). The bundles always grant these in pairs, so only concrete scope lists show them.


@attrs.frozen(kw_only=True)
class AddOn:
    """A row plus the concrete scopes that are not enough (``base``) and the one missing."""

    row: Endpoint
    base: tuple[str, ...]
    extra: str


ADD_ONS: tuple[AddOn, ...] = (
    AddOn(
        row=ep("GET", "/api/messages/{dm_message}", (), key="message"),
        base=("messages:read",),
        extra="dms:read",
    ),
    AddOn(
        row=ep("PATCH", "/api/messages/{dm_message}", (), key="event", json={"body": "edited"}),
        base=("messages:write",),
        extra="dms:write",
    ),
    AddOn(
        row=ep("DELETE", "/api/messages/{dm_message}", (), key="event"),
        base=("messages:write",),
        extra="dms:write",
    ),
    AddOn(
        row=ep(
            "POST",
            "/api/messages/{dm_message}/reactions",
            (),
            ok=201,
            key="reactions",
            json={"emoji": EMOJI},
        ),
        base=("messages:write",),
        extra="dms:write",
    ),
    AddOn(
        row=ep(
            "DELETE", "/api/messages/{reacted_dm_message}/reactions/" + EMOJI, (), key="reactions"
        ),
        base=("messages:write",),
        extra="dms:write",
    ),
    AddOn(
        row=ep("GET", "/api/messages/{dm_thread}/thread", (), key="replies"),
        base=("threads:read",),
        extra="dms:read",
    ),
    AddOn(
        row=ep(
            "POST",
            "/api/messages/{dm_message}/thread/replies",
            (),
            ok=201,
            key="events",
            json={"body": "a reply"},
        ),
        base=("threads:write",),
        extra="dms:write",
    ),
    AddOn(
        row=ep(
            "GET",
            "/api/search",
            (),
            key="results",
            params={"workspace_id": "{ws}", "q": "hello", "direct_conversation_id": "{dm}"},
        ),
        base=("messages:read",),
        extra="dms:read",
    ),
    AddOn(
        row=ep("GET", "/api/routes/{ws_route}/{dm_thread_route}", (), key="route"),
        base=("threads:read",),
        extra="dms:read",
    ),
    AddOn(
        row=ep(
            "POST",
            "/api/realtime/ephemeral",
            (),
            ok=202,
            key="event",
            json={
                "workspace_id": "{ws}",
                "direct_conversation_id": "{dm}",
                "type": "typing.started",
            },
        ),
        base=("messages:write",),
        extra="dms:write",
    ),
    AddOn(
        row=ep("GET", "/api/uploads/{dm_upload}", ()),
        base=("messages:read",),
        extra="dms:read",
    ),
    AddOn(
        row=ep(
            "POST",
            "/api/messages/{dm_message}/attachments",
            (),
            key="ok",
            json={"upload_id": "{upload}"},
        ),
        base=("uploads:write", "messages:write"),
        extra="dms:write",
    ),
    AddOn(
        row=ep(
            "POST",
            "/api/channels/{channel}/messages",
            (),
            ok=201,
            key="event",
            json={"body": "see attached", "upload_id": "{upload}"},
        ),
        base=("messages:write",),
        extra="uploads:write",
    ),
    AddOn(
        row=ep(
            "POST",
            "/api/dms/{dm}/messages",
            (),
            ok=201,
            key="event",
            json={"body": "see attached", "upload_id": "{upload}"},
        ),
        base=("dms:write",),
        extra="uploads:write",
    ),
    AddOn(
        row=ep(
            "POST",
            "/api/channels/{channel}/messages",
            (),
            ok=201,
            key="event",
            json={"body": "thinking", "kind": "agent_commentary", "turn_id": "turn-1"},
        ),
        base=("messages:write",),
        extra="agent_activity:write",
    ),
)


def add_on_cases() -> list[Any]:
    return [
        pytest.param(
            addon,
            granted,
            id=f"{addon.row.id} +{addon.extra}-{'granted' if granted else 'missing'}",
        )
        for addon in ADD_ONS
        for granted in (False, True)
    ]


@pytest.mark.parametrize(("addon", "granted"), add_on_cases())
async def test_add_on_scopes(world: World, addon: AddOn, granted: bool) -> None:
    scopes = [*addon.base, addon.extra] if granted else list(addon.base)
    scene = await Scene.create(world, "custom", manager=False, scopes=scopes)
    response = await send(scene, addon.row)
    if not granted:
        assert response.status_code == 403, response.text
        assert response.json() == {"error": f"bot token is missing scope {addon.extra}"}
        return
    assert response.status_code == addon.row.ok, response.text
    if addon.row.key is not None:
        assert addon.row.key in response.json()


async def test_agent_activity_needs_a_bot_token(world: World) -> None:
    """Agent-activity rows and ``agent.progress`` are for bot tokens only (403 for humans),
    and no bundle grants ``agent_activity:write``."""
    channel = f"/api/channels/{world.channel_id}/messages"
    activity = {"body": "thinking", "kind": "agent_tool", "turn_id": "turn-1"}
    progress = {
        "workspace_id": world.workspace_id,
        "channel_id": world.channel_id,
        "type": "agent.progress",
        "payload": {"turn_id": "turn-1"},
    }
    admin = await world.bot(["bot:admin"])
    before = await fingerprint(world)
    human = await world.owner.post(channel, json=activity)
    assert human.status_code == 403, human.text
    assert (await world.owner.post("/api/realtime/ephemeral", json=progress)).status_code == 403
    refused = await admin.post(channel, json=activity)
    assert refused.json() == {"error": "bot token is missing scope agent_activity:write"}
    assert await fingerprint(world) == before
    agent = await world.bot(["bot:write", "agent_activity:write"])
    assert (await agent.post(channel, json=activity)).status_code == 201
    published = await agent.post("/api/realtime/ephemeral", json=progress)
    assert published.status_code == 202, published.text
    assert published.json()["event"]["payload"]["user_id"] == agent.user_id


# The 3.1 texts, plus the one docs/protocol-notes.md records for channel updates, and the
# reference server's text for the moderation endpoints (managers who may act only).
MANAGER_DENIALS = frozenset(
    {
        "workspace manager permission required",
        "workspace owner permission required",
        "channel admin permission required",
        "moderation restriction",
    }
)


@pytest.mark.parametrize("row", [pytest.param(row, id=row.id) for row in ENDPOINTS if row.manager])
async def test_manager_rows_refuse_plain_members(world: World, row: Endpoint) -> None:
    """The rows the matrix runs as the owner answer 403 to a plain member (protocol 2.7)."""
    scene = await Scene.create(world, HUMAN_P, manager=False)
    response = await send(scene, row)
    assert response.status_code == 403, response.text
    assert response.json()["error"] in MANAGER_DENIALS


def test_matrix_covers_every_routed_endpoint() -> None:
    """Every HTTP route the app serves is a row here (the WebSocket is the one exception)."""
    from starlette.routing import Route

    from clickclack_server.app import AREAS

    routed = {
        (method, route.path)
        for area in AREAS
        for route in area.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    listed = {(row.method, _template(row.path)) for row in ENDPOINTS}
    assert routed - listed == set(), "routes missing from the matrix"
    assert listed - routed == set(), "matrix rows that are not routed"


def _template(path: str) -> str:
    """A matrix path in the router's spelling: placeholders renamed to the route's params."""
    replacements = {
        "{ws}": "{workspace_id}",
        "{channel}": "{channel_id}",
        "{message}": "{message_id}",
        "{dm_message}": "{message_id}",
        "{thread}": "{message_id}",
        "{dm_thread}": "{message_id}",
        "{reacted_message}": "{message_id}",
        "{dm}": "{conversation_id}",
        "{upload}": "{upload_id}",
        "{managed_bot}": "{bot_user_id}",
        "{managed_token}": "{token_id}",
        "{slash_command}": "{command_id}",
        "{subscription}": "{subscription_id}",
        "{member2}": "{user_id}",
        "{ws_route}": "{workspace_route_id}",
        "{channel_route}": "{target_route_id}",
        "{dm_route}": "{target_route_id}",
        "{thread_route}": "{target_route_id}",
        "/" + EMOJI: "/{emoji:path}",
    }
    for old, new in replacements.items():
        path = path.replace(old, new)
    return path
