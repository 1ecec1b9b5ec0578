"""Realtime building blocks without sockets: retention, the ring, the visibility rule, frames
and the batched credential recheck."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clickclack_server import ids
from clickclack_server.auth import Actor
from clickclack_server.db import Database, Tx
from clickclack_server.errors import Invalid, NotFound
from clickclack_server.realtime import closes
from clickclack_server.realtime.frames import LogEvent, ephemeral_id
from clickclack_server.realtime.ring import Ring
from clickclack_server.realtime.visibility import Audience, WorkspaceAccess, may_see
from clickclack_server.store import bots as bot_store
from clickclack_server.store import realtime as realtime_store
from clickclack_server.store import sessions as session_store
from clickclack_server.store import users as user_store
from clickclack_server.store.events import insert_event

DAY_NS = 86_400 * 1_000_000_000


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "store.db")
    database.migrate()
    yield database
    database.close()


@pytest.fixture
def boot(db: Database) -> user_store.BootstrapResult:
    return db.write_sync(user_store.bootstrap, name="Owner", email="owner@example.com")


def _event_at(
    tx: Tx, workspace_id: str, created_ns: int, recipients: list[str] | None = None
) -> str:
    event = insert_event(
        tx, workspace_id=workspace_id, type="workspace.updated", payload={}, recipients=recipients
    )
    tx.execute(
        "UPDATE events SET created_at = ? WHERE id = ?", (ids.format_ns(created_ns), event.id)
    )
    return event.cursor


def _cursors(db: Database, workspace_id: str) -> list[str]:
    return [
        row[0]
        for row in db.read_sync(
            lambda tx: tx.all(
                "SELECT cursor FROM events WHERE workspace_id = ? ORDER BY cursor", (workspace_id,)
            )
        )
    ]


# Retention (protocol 4.8).


def test_prune_by_age_before_and_keep_latest(
    db: Database, boot: user_store.BootstrapResult
) -> None:
    now = 1_800_000_000 * 1_000_000_000
    workspace = boot.workspace_id
    other = db.write_sync(lambda tx: user_store.insert_workspace(tx, name="Other", slug="other").id)
    ages = [10, 9, 8, 3, 2, 1]
    made = db.write_sync(
        lambda tx: [_event_at(tx, workspace, now - days * DAY_NS, [boot.user_id]) for days in ages]
    )
    db.write_sync(lambda tx: _event_at(tx, other, now - 30 * DAY_NS))

    pruned = db.write_sync(realtime_store.prune_events, workspace, older_than_days=9, now_ns=now)
    assert pruned == 1  # strictly older than 9 days: only the 10-day-old event
    assert _cursors(db, workspace) == made[1:]

    cutoff = ids.format_ns(now - 5 * DAY_NS).replace("Z", "+00:00")
    pruned = db.write_sync(realtime_store.prune_events, workspace, before=cutoff, keep_latest=4)
    assert pruned == 1  # 9 days old goes; 8 days old is among the newest four
    assert _cursors(db, workspace) == made[2:]

    assert db.write_sync(realtime_store.prune_events, workspace, keep_latest=10) == 0
    assert db.write_sync(realtime_store.prune_events, workspace, keep_latest=1) == 3
    assert _cursors(db, workspace) == made[-1:]
    # Recipient rows went with their events; the other workspace was not touched.
    recipients = db.read_sync(lambda tx: tx.scalar("SELECT count(*) FROM event_recipients"))
    assert recipients == 1
    assert len(_cursors(db, other)) == 1
    assert db.write_sync(realtime_store.prune_events, workspace, keep_latest=0) == 1
    assert _cursors(db, workspace) == []


def test_prune_arguments(db: Database, boot: user_store.BootstrapResult) -> None:
    workspace = boot.workspace_id
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "one of --older-than-days, --before or --keep-latest is required"),
        (
            {"older_than_days": 1, "before": "2026-01-01T00:00:00Z"},
            "--older-than-days and --before are mutually exclusive",
        ),
        ({"older_than_days": -1}, "--older-than-days must not be negative"),
        ({"keep_latest": -1}, "--keep-latest must not be negative"),
        ({"before": "yesterday"}, "invalid --before 'yesterday'; expected RFC 3339"),
        (
            {"before": "2026-01-01T00:00:00"},
            "invalid --before '2026-01-01T00:00:00'; expected RFC 3339",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(Invalid, match=f"^{re.escape(message)}$"):
            db.write_sync(realtime_store.prune_events, workspace, **kwargs)
    with pytest.raises(NotFound):
        db.write_sync(realtime_store.prune_events, "wsp_missing", keep_latest=1)


# The ring.


def _log(cursor: str) -> LogEvent:
    return LogEvent(cursor=cursor, type="workspace.updated", audience=Audience(), frame=cursor)


def test_ring_covers_exactly_base_to_tail() -> None:
    ring = Ring("c00", capacity=4)
    assert ring.tail == "c00" and ring.after("c00") == []
    ring.extend([_log(f"c{n:02d}") for n in range(1, 4)])
    assert [event.cursor for event in ring.after("c01") or []] == ["c02", "c03"]
    assert ring.after("b99") is None
    with pytest.raises(ValueError, match="follow the tail"):
        ring.extend([_log("c02")])
    ring.extend([_log(f"c{n:02d}") for n in range(4, 10)])
    assert ring.tail == "c09"
    assert len(ring) == 4 and ring.base == "c05"
    assert ring.after("c04") is None
    assert [event.cursor for event in ring.after("c05") or []] == ["c06", "c07", "c08", "c09"]


@settings(max_examples=100, deadline=None)
@given(
    batches=st.lists(st.integers(0, 12), max_size=12),
    capacity=st.integers(1, 16),
    position=st.integers(0, 120),
)
def test_ring_after_is_the_log_suffix_or_none(
    batches: list[int], capacity: int, position: int
) -> None:
    ring = Ring("c0000", capacity)
    log: list[str] = []
    for size in batches:
        batch = [f"c{len(log) + n + 1:04d}" for n in range(size)]
        ring.extend([_log(cursor) for cursor in batch])
        log.extend(batch)
    at = f"c{position:04d}"
    found = ring.after(at)
    if found is None:
        assert at < ring.base
    else:
        assert [event.cursor for event in found] == [cursor for cursor in log if cursor > at]
    assert len(ring) <= capacity + capacity // 4
    assert ring.tail == (log[-1] if log else "c0000")


# The visibility rule (protocol 4.5).


ACCESS = WorkspaceAccess(
    workspace_id="wsp_1",
    roles={"owner": "owner", "member": "member", "guest": "guest", "bot": "bot"},
    channels={"chn_general": "general", "chn_guest": "guest"},
    conversations={"dm_1": frozenset({"member", "guest"})},
)


@pytest.mark.parametrize(
    ("audience", "allowed"),
    [
        (Audience(), {"owner", "member", "guest", "bot"}),
        (Audience(channel_id="chn_general"), {"owner", "member", "bot"}),
        (Audience(channel_id="chn_guest"), {"owner", "member", "guest", "bot"}),
        (Audience(channel_id="chn_elsewhere"), set()),
        (Audience(conversation_id="dm_1"), {"member"}),
        (Audience(conversation_id="dm_unknown"), set()),
        (Audience(recipients=frozenset({"bot", "guest"})), {"bot", "guest"}),
        (Audience(channel_id="chn_general", recipients=frozenset({"guest", "owner"})), {"owner"}),
        (Audience(conversation_id="dm_1", recipients=frozenset({"owner", "member"})), {"member"}),
    ],
)
def test_may_see(audience: Audience, allowed: set[str]) -> None:
    readers = {"owner", "member", "guest", "bot", "stranger"}
    assert {reader for reader in readers if may_see(reader, audience, ACCESS)} == allowed


def test_audience_reads_the_conversation_from_the_payload() -> None:
    assert Audience.of("chn_1", {"direct_conversation_id": "dm_1"}, ["a"]) == Audience(
        channel_id="chn_1", conversation_id="dm_1", recipients=frozenset({"a"})
    )
    assert Audience.of(None, {"direct_conversation_id": ""}, None) == Audience()
    assert Audience.of("", None) == Audience()
    assert ACCESS.lacks(Audience(conversation_id="dm_2"))
    assert ACCESS.lacks(Audience(channel_id="chn_2"))
    assert not ACCESS.lacks(Audience(channel_id="chn_general", conversation_id="dm_1"))


# Frames.


def test_frames_follow_the_wire_model() -> None:
    plain = LogEvent.build(
        id="evt_1",
        cursor="cur_1",
        type="workspace.updated",
        workspace_id="wsp_1",
        channel_id=None,
        seq=None,
        created_at="2026-05-08T12:00:00.120000000Z",
        payload={"workspace_id": "wsp_1"},
        recipients=["usr_secret"],
    )
    assert json.loads(plain.frame) == {
        "id": "evt_1",
        "cursor": "cur_1",
        "type": "workspace.updated",
        "workspace_id": "wsp_1",
        "created_at": "2026-05-08T12:00:00.12Z",
        "payload": {"workspace_id": "wsp_1"},
    }
    assert "usr_secret" not in plain.frame
    sequenced = LogEvent.build(
        id="evt_2",
        cursor="cur_2",
        type="message.created",
        workspace_id="wsp_1",
        channel_id="chn_1",
        seq=4,
        created_at="2026-05-08T12:00:00.000000000Z",
        payload={"message_id": "msg_1"},
        recipients=None,
    )
    assert json.loads(sequenced.frame)["seq"] == 4
    assert json.loads(sequenced.frame)["channel_id"] == "chn_1"
    assert json.loads(sequenced.frame)["created_at"] == "2026-05-08T12:00:00Z"


def test_ephemeral_id_format() -> None:
    assert ephemeral_id(1_778_241_600_000_000_005) == "eph_20260508120000.000000005"
    assert re.match(r"^eph_\d{14}\.\d{9}$", ephemeral_id())


# Batched credential rechecks.


def test_check_credentials(db: Database, boot: user_store.BootstrapResult) -> None:
    workspace = boot.workspace_id

    def setup(tx: Tx) -> dict[str, Any]:
        member = user_store.create_user(tx, display_name="M", email="m@example.com")
        user_store.add_member(tx, workspace, member.id, "member")
        live = session_store.create_session(tx, member.id)
        dead = session_store.create_session(tx, member.id)
        session_store.revoke_session(tx, dead.token)
        bot = bot_store.create_bot_user(tx, workspace_id=workspace, display_name="B")
        token = bot_store.mint_token(
            tx, bot_user_id=bot.id, workspace_id=workspace, owner_user_id=None
        )
        revoked = bot_store.mint_token(
            tx, bot_user_id=bot.id, workspace_id=workspace, owner_user_id=None
        )
        tx.execute("UPDATE bot_tokens SET revoked_at = ? WHERE id = ?", (ids.now(), revoked.id))
        expired = session_store.create_session(tx, member.id)
        tx.execute(
            "UPDATE sessions SET expires_at = ? WHERE token_hash = ?",
            ("2000-01-01T00:00:00.000000000Z", ids.hash_token(expired.token or "")),
        )
        return {
            "member": member.id,
            "live": live.id,
            "dead": dead.id,
            "expired": expired.id,
            "bot": bot.id,
            "token": token.id,
            "revoked": revoked.id,
        }

    made = db.write_sync(setup)

    def human(session_id: str | None, user_id: str = made["member"]) -> Actor:
        return Actor(user_id=user_id, kind="human", via="session", session_id=session_id)

    def bot(token_id: str) -> Actor:
        return Actor(
            user_id=made["bot"],
            kind="bot",
            via="bot_token",
            bot_token_id=token_id,
            token_workspace_id=workspace,
            scopes=frozenset({"realtime:read"}),
        )

    sockets = [
        (human(made["live"]), workspace),
        (human(made["dead"]), workspace),
        (human(made["expired"]), workspace),
        (human(made["live"]), "wsp_elsewhere"),
        (bot(made["token"]), workspace),
        (bot(made["revoked"]), workspace),
        (Actor(user_id=boot.user_id, kind="human", via="dev"), workspace),
    ]
    assert db.read_sync(realtime_store.check_credentials, sockets) == [
        None,
        closes.SESSION_REVOKED,
        closes.SESSION_REVOKED,
        closes.ACCESS_REVOKED,
        None,
        closes.BOT_TOKEN_REVOKED,
        None,
    ]
    db.write_sync(
        lambda tx: tx.execute("DELETE FROM workspace_members WHERE user_id = ?", (made["bot"],))
    )
    assert db.read_sync(realtime_store.check_credentials, sockets[4:5]) == [closes.ACCESS_REVOKED]
    assert db.read_sync(realtime_store.check_credentials, []) == []
