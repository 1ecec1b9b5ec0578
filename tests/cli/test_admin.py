"""``clickclack admin ...`` run as a real subprocess against temporary data directories."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import Booted, DataDir, cli_env, run

ID = re.compile(r"^usr_[0-9a-z]{26}$")
MEMBER_LINE = re.compile(
    r"^workspace=(wsp_[0-9a-z]{26}) user=(usr_[0-9a-z]{26}) role=(\w+) status=(added|already_member)$"
)
BOT_WRITE = [
    "channels:read",
    "commands:write",
    "dms:read",
    "dms:write",
    "messages:read",
    "messages:write",
    "profile:read",
    "realtime:read",
    "threads:read",
    "threads:write",
    "uploads:write",
    "workspaces:read",
]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def migration_names() -> list[str]:
    folder = Path(__file__).parents[2] / "server" / "clickclack_server" / "db" / "migrations"
    return sorted(path.name for path in folder.glob("*.sql"))


# bootstrap


def test_bootstrap_creates_first_user_workspace_and_general(data: DataDir) -> None:
    user_id = data.ok("admin", "bootstrap", "--name", "Peter", "--email", " Peter@Example.COM ")
    assert ID.match(user_id)
    assert data.path.is_dir() and data.db_path.is_file()
    assert [row[0] for row in data.query("SELECT name FROM schema_migrations ORDER BY name")] == (
        migration_names()
    )
    assert data.query("SELECT display_name, email, kind FROM users") == [
        ("Peter", "peter@example.com", "human")
    ]
    [(workspace_id, name, slug)] = data.query("SELECT id, name, slug FROM workspaces")
    assert (name, slug) == ("ClickClack", "clickclack")
    assert data.query("SELECT user_id, role FROM workspace_members") == [(user_id, "owner")]
    assert data.query("SELECT workspace_id, name FROM channels") == [(workspace_id, "general")]


def test_bootstrap_is_idempotent(data: DataDir) -> None:
    first = data.ok("admin", "bootstrap")
    assert data.scalar("SELECT display_name FROM users") == "Owner"
    again = data.ok("admin", "bootstrap", "--name", "Someone Else", "--email", "else@example.com")
    assert again == first
    assert data.scalar("SELECT count(*) FROM users") == 1
    assert data.scalar("SELECT count(*) FROM workspaces") == 1
    assert data.scalar("SELECT count(*) FROM channels") == 1


def test_bootstrap_rejects_bad_input_before_touching_anything(data: DataDir) -> None:
    assert "not a valid email" in data.fails(2, "admin", "bootstrap", "--email", "nobody")
    assert "at most 80 bytes" in data.fails(2, "admin", "bootstrap", "--name", "x" * 81)
    assert not data.db_path.exists()


def test_data_comes_from_the_environment_and_db_flag(tmp_path: Path) -> None:
    env = cli_env(CLICKCLACK_DATA=str(tmp_path / "from-env"))
    user_id = run("admin", "bootstrap", env=env).line()
    assert (tmp_path / "from-env" / "clickclack.db").is_file()
    other = tmp_path / "elsewhere" / "chat.db"
    second = run("admin", "bootstrap", "--db", f"sqlite://{other}", env=env).line()
    assert other.is_file() and second != user_id
    bad = run("admin", "bootstrap", "--db", "postgres://db.example/chat", env=env)
    assert "postgres is not supported" in bad.error(2)


# user create


def test_user_create_defaults_and_workspace_membership(booted: Booted) -> None:
    data = booted.data
    plain = data.ok("admin", "user", "create")
    assert ID.match(plain)
    assert data.query("SELECT display_name, email FROM users WHERE id = ?", (plain,)) == [
        ("Local User", "")
    ]
    assert data.scalar("SELECT count(*) FROM workspace_members WHERE user_id = ?", (plain,)) == 0
    by_slug = data.ok(
        "admin", "user", "create", "--name", "Ari", "--email", "ARI@example.com",
        "--workspace", "ClickClack",
    )  # fmt: skip
    by_id = data.ok("admin", "user", "create", "--name", "Bo", "--workspace", booted.workspace_id)
    for user_id in (by_slug, by_id):
        assert data.query(
            "SELECT workspace_id, role FROM workspace_members WHERE user_id = ?", (user_id,)
        ) == [(booted.workspace_id, "member")]
    assert data.scalar("SELECT email FROM users WHERE id = ?", (by_slug,)) == "ari@example.com"
    assert data.scalar("SELECT user_id FROM identities WHERE email = 'ari@example.com'") == by_slug


def test_user_create_errors_write_nothing(booted: Booted) -> None:
    data = booted.data
    users_before = data.scalar("SELECT count(*) FROM users")
    error = data.fails(2, "admin", "user", "create", "--email", "not-an-email")
    assert error == "--email is not a valid email address: 'not-an-email'"
    assert data.fails(4, "admin", "user", "create", "--workspace", "nope") == (
        "workspace not found: nope"
    )
    taken = data.fails(1, "admin", "user", "create", "--email", "Owner@example.com")
    assert taken == f"a user with email owner@example.com already exists: {booted.owner_id}"
    assert data.scalar("SELECT count(*) FROM users") == users_before


# member add


def test_member_add_by_email_and_user_reports_status(booted: Booted) -> None:
    data = booted.data
    ari = data.ok("admin", "user", "create", "--name", "Ari", "--email", "ari@example.com")
    bo = data.ok("admin", "user", "create", "--name", "Bo")
    base = ["admin", "member", "add", "--workspace", "clickclack", "--created-by"]
    match = MEMBER_LINE.match(data.ok(*base, booted.owner_id, "--email", "ARI@example.com"))
    assert match is not None
    assert match.groups() == (booted.workspace_id, ari, "member", "added")
    again = data.ok(*base, "owner@example.com", "--email", "ari@example.com", "--role", "moderator")
    assert again == f"workspace={booted.workspace_id} user={ari} role=member status=already_member"
    moderator = data.ok(*base, booted.owner_id, "--user", bo, "--role", "Moderator")
    assert moderator == f"workspace={booted.workspace_id} user={bo} role=moderator status=added"
    # A moderator may add members too.
    cy = data.ok("admin", "user", "create", "--name", "Cy")
    assert data.ok(*base, bo, "--user", cy).endswith("role=member status=added")
    assert data.query(
        "SELECT user_id, role FROM workspace_members WHERE workspace_id = ? ORDER BY user_id",
        (booted.workspace_id,),
    ) == sorted([(booted.owner_id, "owner"), (ari, "member"), (bo, "moderator"), (cy, "member")])


def test_member_add_errors(booted: Booted) -> None:
    data = booted.data
    ari = data.ok("admin", "user", "create", "--name", "Ari", "--email", "ari@example.com")
    outsider = data.ok("admin", "user", "create", "--name", "Out")
    bot_token = data.ok(
        "admin", "bot", "create", "--workspace", "clickclack", "--name", "B", "--plain"
    )
    bot_id = data.scalar(
        "SELECT bot_user_id FROM bot_tokens WHERE token_hash = ?", (sha256(bot_token),)
    )
    add = ["admin", "member", "add", "--workspace", "clickclack"]
    owner = ["--created-by", booted.owner_id]
    assert data.fails(2, *add, *owner) == "exactly one of --email or --user is required"
    assert data.fails(2, *add, *owner, "--email", "ari@example.com", "--user", ari) == (
        "exactly one of --email or --user is required"
    )
    assert data.fails(2, *add, *owner, "--user", ari, "--role", "owner").startswith(
        "--role must be member or moderator"
    )
    assert data.fails(2, *add, *owner, "--email", "ari") == (
        "--email is not a valid email address: 'ari'"
    )
    assert data.fails(4, *add, *owner, "--email", "zed@example.com").startswith(
        "no user with email zed@example.com; create one with: clickclack admin user create"
    )
    assert (
        data.fails(4, *add, *owner, "--user", "usr_missing")
        == "--user: user not found: usr_missing"
    )
    assert data.fails(
        4, "admin", "member", "add", "--workspace", "nope", *owner, "--user", ari
    ) == ("workspace not found: nope")
    assert data.fails(4, *add, "--created-by", "usr_ghost", "--user", ari) == (
        "--created-by: user not found: usr_ghost"
    )
    assert data.fails(1, *add, "--created-by", outsider, "--user", ari) == (
        f"--created-by {outsider} must be an owner or moderator of workspace {booted.workspace_id}"
    )
    assert "is a bot" in data.fails(1, *add, *owner, "--user", str(bot_id))
    missing = data.run("admin", "member", "add", "--workspace", "clickclack", "--user", ari)
    assert missing.error(2) == (
        "Missing option '--created-by' (see: clickclack admin member add --help)"
    )
    assert data.scalar("SELECT count(*) FROM workspace_members WHERE user_id = ?", (ari,)) == 0


# invite create


def test_invite_create_stores_only_the_hash(booted: Booted) -> None:
    data = booted.data
    token = data.ok("admin", "invite", "create", "--workspace", booted.workspace_id)
    assert re.match(r"^ivt_[0-9a-z]{52}$", token)
    other = data.ok("admin", "invite", "create", "--workspace", "clickclack")
    assert other != token
    rows = data.query("SELECT id, workspace_id, token_hash, created_by, accepted_at FROM invites")
    assert len(rows) == 2
    [row] = [row for row in rows if row[2] == sha256(token)]
    assert str(row[0]).startswith("inv_")
    assert row[1:] == (booted.workspace_id, sha256(token), booted.owner_id, None)
    for path in data.path.glob("clickclack.db*"):
        assert token.encode() not in path.read_bytes()


def test_invite_create_errors(booted: Booted, tmp_path: Path) -> None:
    assert booted.data.fails(4, "admin", "invite", "create", "--workspace", "nope") == (
        "workspace not found: nope"
    )
    assert booted.data.fails(2, "admin", "invite", "create", "--workspace", " ") == (
        "--workspace must not be empty"
    )
    # A workspace but no user at all (created behind the CLI's back).
    empty = DataDir(tmp_path / "empty")
    assert (
        empty.fails(4, "admin", "invite", "create", "--workspace", "x") == "workspace not found: x"
    )
    conn = sqlite3.connect(empty.db_path)
    conn.execute(
        "INSERT INTO workspaces (id, route_id, name, slug, created_at) "
        "VALUES ('wsp_x', 'TX', 'X', 'x', '2026-01-01T00:00:00.000000000Z')"
    )
    conn.commit()
    conn.close()
    assert empty.fails(4, "admin", "invite", "create", "--workspace", "x") == (
        "no users yet; run clickclack admin bootstrap first"
    )
    assert empty.scalar("SELECT count(*) FROM invites") == 0


# bot create


def test_bot_create_json_output(booted: Booted) -> None:
    data = booted.data
    ran = data.run(
        "admin", "bot", "create", "--workspace", "clickclack", "--name", " OpenClaw Service ",
        "--handle", "@OpenClaw", "--avatar-url", "https://example.com/a.png",
    )  # fmt: skip
    line = ran.line()
    document = json.loads(line)
    assert list(document) == ["bot", "bot_token", "token"]
    bot, bot_token, token = document["bot"], document["bot_token"], document["token"]
    assert re.match(r"^ccb_[0-9a-z]{52}$", token)
    assert bot_token["token"] == token
    assert bot["kind"] == "bot" and ID.match(bot["id"])
    assert (bot["display_name"], bot["handle"], bot["avatar_url"]) == (
        "OpenClaw Service",
        "openclaw",
        "https://example.com/a.png",
    )
    assert "owner_user_id" not in bot and "owner_user_id" not in bot_token
    assert bot_token["bot_user_id"] == bot["id"]
    assert bot_token["workspace_id"] == booted.workspace_id
    assert bot_token["name"] == "default"
    assert bot_token["scopes"] == BOT_WRITE
    assert bot_token["created_by"] == booted.owner_id  # defaults to the workspace owner
    assert bot_token["id"].startswith("btok_")
    assert data.query("SELECT token_hash, scopes_json FROM bot_tokens") == [
        (sha256(token), json.dumps(BOT_WRITE))
    ]
    assert data.query("SELECT role FROM workspace_members WHERE user_id = ?", (bot["id"],)) == [
        ("bot",)
    ]


def test_bot_create_plain_user_owned_and_scopes(booted: Booted) -> None:
    data = booted.data
    token = data.ok(
        "admin", "bot", "create", "--workspace", booted.workspace_id, "--name", "Peter's Bot",
        "--owner", "owner@example.com", "--token-name", "laptop",
        "--scopes", "bot:read,agent_activity:write", "--plain",
    )  # fmt: skip
    assert re.match(r"^ccb_[0-9a-z]{52}$", token)
    [(bot_id, owner, name, scopes, created_by)] = data.query(
        "SELECT bot_user_id, owner_user_id, name, scopes_json, created_by FROM bot_tokens "
        "WHERE token_hash = ?",
        (sha256(token),),
    )
    assert (owner, name, created_by) == (booted.owner_id, "laptop", booted.owner_id)
    assert json.loads(str(scopes)) == sorted(
        [
            "agent_activity:write",
            "channels:read",
            "dms:read",
            "messages:read",
            "profile:read",
            "realtime:read",
            "threads:read",
            "workspaces:read",
        ]
    )
    assert data.scalar("SELECT owner_user_id FROM users WHERE id = ?", (bot_id,)) == booted.owner_id


def test_bot_create_errors_write_nothing(booted: Booted) -> None:
    data = booted.data
    member = data.ok("admin", "user", "create", "--name", "M", "--workspace", "clickclack")
    outsider = data.ok("admin", "user", "create", "--name", "O", "--email", "o@example.com")
    data.ok(
        "admin",
        "bot",
        "create",
        "--workspace",
        "clickclack",
        "--name",
        "Taken",
        "--handle",
        "taken",
        "--plain",
    )
    users_before = data.scalar("SELECT count(*) FROM users")
    create = ["admin", "bot", "create", "--workspace", "clickclack", "--name", "X"]
    assert data.fails(2, *create, "--scopes", "bot:write,bot:nope") == (
        "--scopes: unknown bot scope: bot:nope"
    )
    assert data.fails(2, *create, "--handle", "a b").startswith("--handle: handle must be")
    assert data.fails(1, *create, "--handle", "Taken") == "handle is already taken"
    assert data.fails(2, "admin", "bot", "create", "--workspace", "clickclack", "--name", " ") == (
        "--name must not be empty"
    )
    assert data.fails(4, "admin", "bot", "create", "--workspace", "nope", "--name", "X") == (
        "workspace not found: nope"
    )
    assert data.fails(1, *create, "--created-by", member) == (
        f"--created-by {member} must be an owner or moderator of workspace {booted.workspace_id}"
    )
    assert data.fails(4, *create, "--owner", "usr_nobody") == "--owner: user not found: usr_nobody"
    assert data.fails(1, *create, "--owner", "o@example.com") == (
        "bot owner must be a workspace member"
    )
    assert data.fails(1, *create, "--owner", outsider, "--created-by", booted.owner_id) == (
        "only the bot owner can create a user-owned bot"
    )
    assert "avatar_url" in data.fails(1, *create, "--avatar-url", "javascript:alert(1)")
    assert data.scalar("SELECT count(*) FROM users") == users_before
    assert data.scalar("SELECT count(*) FROM bot_tokens") == 1


# magic-link create


def test_magic_link_create(booted: Booted) -> None:
    data = booted.data
    token = data.ok(
        "admin", "magic-link", "create", "--email", " Peter@Example.com ", "--name", "Peter"
    )
    assert re.match(r"^mgt_[0-9a-z]{52}$", token)
    [(link_id, email, name, created, expires, used)] = data.query(
        "SELECT id, email, display_name, created_at, expires_at, used_at FROM auth_magic_links "
        "WHERE token_hash = ?",
        (sha256(token),),
    )
    assert str(link_id).startswith("mln_")
    assert (email, name, used) == ("peter@example.com", "Peter", None)
    assert str(created) < str(expires)
    assert data.fails(2, "admin", "magic-link", "create", "--email", "peter") == (
        "--email is not a valid email address: 'peter'"
    )
    missing = data.run("admin", "magic-link", "create")
    assert missing.error(2).startswith("Missing option '--email'")
    assert data.scalar("SELECT count(*) FROM auth_magic_links") == 1


# events prune


def _seed_events(booted: Booted, *, other_workspace: str) -> dict[str, list[str]]:
    """Events of several ages in the main workspace (two of them private) and one elsewhere;
    returns the event ids by age group."""
    from clickclack_server import ids
    from clickclack_server.db import Database, Tx
    from clickclack_server.store.events import insert_event

    database = Database(booted.data.db_path, readers=1)
    groups: dict[str, list[str]] = {"old": [], "mid": [], "new": [], "other": []}

    def write(tx: Tx) -> None:
        for group, count in (("old", 4), ("mid", 3), ("new", 3)):
            for index in range(count):
                event = insert_event(
                    tx,
                    workspace_id=booted.workspace_id,
                    type="channel.read",
                    payload={"index": index},
                    recipients=[booted.owner_id] if index == 0 else None,
                )
                groups[group].append(event.id)
        groups["other"].append(
            insert_event(tx, workspace_id=other_workspace, type="workspace.updated", payload={}).id
        )

    try:
        database.write_sync(write)
    finally:
        database.close()
    conn = sqlite3.connect(booted.data.db_path)
    day = 86_400 * 1_000_000_000
    now = ids.parse_rfc3339_ns(ids.now())
    for group, age_days in (("old", 100), ("mid", 40), ("other", 100)):
        conn.executemany(
            "UPDATE events SET created_at = ? WHERE id = ?",
            [(ids.format_ns(now - age_days * day), event_id) for event_id in groups[group]],
        )
    conn.commit()
    conn.close()
    return groups


def _workspace_via_sql(data: DataDir, owner_id: str) -> str:
    conn = sqlite3.connect(data.db_path)
    conn.execute(
        "INSERT INTO workspaces (id, route_id, name, slug, created_at) "
        "VALUES ('wsp_other', 'TOTHER', 'Other', 'other', '2026-01-01T00:00:00.000000000Z')"
    )
    conn.execute(
        "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) "
        "VALUES ('wsp_other', ?, 'owner', '2026-01-01T00:00:00.000000000Z')",
        (owner_id,),
    )
    conn.commit()
    conn.close()
    return "wsp_other"


def _remaining(data: DataDir) -> set[str]:
    return {str(row[0]) for row in data.query("SELECT id FROM events")}


def test_events_prune_older_than_days_and_keep_latest(booted: Booted) -> None:
    data = booted.data
    other = _workspace_via_sql(data, booted.owner_id)
    groups = _seed_events(booted, other_workspace=other)
    assert data.scalar("SELECT count(*) FROM event_recipients") == 3
    prune = ["admin", "events", "prune", "--workspace", "clickclack"]
    assert data.ok(*prune, "--older-than-days", "365") == "pruned 0 events"
    assert data.ok(*prune, "--older-than-days", "30", "--keep-latest", "5") == "pruned 5 events"
    # The newest five by cursor survive even though two of them are 40 days old.
    assert _remaining(data) == set(groups["mid"][1:] + groups["new"] + groups["other"])
    assert data.ok(*prune, "--older-than-days", "30") == "pruned 2 events"
    assert _remaining(data) == set(groups["new"] + groups["other"])
    # Recipient rows went with their events (one private event per group).
    assert data.scalar("SELECT count(*) FROM event_recipients") == 1
    assert data.ok(*prune, "--keep-latest", "1") == "pruned 2 events"
    assert _remaining(data) == {groups["new"][-1], *groups["other"]}


def test_events_prune_before(booted: Booted) -> None:
    from clickclack_server import ids

    data = booted.data
    other = _workspace_via_sql(data, booted.owner_id)
    groups = _seed_events(booted, other_workspace=other)
    cutoff_ns = ids.parse_rfc3339_ns(ids.now()) - 70 * 86_400 * 1_000_000_000
    cutoff = ids.wire_time(ids.format_ns(cutoff_ns)).replace("Z", "+00:00")
    line = data.ok(
        "admin", "events", "prune", "--workspace", booted.workspace_id, "--before", cutoff
    )
    assert line == "pruned 4 events"
    assert _remaining(data) == set(groups["mid"] + groups["new"] + groups["other"])
    assert data.ok(
        "admin", "events", "prune", "--workspace", other, "--before", "2999-01-01T00:00:00Z"
    ) == ("pruned 1 events")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ([], "one of --older-than-days, --before or --keep-latest N (N > 0) is required"),
        (
            ["--keep-latest", "0"],
            "one of --older-than-days, --before or --keep-latest N (N > 0) is required",
        ),
        (
            ["--older-than-days", "3", "--before", "2026-01-01T00:00:00Z"],
            "--older-than-days and --before are mutually exclusive",
        ),
        (
            ["--before", "last tuesday"],
            "--before must be an RFC 3339 timestamp, got 'last tuesday'",
        ),
        (
            ["--before", "2026-01-01T00:00:00"],
            "--before must be an RFC 3339 timestamp, got '2026-01-01T00:00:00'",
        ),
    ],
)
def test_events_prune_needs_valid_bounds(booted: Booted, flags: list[str], message: str) -> None:
    assert (
        booted.data.fails(2, "admin", "events", "prune", "--workspace", "clickclack", *flags)
        == message
    )


def test_events_prune_flag_errors(booted: Booted) -> None:
    data = booted.data
    negative = data.fails(
        2, "admin", "events", "prune", "--workspace", "clickclack", "--keep-latest", "-1"
    )
    assert negative.startswith("Invalid value for '--keep-latest'")
    word = data.fails(
        2, "admin", "events", "prune", "--workspace", "clickclack", "--older-than-days", "ten"
    )
    assert word.startswith("Invalid value for '--older-than-days'")
    assert data.fails(
        4, "admin", "events", "prune", "--workspace", "nope", "--keep-latest", "3"
    ) == ("workspace not found: nope")
