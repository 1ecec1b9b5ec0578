"""One open socket as the hub sees it: who reads, how far, and what waits for it."""

from __future__ import annotations

import trio

from clickclack_server.auth import Actor
from clickclack_server.realtime.closes import BUFFER_OVERFLOW, Close
from clickclack_server.realtime.limits import SUBSCRIBER_BUFFER


class Subscriber:
    """A socket's mailbox in the hub.

    Durable events are never queued here: a publication only wakes the socket, which then reads
    from its ``position`` on (from the workspace ring, or the log when it fell behind). Hub-only
    frames (ephemeral events, notices) wait in a small bounded queue; overflowing it means the
    consumer is too slow and the socket is closed for it to reconnect and replay.
    """

    __slots__ = (
        "_lot",
        "_woken",
        "actor",
        "checked_generation",
        "close_request",
        "pending",
        "position",
        "wake_queued",
        "workspace_id",
    )

    def __init__(self, *, workspace_id: str, actor: Actor, checked_generation: int) -> None:
        self.workspace_id = workspace_id
        self.actor = actor
        self.checked_generation = checked_generation
        self.position = ""
        self.pending: list[str] = []
        self.close_request: Close | None = None
        self.wake_queued = False
        self._woken = False
        self._lot = trio.lowlevel.ParkingLot()

    @property
    def user_id(self) -> str:
        return self.actor.user_id

    def wake(self) -> None:
        """Ask the socket to look for new work (never blocks, may be called often)."""
        self._woken = True
        self._lot.unpark_all()

    async def wait_woken(self) -> None:
        """Block until :meth:`wake` was called since the last return."""
        if self._woken:
            await trio.lowlevel.checkpoint()
        else:
            await self._lot.park()
        self._woken = False

    def push(self, frame: str) -> bool:
        """Queue a hub-only frame; True when the socket needs a wake to send it. A full queue
        closes the socket as a slow consumer instead."""
        if self.close_request is not None:
            return False
        if len(self.pending) >= SUBSCRIBER_BUFFER:
            self.pending = []
            self.close(BUFFER_OVERFLOW)
            return False
        self.pending.append(frame)
        return True

    def take_pending(self) -> list[str]:
        """The queued hub-only frames, oldest first; the queue is left empty."""
        frames, self.pending = self.pending, []
        return frames

    def close(self, close: Close) -> None:
        """Ask the socket to close with ``close`` (the first request wins)."""
        if self.close_request is None:
            self.close_request = close
        self.wake()
