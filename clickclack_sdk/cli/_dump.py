"""``clickclack backup`` and ``clickclack export``: consistent copies of a live database.

Both read through their own read-only connection inside one read transaction, so they see a
single committed snapshot while ``serve`` keeps writing (WAL lets readers and the writer run side
by side), and neither ever creates or changes the source database.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from clickclack_sdk.cli._common import CliError, Progress, not_found, usage

BACKUP_STEP_PAGES = 256
EXPORT_FORMAT = "clickclack-export"
EXPORT_VERSION = 1

# What an export contains: table -> columns, in output order. An allow-list, so a column added
# later (a password hash, say) never leaks into an export by accident. Secrets and their hashes
# (sessions, magic links, invites, bot tokens), the event log and per-user settings are left out.
EXPORT_TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "users",
        (
            "id",
            "kind",
            "owner_user_id",
            "display_name",
            "handle",
            "avatar_url",
            "email",
            "created_at",
            "deleted_at",
        ),
    ),
    ("identities", ("id", "user_id", "provider", "provider_subject", "email", "created_at")),
    ("workspaces", ("id", "route_id", "name", "slug", "icon_url", "created_at")),
    ("workspace_members", ("workspace_id", "user_id", "role", "created_at")),
    (
        "channels",
        (
            "id",
            "route_id",
            "workspace_id",
            "name",
            "display_title",
            "kind",
            "created_at",
            "archived_at",
            "external_managed",
            "external_ref",
            "external_url",
            "sidebar_section",
            "last_seq",
        ),
    ),
    (
        "messages",
        (
            "id",
            "route_id",
            "workspace_id",
            "channel_id",
            "direct_conversation_id",
            "author_id",
            "parent_message_id",
            "thread_root_id",
            "topic_id",
            "channel_seq",
            "thread_seq",
            "body",
            "body_format",
            "kind",
            "turn_id",
            "created_at",
            "edited_at",
            "deleted_at",
            "quoted_message_id",
            "quoted_body_snapshot",
            "quoted_author_id",
            "client_nonce",
        ),
    ),
    (
        "thread_state",
        ("root_message_id", "reply_count", "last_reply_at", "last_reply_author_ids_json"),
    ),
    ("reactions", ("message_id", "user_id", "emoji", "created_at")),
    (
        "uploads",
        (
            "id",
            "workspace_id",
            "owner_id",
            "client_nonce",
            "filename",
            "content_type",
            "byte_size",
            "width",
            "height",
            "duration_ms",
            "storage_path",
            "created_at",
        ),
    ),
    ("message_attachments", ("message_id", "upload_id", "created_at")),
    (
        "direct_conversations",
        ("id", "route_id", "workspace_id", "member_set_key", "last_seq", "created_at"),
    ),
    ("direct_conversation_members", ("conversation_id", "user_id", "created_at")),
)


def _open_snapshot(source: Path) -> sqlite3.Connection:
    """A read-only connection holding one read transaction (a fixed snapshot) on ``source``."""
    conn = sqlite3.connect(
        source.absolute().as_uri() + "?mode=ro", uri=True, isolation_level=None, timeout=5.0
    )
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("BEGIN")
        # The first read starts the transaction; every later read sees the same snapshot.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _journal_files(database: Path) -> list[Path]:
    return [database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm", "-journal"))]


def refuse_overlap(source: Path, target: Path) -> None:
    """``--out`` must never be the database itself or one of its journal files."""
    target_resolved = target.parent.resolve() / target.name
    for protected in _journal_files(source.resolve()):
        if target_resolved == protected:
            raise usage("--out must not be the database or one of its journal files")
        if target.exists() and protected.exists() and os.path.samefile(target, protected):
            raise usage("--out must not be the database or one of its journal files")


def _check_target_dir(target: Path) -> None:
    if target.is_dir():
        raise CliError(f"--out is a directory: {target}")
    if not target.parent.is_dir():
        raise not_found(f"directory does not exist: {target.parent}")


def _sync_directory(directory: Path) -> None:
    """Make a rename durable (best effort; not every platform can open directories)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temp_path(target: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(name)


def _publish(temp: Path, target: Path, *, replace: bool) -> None:
    """Move the finished temp file into place; without ``replace`` never clobber a file that
    appeared meanwhile (a hard link fails atomically when the name exists)."""
    if replace:
        os.replace(temp, target)
    else:
        try:
            os.link(temp, target)
        except FileExistsError:
            raise CliError(f"{target} already exists; pass --force to replace it") from None
        except OSError:
            # No hard links on this file system: check, then rename.
            if target.exists():
                raise CliError(f"{target} already exists; pass --force to replace it") from None
            os.replace(temp, target)
        else:
            temp.unlink()
    _sync_directory(target.parent)


def backup_database(source: Path, out: str, *, force: bool, progress: Progress) -> int:
    """Copy ``source`` to ``out`` with SQLite's online backup API; returns the copy's size.

    The copy is taken from one read snapshot (so concurrent writers never restart it), written
    to a temp file next to ``out``, switched to a self-contained rollback journal, checked with
    ``PRAGMA quick_check``, fsynced and only then renamed into place.
    """
    if out == "-":
        raise usage("backup writes a SQLite file; --out must be a path, not -")
    target = Path(out)
    refuse_overlap(source, target)
    _check_target_dir(target)
    if target.exists() and not force:
        raise CliError(f"{target} already exists; pass --force to replace it")
    temp = _temp_path(target)
    try:
        snapshot = _open_snapshot(source)
        try:
            copy = sqlite3.connect(temp, isolation_level=None)
            try:

                def report(_status: int, remaining: int, total: int) -> None:
                    progress.update(total - remaining, total, "pages")

                snapshot.backup(copy, pages=BACKUP_STEP_PAGES, progress=report)
                copy.execute("PRAGMA journal_mode = DELETE").fetchone()
                verdict = copy.execute("PRAGMA quick_check").fetchone()[0]
                if verdict != "ok":
                    raise CliError(f"the backup copy failed its integrity check: {verdict}")
            finally:
                copy.close()
        finally:
            snapshot.close()
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        size = temp.stat().st_size
        _publish(temp, target, replace=force)
    finally:
        temp.unlink(missing_ok=True)
    return size


# Export.


def _wire_time(value: str) -> str:
    from clickclack_server.ids import wire_time

    return wire_time(value)


def _record(columns: list[str], row: tuple[Any, ...]) -> dict[str, Any]:
    """A row as stored, with timestamps in wire form and ``*_json`` columns decoded."""
    record: dict[str, Any] = {}
    for column, value in zip(columns, row, strict=True):
        if column.endswith("_json"):
            record[column.removesuffix("_json")] = json.loads(value) if value else None
        elif column.endswith("_at") and isinstance(value, str):
            record[column] = _wire_time(value)
        else:
            record[column] = value
    return record


def _existing_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@contextlib.contextmanager
def _export_stream(out: str) -> Iterator[IO[bytes]]:
    """stdout for ``-``; otherwise a temp file renamed over ``out`` once complete."""
    if out == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(out)
    _check_target_dir(target)
    temp = _temp_path(target)
    try:
        with open(temp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _publish(temp, target, replace=True)
    finally:
        temp.unlink(missing_ok=True)


def export_database(source: Path, out: str, *, progress: Progress) -> int:
    """Write the JSON dump of ``source`` to ``out`` (a path or ``-``); returns the row count.

    Shape: ``{"export": {format, version, exported_at, schema_migrations, counts}, "<table>":
    [row, ...], ...}`` with one row object per line, tables and columns as in ``EXPORT_TABLES``.
    """
    from clickclack_server import ids

    if out != "-":
        refuse_overlap(source, Path(out))
    snapshot = _open_snapshot(source)
    try:
        tables: list[tuple[str, list[str]]] = []
        counts: dict[str, int] = {}
        for table, wanted in EXPORT_TABLES:
            present = _existing_columns(snapshot, table)
            columns = [column for column in wanted if column in present]
            tables.append((table, columns))
            counts[table] = (
                snapshot.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if columns else 0
            )
        migrations = (
            [row[0] for row in snapshot.execute("SELECT name FROM schema_migrations ORDER BY name")]
            if _existing_columns(snapshot, "schema_migrations")
            else []
        )
        header = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_at": ids.wire_time(ids.now()),
            "schema_migrations": migrations,
            "counts": counts,
        }
        total = sum(counts.values())
        written = 0
        with _export_stream(out) as stream:
            stream.write(b'{\n  "export": ' + _dumps(header))
            for table, columns in tables:
                stream.write(b",\n  " + _dumps(table) + b": [")
                first = True
                if columns:
                    cursor = snapshot.execute(
                        f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid"
                    )
                    for row in cursor:
                        stream.write(
                            (b"\n    " if first else b",\n    ") + _dumps(_record(columns, row))
                        )
                        first = False
                        written += 1
                        progress.update(written, total, "rows")
                stream.write(b"]" if first else b"\n  ]")
            stream.write(b"\n}\n")
    finally:
        snapshot.close()
    return written
