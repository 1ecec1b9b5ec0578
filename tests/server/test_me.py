"""``/api/me`` and ``/api/me/bots`` (protocol 3.4) against a real server."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from clickclack_server import ids
from clickclack_server.errors import Invalid
from clickclack_server.store import bots as bot_store
from clickclack_server.store import sessions as session_store
from clickclack_server.store import users as user_store
from clickclack_server.store.rows import gravatar
from clickclack_server.text import normalize_handle
from tests.conftest import Caller, World
from tests.server.test_auth import serving

PUSHOVER_KEY = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"


async def profile(caller: Caller) -> dict[str, Any]:
    response = await caller.get("/api/me")
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


async def test_get_me_for_a_human(world: World) -> None:
    response = await world.owner.get("/api/me")
    assert response.status_code == 200
    assert response.text.endswith("}\n")
    user = response.json()["user"]
    assert user == {
        "id": world.owner.user_id,
        "kind": "human",
        "display_name": "Owner",
        "handle": "",
        "avatar_url": gravatar("owner@example.com"),
        "created_at": user["created_at"],
        "notification_settings": {"pushover_enabled": False, "pushover_user_key": ""},
        "password_enrolled": False,
    }
    assert ids.parse_rfc3339_ns(user["created_at"]) > 0


async def test_get_me_for_bots_needs_profile_read(world: World) -> None:
    reader = await world.bot(["bot:read"], name="Reader Bot")
    user = await profile(reader)
    assert user["id"] == reader.user_id
    assert user["kind"] == "bot"
    assert user["display_name"] == "Reader Bot"
    assert user["password_enrolled"] is False
    narrow = await world.bot(["channels:read"])
    refused = await narrow.get("/api/me")
    assert refused.status_code == 403
    assert refused.json() == {"error": "bot token is missing scope profile:read"}
    # A bot token bound to another workspace still reads its own profile: /api/me is not
    # workspace-scoped.
    other = await world.workspace("Elsewhere")
    elsewhere = await world.bot(["profile:read"], workspace_id=other)
    assert (await profile(elsewhere))["id"] == elsewhere.user_id
    anonymous = await world.anon().get("/api/me")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "authentication required"}


async def test_patch_me_updates_only_what_is_given(world: World) -> None:
    user = await world.user("Ada Person")
    response = await user.patch(
        "/api/me",
        json={
            "display_name": "  Ada  ",
            "handle": "@Ada_L",
            "avatar_url": " https://img.example/a.png ",
        },
    )
    assert response.status_code == 200, response.text
    patched = response.json()["user"]
    assert patched["display_name"] == "Ada"
    assert patched["handle"] == "ada_l"
    assert patched["avatar_url"] == "https://img.example/a.png"
    assert patched["password_enrolled"] is False
    assert patched == await profile(user)
    only_handle = await user.patch("/api/me", json={"handle": "ada-two", "display_name": None})
    assert only_handle.json()["user"]["display_name"] == "Ada"
    assert only_handle.json()["user"]["handle"] == "ada-two"
    nothing = await user.patch("/api/me", json={"unknown": 1})
    assert nothing.status_code == 200
    assert nothing.json()["user"] == only_handle.json()["user"]
    cleared = await user.patch("/api/me", json={"handle": "", "avatar_url": ""})
    body = cleared.json()["user"]
    assert body["handle"] == ""
    assert body["avatar_url"] == gravatar("ada.person@example.com")
    exact = await user.patch("/api/me", json={"display_name": "x" * 80})
    assert exact.json()["user"]["display_name"] == "x" * 80


async def test_patch_me_rejects_bad_input_and_writes_nothing(world: World) -> None:
    user = await world.user("Steady")
    before = await profile(user)
    cases: list[tuple[Any, str | None]] = [
        ({"display_name": ""}, "display_name is required"),
        ({"display_name": "   "}, "display_name is required"),
        ({"display_name": "é" * 41}, "display_name is too long"),
        ({"display_name": 5}, None),
        ({"handle": "a"}, None),
        ({"handle": "bad handle"}, None),
        ({"handle": "-dash"}, None),
        ({"handle": ["x"]}, None),
        ({"avatar_url": "ftp://files.example/a.png"}, "avatar_url must be an http or https URL"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url must be an http or https URL"),
        ({"avatar_url": "https://"}, "avatar_url must be an http or https URL"),
        ({"avatar_url": "/api/uploads/upl_x"}, "avatar_url must be an http or https URL"),
        (
            {"avatar_url": "https://img.example/" + "a" * 500},
            "avatar_url must be at most 500 characters",
        ),
        (
            {"notification_settings": {"pushover_enabled": True}},
            "pushover_user_key is required when pushover notifications are enabled",
        ),
        (
            {"notification_settings": {"pushover_user_key": "short"}},
            "pushover_user_key must be 30 alphanumeric characters",
        ),
        (
            {"notification_settings": {"pushover_user_key": PUSHOVER_KEY[:-1] + "!"}},
            "pushover_user_key must be 30 alphanumeric characters",
        ),
        ({"notification_settings": {"pushover_enabled": "yes"}}, None),
        ({"notification_settings": "on"}, None),
        ({"appearance_preferences": {"color_mode": "neon"}}, "color_mode is invalid"),
        ({"appearance_preferences": {"board_theme": "Ember"}}, "board_theme is invalid"),
        ({"appearance_preferences": {"message_layout": "grid"}}, "message_layout is invalid"),
        ({"appearance_preferences": {"density": 3}}, None),
        ({"appearance_preferences": ["dark"]}, None),
        # A valid field next to an invalid one must not be applied either.
        ({"display_name": "Changed", "avatar_url": "nope"}, None),
        ({"display_name": "Changed", "appearance_preferences": {"density": "tiny"}}, None),
    ]
    for body, message in cases:
        response = await user.patch("/api/me", json=body)
        assert response.status_code == 400, (body, response.text)
        if message is not None:
            assert response.json() == {"error": message}, body
    for raw, message in ((b"", "EOF"), (b"[]", None), (b"{", None), (b'{"a":1} {}', None)):
        response = await user.patch(
            "/api/me", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, raw
        if message is not None:
            assert response.json() == {"error": message}
    assert await profile(user) == before


async def test_duplicate_handles_are_refused(world: World) -> None:
    first = await world.user("First Handle")
    second = await world.user("Second Handle")
    assert (await first.patch("/api/me", json={"handle": "taken"})).status_code == 200
    for attempt in ("taken", "@Taken", " TAKEN "):
        response = await second.patch("/api/me", json={"handle": attempt})
        assert response.status_code == 400
        assert response.json() == {"error": "handle is already taken"}
    same = await first.patch("/api/me", json={"handle": "@taken"})
    assert same.status_code == 200

    def bot_with_handle(tx: Any) -> None:
        bot_store.create_bot_user(
            tx, workspace_id=world.workspace_id, display_name="Handled Bot", handle="botty"
        )

    await world.db.write(bot_with_handle)
    bot_clash = await second.patch("/api/me", json={"handle": "botty"})
    assert bot_clash.json() == {"error": "handle is already taken"}
    assert (await profile(second))["handle"] == ""


async def test_notification_settings_and_appearance(world: World) -> None:
    user = await world.user("Prefs")
    assert "appearance_preferences" not in await profile(user)
    empty = await user.patch("/api/me", json={"appearance_preferences": {}})
    assert "appearance_preferences" not in empty.json()["user"]

    enabled = await user.patch(
        "/api/me",
        json={
            "notification_settings": {
                "pushover_enabled": True,
                "pushover_user_key": f" {PUSHOVER_KEY} ",
            }
        },
    )
    assert enabled.json()["user"]["notification_settings"] == {
        "pushover_enabled": True,
        "pushover_user_key": PUSHOVER_KEY,
    }
    assert (await profile(user))["notification_settings"]["pushover_enabled"] is True
    disabled = await user.patch(
        "/api/me", json={"notification_settings": {"pushover_enabled": False}}
    )
    assert disabled.json()["user"]["notification_settings"] == {
        "pushover_enabled": False,
        "pushover_user_key": "",
    }

    dark = await user.patch(
        "/api/me",
        json={"appearance_preferences": {"color_mode": "dark", "density": "compact"}},
    )
    assert dark.json()["user"]["appearance_preferences"] == {
        "color_mode": "dark",
        "density": "compact",
    }
    themed = await user.patch(
        "/api/me",
        json={"appearance_preferences": {"board_theme": "moss", "message_layout": "outlined"}},
    )
    assert themed.json()["user"]["appearance_preferences"] == {
        "color_mode": "dark",
        "density": "compact",
        "board_theme": "moss",
        "message_layout": "outlined",
    }
    defaults = await user.patch(
        "/api/me",
        json={
            "appearance_preferences": {
                "color_mode": "system",
                "density": "comfortable",
                "board_theme": "signal",
                "message_layout": "",
            }
        },
    )
    assert defaults.json()["user"]["appearance_preferences"] == {}
    assert (await profile(user))["appearance_preferences"] == {}
    # Other users are untouched.
    assert "appearance_preferences" not in await profile(world.owner)


async def test_patch_me_is_for_humans_only(world: World) -> None:
    bot = await world.bot(["bot:admin"])
    before = await profile(bot)
    refused = await bot.patch("/api/me", json={"display_name": "Renamed"})
    assert refused.status_code == 403
    assert refused.json() == {"error": "bot tokens cannot update profiles"}
    assert await profile(bot) == before
    anonymous = await world.anon().patch("/api/me", json={"display_name": "x"})
    assert anonymous.status_code == 401


async def test_my_bots(world: World) -> None:
    owner = world.owner
    other_space = await world.workspace("Second Space")
    left_space = await world.workspace("Left Space")
    mine = await world.bot(owner_user_id=owner.user_id, name="Mine")
    elsewhere = await world.bot(owner_user_id=owner.user_id, workspace_id=other_space, name="Far")
    orphaned = await world.bot(owner_user_id=owner.user_id, workspace_id=left_space, name="Left")
    await world.bot(name="Service Bot")
    stranger = await world.user("Stranger")
    await world.bot(owner_user_id=stranger.user_id, name="Not Mine")
    deleted = await world.bot(owner_user_id=owner.user_id, name="Deleted")

    def arrange(tx: Any) -> None:
        token = bot_store.mint_token(
            tx,
            bot_user_id=mine.user_id,
            workspace_id=world.workspace_id,
            owner_user_id=owner.user_id,
        )
        bot_store.mint_token(
            tx,
            bot_user_id=mine.user_id,
            workspace_id=world.workspace_id,
            owner_user_id=owner.user_id,
        )
        tx.execute("UPDATE bot_tokens SET revoked_at = ? WHERE id = ?", (ids.now(), token.id))
        # The owner's bot also joins the second workspace (no token there).
        user_store.add_member(tx, other_space, mine.user_id, "bot")
        tx.execute("UPDATE users SET deleted_at = ? WHERE id = ?", (ids.now(), deleted.user_id))
        tx.execute(
            "DELETE FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
            (left_space, owner.user_id),
        )

    await world.db.write(arrange)
    response = await owner.get("/api/me/bots")
    assert response.status_code == 200, response.text
    entries = response.json()["bots"]
    spaces = {
        space["id"]: space for space in (await owner.get("/api/workspaces")).json()["workspaces"]
    }
    summary = [(e["bot"]["id"], e["workspace"]["id"], e["active_token_count"]) for e in entries]
    assert summary == [
        (mine.user_id, world.workspace_id, 2),
        (mine.user_id, other_space, 0),
        (elsewhere.user_id, other_space, 1),
    ]
    assert orphaned.user_id not in {e["bot"]["id"] for e in entries}
    first = entries[0]
    assert set(first) == {"bot", "workspace", "active_token_count"}
    assert first["bot"]["kind"] == "bot"
    assert first["bot"]["owner_user_id"] == owner.user_id
    assert first["bot"]["display_name"] == "Mine"
    main = spaces[world.workspace_id]
    assert first["workspace"] == {
        "id": main["id"],
        "route_id": main["route_id"],
        "name": main["name"],
    }

    assert (await stranger.get("/api/me/bots")).json()["bots"][0]["bot"][
        "display_name"
    ] == "Not Mine"
    nobody = await world.user("No Bots")
    assert (await nobody.get("/api/me/bots")).json() == {"bots": []}
    as_bot = await mine.get("/api/me/bots")
    assert as_bot.status_code == 403
    assert as_bot.json() == {"error": "bot tokens cannot list owned bots"}
    assert (await world.anon().get("/api/me/bots")).status_code == 401


handles = st.from_regex(r"@?[A-Za-z0-9][A-Za-z0-9_-]{1,31}", fullmatch=True)
junk = st.text(min_size=0, max_size=40)
names = st.text(min_size=0, max_size=90)


def expected_handle(raw: str) -> str | None:
    try:
        return normalize_handle(raw)
    except Invalid:
        return None


@settings(max_examples=20, deadline=None)
@given(
    raw_handles=st.lists(handles | junk, min_size=1, max_size=4),
    raw_names=st.lists(names, max_size=3),
)
async def test_profile_fields_roundtrip(raw_handles: list[str], raw_names: list[str]) -> None:
    """Handles normalise like ``@Name`` -> ``name``; anything else is refused and changes nothing;
    display names are trimmed and bounded by 80 bytes."""
    async with serving() as running:
        boot = await running.server.db.write(
            user_store.bootstrap, name="Owner", email="owner@example.com"
        )
        session = await running.server.db.write(session_store.create_session, boot.user_id)
        async with httpx.AsyncClient(base_url=running.url) as http:
            me = Caller(http, boot.user_id, session.token)
            current = await profile(me)
            for raw in raw_handles:
                response = await me.patch("/api/me", json={"handle": raw})
                want = expected_handle(raw)
                if want is None:
                    assert response.status_code == 400, raw
                else:
                    assert response.status_code == 200, (raw, response.text)
                    current = response.json()["user"]
                    assert current["handle"] == want
                assert await profile(me) == current
            for raw in raw_names:
                response = await me.patch("/api/me", json={"display_name": raw})
                trimmed = raw.strip()
                if not trimmed or len(trimmed.encode()) > 80:
                    assert response.status_code == 400, raw
                else:
                    assert response.status_code == 200, (raw, response.text)
                    current = response.json()["user"]
                    assert current["display_name"] == trimmed
                assert await profile(me) == current
