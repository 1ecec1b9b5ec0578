"""One writer connection, a small pool of readers, migrations, and durable-event publication.

SQLite calls block, so they run off the Trio thread. Writes go to one dedicated writer thread
that owns the writer connection and *group-commits*: it takes every write queued so far, runs each
in its own SAVEPOINT inside one ``BEGIN IMMEDIATE`` transaction (a failing write rolls back alone),
commits once, and wakes all the waiting tasks with a single hop back into Trio. Under load this
pays the commit and the thread hand-offs once per batch instead of once per write. Reads use their
own connections through ``trio.to_thread`` and see committed data (WAL). Events appended to a
write are handed to the commit listeners only after its commit succeeded, in commit order.
"""

from __future__ import annotations

import contextvars
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import attrs
import outcome
import trio

from clickclack_server import ids

P = ParamSpec("P")
T = TypeVar("T")

Params = Sequence[Any] | dict[str, Any]


@attrs.frozen(kw_only=True)
class CommittedEvent:
    """A durable event as committed: its wire row plus who may see it (``None`` = public)."""

    id: str
    cursor: str
    type: str
    workspace_id: str
    channel_id: str | None
    seq: int | None
    created_at: str
    payload: dict[str, Any]
    recipients: frozenset[str] | None


class Tx:
    """A transaction on the writer connection (or a read snapshot on a reader)."""

    __slots__ = ("changed", "conn", "events")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.events: list[CommittedEvent] = []
        self.changed: set[str] = set()

    def mark_changed(self, topic: str) -> None:
        """Tell change listeners of ``topic`` (e.g. ``"auth"``) after this transaction commits."""
        self.changed.add(topic)

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _migration_files() -> list[tuple[str, str]]:
    folder = resources.files("clickclack_server.db") / "migrations"
    found = [
        (entry.name, entry.read_text()) for entry in folder.iterdir() if entry.name.endswith(".sql")
    ]
    return sorted(found)


