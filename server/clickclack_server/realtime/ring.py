"""The newest durable events of one workspace, kept in memory for live delivery."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from clickclack_server.realtime.frames import LogEvent


class Ring:
    """Exactly the event log of a workspace in ``(base, tail]``, oldest first.

    Filled only from the log itself, in cursor order, so it has no gaps: a socket whose position
    is at or after ``base`` can read everything newer from here; an older position has fallen
    behind and must read the log.
    """

    __slots__ = ("_cursors", "_events", "base", "capacity")

    def __init__(self, base: str, capacity: int) -> None:
        self.base = base
        self.capacity = capacity
        self._events: list[LogEvent] = []
        self._cursors: list[str] = []

    def __len__(self) -> int:
        return len(self._events)

    @property
    def tail(self) -> str:
        """The newest cursor covered (``base`` while empty)."""
        return self._cursors[-1] if self._cursors else self.base

    def extend(self, events: Sequence[LogEvent]) -> None:
        """Append events that follow ``tail`` directly; trims the oldest beyond capacity."""
        for event in events:
            if event.cursor <= self.tail:
                raise ValueError("ring events must follow the tail in cursor order")
            self._events.append(event)
            self._cursors.append(event.cursor)
        # Trim in chunks so appends stay amortised O(1).
        excess = len(self._events) - self.capacity
        if excess > self.capacity // 4:
            self.base = self._cursors[excess - 1]
            del self._events[:excess]
            del self._cursors[:excess]

    def after(self, position: str) -> list[LogEvent] | None:
        """Events newer than ``position``; ``None`` when the ring no longer reaches back to it."""
        if position < self.base:
            return None
        return self._events[bisect.bisect_right(self._cursors, position) :]
