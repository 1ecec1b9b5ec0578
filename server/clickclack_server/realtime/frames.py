"""Events turned into WebSocket text frames once, whatever the number of readers."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import attrs
import orjson

from clickclack_sdk import Event, to_data
from clickclack_server import ids
from clickclack_server.realtime.visibility import Audience


def frame_of(event: Event) -> str:
    """The wire JSON of ``event`` (omit-empty fields as every response writes them)."""
    return orjson.dumps(to_data(event)).decode()


@attrs.frozen(slots=True)
class LogEvent:
    """One durable event read from the log: its cursor, type, audience and frame."""

    cursor: str
    type: str
    audience: Audience
    frame: str

    @property
    def fragment(self) -> orjson.Fragment:
        """The frame as pre-serialised JSON for embedding in a response body."""
        return orjson.Fragment(self.frame)

    @classmethod
    def build(
        cls,
        *,
        id: str,
        cursor: str,
        type: str,
        workspace_id: str,
        channel_id: str | None,
        seq: int | None,
        created_at: str,
        payload: dict[str, Any],
        recipients: Iterable[str] | None,
    ) -> LogEvent:
        """From the stored columns (``created_at`` in storage form)."""
        event = Event(
            id=id,
            cursor=cursor,
            type=type,
            workspace_id=workspace_id,
            channel_id=channel_id,
            seq=seq,
            created_at=ids.wire_time(created_at),
            payload=payload,
        )
        return cls(
            cursor=cursor,
            type=type,
            audience=Audience.of(channel_id, payload, recipients),
            frame=frame_of(event),
        )


def ephemeral_id(now_ns: int | None = None) -> str:
    """``eph_`` + UTC ``YYYYMMDDhhmmss.nnnnnnnnn`` (protocol 1.1): not a ULID."""
    ns = time.time_ns() if now_ns is None else now_ns
    seconds, fraction = divmod(ns, 1_000_000_000)
    return "eph_" + time.strftime("%Y%m%d%H%M%S", time.gmtime(seconds)) + f".{fraction:09d}"
