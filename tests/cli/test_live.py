"""Admin, backup and export commands next to a running ``clickclack serve`` subprocess."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.cli.conftest import Booted, DataDir, boot, iter_keys, start_server

SECRET_WORDS = ("token", "hash", "secret", "password")


async def _session(http: httpx.AsyncClient, data: DataDir, email: str, name: str) -> str:
    """A session token for ``email`` via ``admin magic-link create`` and the consume endpoint."""
    magic = (
        await data.arun("admin", "magic-link", "create", "--email", email, "--name", name)
    ).line()
    response = await http.post("/api/auth/magic/consume", json={"token": magic})
    assert response.status_code == 200, response.text
    http.cookies.clear()  # the tests authenticate with the bearer token only
    token: str = response.json()["token"]
    assert token.startswith("sst_")
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _post(http: httpx.AsyncClient, token: str, path: str, **kwargs: Any) -> Any:
    response = await http.post(path, headers=_bearer(token), **kwargs)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _started(nursery: trio.Nursery, tmp_path: Path) -> tuple[Booted, str]:
    booted = await trio.to_thread.run_sync(boot, DataDir(tmp_path / "data"))
    url = await start_server(nursery, "serve", "--addr", "127.0.0.1:0", *booted.data.flags())
    return booted, url


async def test_admin_credentials_work_live_and_backup_runs_hot(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    booted, url = await _started(nursery, tmp_path)
    data = booted.data
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        ari = await _session(http, data, "ari@example.com", "Ari")
        # Not a member yet: the workspace is invisible to Ari until the admin adds her.
        listed = await http.get("/api/workspaces", headers=_bearer(ari))
        assert listed.json() == {"workspaces": []}
        added = await data.arun(
            "admin", "member", "add", "--workspace", "clickclack",
            "--created-by", booted.owner_id, "--email", "ari@example.com",
        )  # fmt: skip
        assert added.line().endswith("role=member status=added")
        listed = await http.get("/api/workspaces", headers=_bearer(ari))
        assert [(w["id"], w["role"]) for w in listed.json()["workspaces"]] == [
            (booted.workspace_id, "member")
        ]
        bot = (
            await data.arun(
                "admin",
                "bot",
                "create",
                "--workspace",
                "clickclack",
                "--name",
                "Deployer",
                "--handle",
                "deployer",
                "--plain",
            )
        ).line()
        messages_path = f"/api/channels/{booted.channel_id}/messages"
        from_bot = await _post(http, bot, messages_path, json={"body": "bot says hi"})
        posted = [from_bot["message"]["id"]]
        for index in range(40):
            created = await _post(http, ari, messages_path, json={"body": f"message {index}"})
            posted.append(created["message"]["id"])

        stop = trio.Event()
        during: list[str] = []

        async def keep_writing() -> None:
            index = 0
            while not stop.is_set():
                created = await _post(http, ari, messages_path, json={"body": f"during {index}"})
                during.append(created["message"]["id"])
                index += 1

        out = tmp_path / "hot.db"
        async with trio.open_nursery() as writers:
            writers.start_soon(keep_writing)
            with trio.fail_after(60):
                ran = await data.arun("backup", "--out", str(out))
            stop.set()
        assert (ran.code, ran.stdout, ran.stderr) == (0, "", "")
        # The server is unharmed and keeps accepting writes.
        after = await _post(http, ari, messages_path, json={"body": "after the backup"})

    copy = sqlite3.connect(out)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        # The search index in the copy agrees with its messages.
        copy.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
        stored = {row[0] for row in copy.execute("SELECT id FROM messages")}
        seqs = [row[0] for row in copy.execute("SELECT channel_seq FROM messages ORDER BY 1")]
    finally:
        copy.close()
    assert set(posted) <= stored
    assert after["message"]["id"] not in stored
    # A snapshot: whatever it holds of the concurrent writes is a gap-free prefix.
    assert seqs == list(range(1, len(seqs) + 1))
    assert stored - set(posted) <= set(during)


async def test_export_of_live_data_covers_every_area_and_no_secret(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    booted, url = await _started(nursery, tmp_path)
    data = booted.data
    ws = booted.workspace_id
    secrets: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        owner = await _session(http, data, "owner@example.com", "Owner")
        ari = await _session(http, data, "ari@example.com", "Ari")
        secrets += [owner, ari]
        member = await data.arun(
            "admin", "member", "add", "--workspace", ws, "--created-by", booted.owner_id,
            "--email", "ari@example.com",
        )  # fmt: skip
        ari_id = member.line().split()[1].removeprefix("user=")
        bot_json = json.loads(
            (await data.arun("admin", "bot", "create", "--workspace", ws, "--name", "Bot")).line()
        )
        invite = (await data.arun("admin", "invite", "create", "--workspace", ws)).line()
        unused = (
            await data.arun("admin", "magic-link", "create", "--email", "x@example.com")
        ).line()
        secrets += [bot_json["token"], invite, unused]

        channel = f"/api/channels/{booted.channel_id}/messages"
        root = (await _post(http, owner, channel, json={"body": "root", "nonce": "n-1"}))["message"]
        reply = (
            await _post(
                http, ari, f"/api/messages/{root['id']}/thread/replies", json={"body": "re"}
            )
        )["message"]
        await _post(http, ari, f"/api/messages/{root['id']}/reactions", json={"emoji": "👍"})
        conversation = (
            await _post(http, owner, "/api/dms", json={"workspace_id": ws, "member_ids": [ari_id]})
        )["conversation"]
        direct = (
            await _post(
                http, owner, f"/api/dms/{conversation['id']}/messages", json={"body": "psst"}
            )
        )["message"]
        upload = (
            await _post(
                http,
                owner,
                "/api/uploads",
                params={"workspace_id": ws},
                files={"file": ("notes.txt", b"hello file", "text/plain")},
            )
        )["upload"]
        with_file = (
            await _post(http, owner, channel, json={"body": "see file", "upload_id": upload["id"]})
        )["message"]

        ran = await data.arun("export")  # while the server runs
    assert ran.code == 0 and ran.stderr == "", ran.stderr
    text = ran.stdout
    dump = json.loads(text)
    header = dump["export"]
    assert header["counts"] == {key: len(rows) for key, rows in dump.items() if key != "export"}

    messages = {row["id"]: row for row in dump["messages"]}
    assert set(messages) == {root["id"], reply["id"], direct["id"], with_file["id"]}
    assert messages[root["id"]]["created_at"] == root["created_at"]  # wire-form timestamps
    assert (messages[root["id"]]["channel_seq"], messages[root["id"]]["client_nonce"]) == (1, "n-1")
    assert messages[reply["id"]]["parent_message_id"] == root["id"]
    assert messages[reply["id"]]["thread_seq"] == 1
    assert messages[direct["id"]]["direct_conversation_id"] == conversation["id"]
    assert messages[direct["id"]]["channel_id"] is None
    threads = {row["root_message_id"]: row for row in dump["thread_state"]}
    assert threads[root["id"]]["reply_count"] == 1
    assert threads[root["id"]]["last_reply_author_ids"] == [ari_id]
    [reaction] = dump["reactions"]
    assert (reaction["message_id"], reaction["user_id"], reaction["emoji"]) == (
        root["id"],
        ari_id,
        "👍",
    )
    assert "👍" in text  # stored verbatim, not \u-escaped
    [stored_upload] = dump["uploads"]
    assert (stored_upload["id"], stored_upload["filename"], stored_upload["byte_size"]) == (
        upload["id"],
        "notes.txt",
        10,
    )
    assert dump["message_attachments"][0]["message_id"] == with_file["id"]
    assert [row["id"] for row in dump["direct_conversations"]] == [conversation["id"]]
    assert sorted(row["user_id"] for row in dump["direct_conversation_members"]) == sorted(
        [booted.owner_id, ari_id]
    )
    kinds = {row["id"]: row["kind"] for row in dump["users"]}
    assert kinds[bot_json["bot"]["id"]] == "bot"
    roles = {
        (row["workspace_id"], row["user_id"]): row["role"] for row in dump["workspace_members"]
    }
    assert roles[(ws, bot_json["bot"]["id"])] == "bot" and roles[(ws, ari_id)] == "member"

    # No secret, and no hash of one, in any form.
    for key in iter_keys(dump):
        assert not any(word in key for word in SECRET_WORDS), key
    hashes = [
        str(row[0])
        for table in ("sessions", "bot_tokens", "auth_magic_links", "invites")
        for row in data.query(f"SELECT token_hash FROM {table}")
    ]
    assert len(hashes) >= 7
    for secret in secrets:
        assert secret not in text
        assert hashlib.sha256(secret.encode()).hexdigest() in hashes
    for digest in hashes:
        assert digest not in text
