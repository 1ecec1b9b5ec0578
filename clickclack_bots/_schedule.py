"""When scheduled handlers fire: fixed intervals and cron expressions (through ``cronsim``).

Cron expressions follow standard (Debian) cron semantics, with an optional leading seconds
field: ``"0 9 * * 1-5"`` is 09:00 on weekdays. They are evaluated in ``tz`` (UTC unless
given; pass an IANA name such as ``"Europe/Paris"`` for local business hours, DST included).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from cronsim import CronSim, CronSimError


@attrs.frozen(kw_only=True)
class Every:
    """Fire every ``seconds`` (the first time after one interval, or at start)."""

    seconds: float
    at_start: bool = False

    def describe(self) -> str:
        return f"every {self.seconds:g}s"


@attrs.frozen(kw_only=True)
class Cron:
    """Fire at the times matching a cron ``expression`` in time zone ``tz``."""

    expression: str
    tz: tzinfo = UTC

    def next_after(self, moment: datetime) -> datetime:
        """The first matching time strictly after ``moment`` (aware, in ``tz``)."""
        local = moment.astimezone(self.tz)
        return next(CronSim(self.expression, local))

    def describe(self) -> str:
        return f"cron {self.expression!r} ({self.tz})"


def make_every(interval: float | timedelta, *, at_start: bool) -> Every:
    seconds = interval.total_seconds() if isinstance(interval, timedelta) else float(interval)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("every() needs a positive interval")
    return Every(seconds=seconds, at_start=at_start)


def make_cron(expression: str, tz: tzinfo | str | None) -> Cron:
    """Validate ``expression`` now, so a typo fails at import time rather than at 9 am."""
    zone: tzinfo
    if tz is None:
        zone = UTC
    elif isinstance(tz, str):
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {tz!r}") from exc
    else:
        zone = tz
    try:
        CronSim(expression, datetime.now(zone))
    except CronSimError as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from exc
    return Cron(expression=expression, tz=zone)
