"""``clickclack backup`` and ``clickclack export`` on data directories (no server running)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from clickclack_sdk.cli._common import Progress
from clickclack_sdk.cli._dump import EXPORT_TABLES, backup_database
from tests.cli.conftest import Booted, DataDir, tty_stderr

TABLES = [table for table, _ in EXPORT_TABLES]


def integrity(path: Path) -> tuple[str, str]:
    conn = sqlite3.connect(path)
    try:
        return (
            conn.execute("PRAGMA integrity_check").fetchone()[0],
            conn.execute("PRAGMA journal_mode").fetchone()[0],
        )
    finally:
        conn.close()


# backup


def test_backup_writes_a_verified_standalone_copy(booted: Booted, tmp_path: Path) -> None:
    data = booted.data
    out = tmp_path / "copy.db"
    ran = data.run("backup", "--out", str(out))
    assert (ran.code, ran.stdout, ran.stderr) == (0, "", "")  # quiet when not on a terminal
    assert integrity(out) == ("ok", "delete")
    assert not Path(f"{out}-wal").exists()
    conn = sqlite3.connect(out)
    assert conn.execute("SELECT id FROM users").fetchall() == [(booted.owner_id,)]
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] >= 1
    conn.close()
    assert os.stat(out).st_mode & 0o077 == 0  # the copy holds credential hashes: owner-only
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")] == []


def test_backup_refuses_to_overwrite_without_force(booted: Booted, tmp_path: Path) -> None:
    data = booted.data
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "copy.db"
    out.write_bytes(b"precious")
    assert data.fails(1, "backup", "--out", str(out)) == (
        f"{out} already exists; pass --force to replace it"
    )
    assert out.read_bytes() == b"precious"
    data.ok("admin", "user", "create", "--name", "Later")
    assert data.run("backup", "--out", str(out), "--force").code == 0
    conn = sqlite3.connect(out)
    assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 2
    conn.close()
    assert [path.name for path in out.parent.iterdir()] == ["copy.db"]


def test_backup_errors(booted: Booted, tmp_path: Path) -> None:
    data = booted.data
    db = data.db_path
    for target in (db, Path(f"{db}-wal"), data.path / "." / "clickclack.db-shm"):
        assert data.fails(2, "backup", "--out", str(target), "--force") == (
            "--out must not be the database or one of its journal files"
        )
    assert data.fails(2, "backup", "--out", "-") == (
        "backup writes a SQLite file; --out must be a path, not -"
    )
    assert data.fails(4, "backup", "--out", str(tmp_path / "no" / "such" / "dir.db")) == (
        f"directory does not exist: {tmp_path / 'no' / 'such'}"
    )
    assert data.fails(1, "backup", "--out", str(tmp_path)) == f"--out is a directory: {tmp_path}"
    missing = DataDir(tmp_path / "missing")
    assert missing.fails(4, "backup", "--out", str(tmp_path / "x.db")) == (
        f"database not found: {missing.db_path}"
    )
    assert not missing.path.exists()  # backup never creates a database
    assert data.run("backup").error(2).startswith("Missing option '--out'")


def test_backup_progress_only_on_a_terminal(booted: Booted, tmp_path: Path) -> None:
    out = tmp_path / "copy.db"
    ran, terminal = tty_stderr("backup", "--out", str(out), *booted.data.flags())
    assert ran.code == 0 and ran.stdout == ""
    assert "backup: " in terminal and " pages (" in terminal
    assert f"backup: wrote {out} (" in terminal


def test_backup_of_a_database_under_concurrent_writes(tmp_path: Path) -> None:
    """A stepwise backup from one snapshot: writers never force a restart and the copy holds
    exactly the rows committed when it started."""
    source = tmp_path / "busy.db"
    conn = sqlite3.connect(source, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t (body) VALUES (?)", [("x" * 400,) for _ in range(20_000)])
    conn.execute("COMMIT")
    conn.close()
    stop = threading.Event()
    started = threading.Event()

    def write() -> None:
        writer = sqlite3.connect(source, isolation_level=None, timeout=10)
        while not stop.is_set():
            writer.execute("INSERT INTO t (body) VALUES ('y')")
            started.set()
        writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert started.wait(10)
        steps: list[tuple[int, int | None]] = []

        class Recorder(Progress):
            def update(self, done: int, total: int | None = None, unit: str = "") -> None:
                steps.append((done, total))

        out = tmp_path / "copy.db"
        backup_database(source, str(out), force=False, progress=Recorder("backup"))
    finally:
        stop.set()
        thread.join()
    done = [step[0] for step in steps]
    assert len(steps) > 5 and done == sorted(done), "the backup restarted"
    assert integrity(out) == ("ok", "delete")
    copy = sqlite3.connect(out)
    count, last = copy.execute("SELECT count(*), max(id) FROM t").fetchone()
    copy.close()
    assert count == last and count >= 20_000


# export


def _export(data: DataDir, *extra: str) -> dict[str, object]:
    ran = data.run("export", *extra)
    assert ran.code == 0 and ran.stderr == "", ran.stderr
    parsed: dict[str, object] = json.loads(ran.stdout)
    return parsed


def test_export_shape_on_a_fresh_database(booted: Booted) -> None:
    dump = _export(booted.data)  # --out defaults to stdout
    assert list(dump) == ["export", *TABLES]
    header = dump["export"]
    assert isinstance(header, dict)
    assert header["format"] == "clickclack-export" and header["version"] == 1
    assert header["counts"] == {table: len(dump[table]) for table in TABLES}  # type: ignore[arg-type]
    assert header["schema_migrations"] == sorted(header["schema_migrations"])
    assert "0001_core.sql" in header["schema_migrations"]
    [user] = dump["users"]  # type: ignore[misc]
    assert user["id"] == booted.owner_id and user["email"] == "owner@example.com"
    assert not user["created_at"].endswith("0Z")  # wire form: trailing zeros trimmed
    [channel] = dump["channels"]  # type: ignore[misc]
    assert channel["name"] == "general" and channel["workspace_id"] == booted.workspace_id
    assert dump["messages"] == [] and dump["direct_conversations"] == []


def test_export_to_a_file_replaces_it_atomically(booted: Booted, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "dump.json"
    out.write_text("old")
    ran = booted.data.run("export", "--out", str(out))
    assert (ran.code, ran.stdout, ran.stderr) == (0, "", "")
    from_file = json.loads(out.read_text())
    from_stdout = _export(booted.data, "--out", "-")
    for dump in (from_file, from_stdout):
        dump["export"].pop("exported_at")
    assert from_file == from_stdout
    lines = out.read_text().splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert [path.name for path in out.parent.iterdir()] == ["dump.json"]


def test_export_errors(booted: Booted, tmp_path: Path) -> None:
    data = booted.data
    assert data.fails(2, "export", "--out", str(data.db_path)) == (
        "--out must not be the database or one of its journal files"
    )
    assert data.fails(4, "export", "--out", str(tmp_path / "nope" / "x.json")) == (
        f"directory does not exist: {tmp_path / 'nope'}"
    )
    missing = DataDir(tmp_path / "missing")
    assert missing.fails(4, "export") == f"database not found: {missing.db_path}"
    assert not missing.path.exists()


def test_export_progress_only_on_a_terminal(booted: Booted, tmp_path: Path) -> None:
    out = tmp_path / "dump.json"
    ran, terminal = tty_stderr("export", "--out", str(out), *booted.data.flags())
    assert ran.code == 0 and ran.stdout == ""
    assert " rows (" in terminal
    assert f"export: exported 5 rows to {out}" in terminal
    # To stdout on a terminal-less pipe: JSON only, nothing on stderr.
    piped = booted.data.run("export")
    assert piped.stderr == "" and json.loads(piped.stdout)["export"]["format"] == (
        "clickclack-export"
    )


@pytest.mark.parametrize("command", ["backup", "export"])
def test_dump_commands_never_migrate_or_write_the_source(
    booted: Booted, tmp_path: Path, command: str
) -> None:
    data = booted.data
    conn = sqlite3.connect(data.db_path)
    conn.execute("DELETE FROM schema_migrations WHERE name = '0003_auth.sql'")
    conn.commit()
    conn.close()
    before = data.db_path.read_bytes()
    assert data.run(command, "--out", str(tmp_path / "out")).code == 0
    assert data.db_path.read_bytes() == before
