"""Durable cursors: where a bot account resumes after a restart, and when that point may move.

The realtime stream hands events over in cursor order, but their handlers finish in any order
(lanes run concurrently). :class:`CommitTracker` keeps the events received and not yet finished;
the *committed* cursor is the cursor of the newest event such that it and every event before it
have finished. Only that cursor is saved, so a crash replays exactly the unfinished events (and
perhaps a few finished ones, which the reply nonces make harmless).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from pathlib import Path
from typing import Protocol

import attrs
import trio

BEGINNING = ""
"""The saved position meaning "from the oldest retained event" (nothing processed yet)."""


class CursorStore(Protocol):
    """Where committed cursors live, one per account key.

    ``load`` answers ``None`` when the account never ran (the first start must then choose
    between "now" and "beginning"); ``""`` (:data:`BEGINNING`) is a valid saved position.
    """

    async def load(self, key: str) -> str | None: ...

    async def save(self, key: str, cursor: str) -> None: ...


class MemoryCursorStore:
    """Cursors in a dict: for tests and throw-away bots (a restart of the process forgets)."""

    def __init__(self) -> None:
        self.cursors: dict[str, str] = {}

    async def load(self, key: str) -> str | None:
        await trio.lowlevel.checkpoint()
        return self.cursors.get(key)

    async def save(self, key: str, cursor: str) -> None:
        await trio.lowlevel.checkpoint()
        self.cursors[key] = cursor


class FileCursorStore:
    """One small JSON file per account under ``directory`` (the default store).

    Writes go to a temporary file that is flushed to disk and then renamed over the old one, so
    a crash leaves either the old or the new cursor, never a torn file.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path_for(self, key: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key) or "default"
        return self.directory / f"{safe}.cursor.json"

    async def load(self, key: str) -> str | None:
        return await trio.to_thread.run_sync(self._load, key)

    async def save(self, key: str, cursor: str) -> None:
        await trio.to_thread.run_sync(self._save, key, cursor)

    def _load(self, key: str) -> str | None:
        path = self.path_for(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CursorStoreError(f"cursor file {path} is unreadable: {exc}") from exc
        cursor = data.get("cursor") if isinstance(data, dict) else None
        if not isinstance(cursor, str):
            raise CursorStoreError(f"cursor file {path} has no cursor string")
        return cursor

    def _save(self, key: str, cursor: str) -> None:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"account": key, "cursor": cursor}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class CursorStoreError(Exception):
    """A saved cursor exists but cannot be read: refuse to guess where to resume."""


@attrs.define(eq=False)
class Pending:
    """One received durable event on its way through the handlers."""

    cursor: str
    tracker: CommitTracker
    done: bool = False

    def finish(self) -> None:
        """Mark the event's handlers as all finished (idempotent)."""
        if not self.done:
            self.done = True
            self.tracker._advance()


class CommitTracker:
    """Received-but-unfinished events in cursor order, and the committed cursor before them."""

    def __init__(self, committed: str | None) -> None:
        self.committed = committed
        self.last_seen: str | None = committed
        self._queue: deque[Pending] = deque()
        self._lot = trio.lowlevel.ParkingLot()

    def add(self, cursor: str) -> Pending:
        """Record a newly received event (cursors must arrive in increasing order)."""
        entry = Pending(cursor=cursor, tracker=self)
        self._queue.append(entry)
        self.last_seen = cursor
        return entry

    def jump(self, cursor: str) -> None:
        """After a resync: everything up to ``cursor`` counts as seen; it commits once the
        events received before the resync have finished."""
        self.add(cursor).finish()

    @property
    def lag(self) -> int:
        """Received events not yet committed."""
        return len(self._queue)

    def _advance(self) -> None:
        queue = self._queue
        moved = False
        while queue and queue[0].done:
            self.committed = queue.popleft().cursor
            moved = True
        if moved:
            self._lot.unpark_all()

    async def wait_changed(self) -> None:
        """Block until the committed cursor moves next (check your condition first)."""
        await self._lot.park()
