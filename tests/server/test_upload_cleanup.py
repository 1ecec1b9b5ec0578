"""Upload files left by a crash are removed when the server starts (``storage.remove_leftovers``).

The server is started through ``run_server`` on a real data directory, twice: the first run
stores a real upload, then files are planted as a crash would leave them, and the second run must
remove those and nothing else.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import httpx
import pytest
import trio

from clickclack_server import storage
from clickclack_server.config import Config
from clickclack_server.runner import Running, run_server
from clickclack_server.store import sessions as session_store
from clickclack_server.store import uploads as upload_store
from clickclack_server.store import users as user_store

LONG_AGO = time.time() - 2 * storage.LEFTOVER_MIN_AGE


def plant(folder: Path, name: str, content: bytes = b"left behind", *, old: bool = True) -> Path:
    path = folder / name
    path.write_bytes(content)
    if old:
        os.utime(path, (LONG_AGO, LONG_AGO))
    return path


def removal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "clickclack_server" and "leftover upload" in record.getMessage()
    ]


async def test_start_up_removes_crash_leftovers_and_keeps_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="clickclack_server")
    config = Config(addr="127.0.0.1:0", data=str(tmp_path / "data"))
    folder = tmp_path / "data" / "uploads"
    content = b"kept bytes"

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(run_server, config)
            boot = await running.server.db.write(
                user_store.bootstrap, name="Owner", email="owner@example.com"
            )
            session = await running.server.db.write(session_store.create_session, boot.user_id)
            auth = {"Authorization": f"Bearer {session.token}"}
            async with httpx.AsyncClient(base_url=running.url, headers=auth) as http:
                uploaded = []
                for name in ("kept.txt", "attached.txt"):
                    response = await http.post(
                        "/api/uploads",
                        params={"workspace_id": boot.workspace_id},
                        files={"file": (name, content, "text/plain")},
                    )
                    assert response.status_code == 201, response.text
                    uploaded.append(response.json()["upload"]["id"])
                # The second one was attached to a message that is gone now: its row stays.
                posted = await http.post(
                    f"/api/channels/{boot.channel_id}/messages",
                    json={"body": "see file", "upload_id": uploaded[1]},
                )
                assert posted.status_code == 201, posted.text
                deleted = await http.delete(f"/api/messages/{posted.json()['message']['id']}")
                assert deleted.status_code == 200, deleted.text
            upload_id = uploaded[0]
            keys = await running.server.db.read(upload_store.storage_keys)
            nursery.cancel_scope.cancel()
    # A clean first start had nothing to remove and said nothing.
    assert removal_lines(caplog) == []

    assert len(keys) == 2
    legit = [folder / key for key in keys]
    for path in legit:
        os.utime(path, (LONG_AGO, LONG_AGO))
    partial = plant(folder, ".partial-" + storage.new_key())
    orphan = plant(folder, storage.new_key())
    fresh_partial = plant(folder, ".partial-" + storage.new_key(), old=False)
    fresh_orphan = plant(folder, storage.new_key(), old=False)
    foreign = plant(folder, "notes.txt")
    lookalike = plant(folder, storage.KEY_PREFIX + "not-a-key")
    (folder / storage.new_key()).mkdir()

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            running = await nursery.start(run_server, config)
            assert not partial.exists()
            assert not orphan.exists()
            # The recorded blob, files changed too recently, and names the store never makes
            # stay.
            assert [path.read_bytes() for path in legit] == [content, content]
            for kept in (fresh_partial, fresh_orphan, foreign, lookalike):
                assert kept.exists(), kept.name
            async with httpx.AsyncClient(base_url=running.url, headers=auth) as http:
                download = await http.get(f"/api/uploads/{upload_id}")
            assert download.status_code == 200
            assert download.content == content
            nursery.cancel_scope.cancel()
    [line] = removal_lines(caplog)
    assert line == f"removed 2 leftover upload file(s) from {folder} (1 partial, 1 without a row)"


async def test_recorded_keys_keep_their_blobs(tmp_path: Path) -> None:
    """A key any row holds keeps its blob (also when recorded with a directory in front); the
    rows are read once, after the scan, and not at all when no blob is old enough to matter."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    names = [storage.new_key() for _ in range(3)]
    for name in names:
        plant(folder, name)
    plant(folder, ".partial-" + names[0])
    calls: list[None] = []

    def recorded() -> list[str]:
        calls.append(None)
        return [names[0], "nested/" + names[1]]

    assert storage.remove_leftovers(folder, recorded) == 2
    assert sorted(p.name for p in folder.iterdir()) == sorted(names[:2])
    assert len(calls) == 1
    # With no blob old enough to consider, the rows are not even read.
    assert storage.remove_leftovers(folder, recorded, min_age=10 * storage.LEFTOVER_MIN_AGE) == 0
    assert len(calls) == 1
    assert storage.remove_leftovers(tmp_path / "missing", recorded) == 0