def _statements(script: str) -> Iterator[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer
            buffer = ""
    if buffer.strip():
        yield buffer


def apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Apply pending numbered migrations, each in its own transaction; returns the names applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    applied: list[str] = []
    for name, script in _migration_files():
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (name, ids.now())
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


class _Job:
    """One queued write: the function, where its outcome goes, and who to wake."""

    __slots__ = ("context", "done", "fn", "result", "token", "tx")

    def __init__(self, fn: Callable[[Tx], Any]) -> None:
        self.fn = fn
        # Completion goes back to the Trio run that queued the job (a Database can outlive one).
        self.token = trio.lowlevel.current_trio_token()
        # The caller's context (e.g. auth.current_actor) travels with the job to the writer.
        self.context = contextvars.copy_context()
        self.done = trio.Event()
        self.result: outcome.Outcome[Any] | None = None
        self.tx: Tx | None = None


_STOP = object()
MAX_BATCH = 256

CommitListener = Callable[[list[CommittedEvent]], None]
ChangeListener = Callable[[], None]


class Database:
    """The SQLite database file: a writer, readers, and commit listeners for durable events."""

    def __init__(self, path: str | Path, *, readers: int = 4) -> None:
        self.path = str(path)
        self._writer = _connect(self.path)
        self._writer.execute("PRAGMA journal_mode = WAL")
        self._write_lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer_thread: threading.Thread | None = None
        self._readers = [_connect(self.path) for _ in range(readers)]
        self._reader_lock = threading.Lock()
        self._read_limiter = trio.CapacityLimiter(readers)
        self._listeners: list[CommitListener] = []
        self._change_listeners: dict[str, list[ChangeListener]] = {}

    def migrate(self) -> list[str]:
        with self._write_lock:
            return apply_migrations(self._writer)

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def add_change_listener(self, topic: str, listener: ChangeListener) -> None:
        self._change_listeners.setdefault(topic, []).append(listener)

    def _after_commit(self, tx: Tx) -> None:
        for topic in tx.changed:
            for change_listener in self._change_listeners.get(topic, ()):
                change_listener()
        if tx.events:
            for listener in self._listeners:
                listener(tx.events)

    def close(self) -> None:
        if self._writer_thread is not None:
            self._jobs.put(_STOP)
            self._writer_thread.join()
            self._writer_thread = None
        with self._write_lock:
            self._writer.close()
        with self._reader_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    # Synchronous forms, for CLI commands and for code already on a worker thread.

    def write_sync(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kw: P.kwargs) -> T:
        with self._write_lock:
            tx = Tx(self._writer)
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                result = fn(tx, *args, **kw)
                self._writer.execute("COMMIT")
            except BaseException:
                if self._writer.in_transaction:
                    self._writer.execute("ROLLBACK")
                raise
        self._after_commit(tx)
        return result

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self._reader_lock:
            conn = self._readers.pop() if self._readers else _connect(self.path)
        try:
            yield conn
        finally:
            with self._reader_lock:
                self._readers.append(conn)

    def read_sync(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kw: P.kwargs) -> T:
        with self._reader() as conn:
            conn.execute("BEGIN")
            try:
                return fn(Tx(conn), *args, **kw)
            finally:
                conn.execute("ROLLBACK")

    # Trio forms.

    async def write(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kw: P.kwargs) -> T:
        """Run ``fn(tx, ...)`` atomically on the writer; publish its events after commit.

        The wait is shielded: once queued, a write runs to completion even if the caller is
        cancelled, so a cancelled request never leaves a half-known outcome behind.
        """
        if self._writer_thread is None or not self._writer_thread.is_alive():
            self._writer_thread = threading.Thread(
                target=self._writer_loop, name="clickclack-sqlite-writer", daemon=True
            )
            self._writer_thread.start()
        job = _Job(lambda tx: fn(tx, *args, **kw))
        self._jobs.put(job)
        with trio.CancelScope(shield=True):
            await job.done.wait()
        assert job.result is not None
        result: T = job.result.unwrap()
        return result

    def _writer_loop(self) -> None:
        while True:
            first = self._jobs.get()
            if first is _STOP:
                return
            batch: list[_Job] = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            self._run_batch(batch)
            by_run: dict[trio.lowlevel.TrioToken, list[_Job]] = {}
            for job in batch:
                by_run.setdefault(job.token, []).append(job)
            for token, jobs in by_run.items():
                # A finished run has no waiters left to wake.
                with suppress(trio.RunFinishedError):
                    token.run_sync_soon(self._finish_batch, jobs)
            if stop:
                return

    def _run_batch(self, batch: list[_Job]) -> None:
        """Run a batch; never raises. Any failure outside a job's own code fails every job of
        the batch, because the outer transaction can no longer be trusted."""
        with self._write_lock:
            try:
                self._run_jobs(batch)
            except BaseException as exc:
                if self._writer.in_transaction:
                    with suppress(sqlite3.Error):
                        self._writer.execute("ROLLBACK")
                for job in batch:
                    if job.result is None or job.tx is not None:
                        job.result = outcome.Error(exc)
                    job.tx = None

    def _run_jobs(self, batch: list[_Job]) -> None:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        for job in batch:
            conn.execute("SAVEPOINT job")
            tx = Tx(conn)
            try:
                value = job.context.run(job.fn, tx)
            except Exception as exc:
                # Rolls back this job only; if SQLite already dropped the whole transaction
                # this raises and the batch fails as a whole (see _run_batch).
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                job.result = outcome.Error(exc)
                continue
            conn.execute("RELEASE job")
            job.result = outcome.Value(value)
            job.tx = tx
        conn.execute("COMMIT")

    def _finish_batch(self, batch: list[_Job]) -> None:
        for job in batch:
            if job.tx is not None:
                self._after_commit(job.tx)
            job.done.set()

    async def read(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kw: P.kwargs) -> T:
        """Run ``fn(tx, ...)`` on a reader connection inside one read snapshot."""
        return await trio.to_thread.run_sync(
            lambda: self.read_sync(fn, *args, **kw), limiter=self._read_limiter
        )
