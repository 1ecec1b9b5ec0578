"""Schedules: cron expressions through cronsim (standard semantics), intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from clickclack_bots import Bot, ScheduleContext
from clickclack_bots._schedule import Every, make_cron, make_every


def test_weekday_mornings() -> None:
    cron = make_cron("0 9 * * 1-5", None)
    friday_evening = datetime(2026, 5, 8, 18, 0, tzinfo=UTC)  # a Friday
    assert cron.next_after(friday_evening) == datetime(2026, 5, 11, 9, 0, tzinfo=UTC)  # Monday
    assert cron.next_after(datetime(2026, 5, 11, 9, 0, tzinfo=UTC)) == datetime(
        2026, 5, 12, 9, 0, tzinfo=UTC
    )


def test_time_zone_and_dst() -> None:
    cron = make_cron("30 2 * * *", "Europe/Paris")
    # 2026-03-29 02:30 does not exist in Paris (clocks jump to 03:00): Debian cron runs it
    # right after the jump.
    before = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    fire = cron.next_after(before)
    assert fire.tzinfo == ZoneInfo("Europe/Paris")
    assert fire.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_seconds_field_and_dom_dow_or() -> None:
    every_ten_seconds = make_cron("*/10 * * * * *", None)
    start = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert every_ten_seconds.next_after(start) == start + timedelta(seconds=5)
    # Standard cron: day-of-month OR day-of-week when both are restricted.
    first_or_monday = make_cron("0 0 1 * 1", None)
    assert first_or_monday.next_after(datetime(2026, 6, 2, tzinfo=UTC)) == datetime(
        2026, 6, 8, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("expression", "tz", "message"),
    [
        ("61 * * * *", None, "invalid cron expression"),
        ("* * *", None, "invalid cron expression"),
        ("0 9 * * *", "Mars/Olympus", "unknown time zone"),
    ],
)
def test_bad_cron(expression: str, tz: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_cron(expression, tz)


def test_every() -> None:
    assert make_every(timedelta(minutes=2), at_start=True) == Every(seconds=120.0, at_start=True)
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive interval"):
            make_every(bad, at_start=False)


def test_decorators_register_schedules() -> None:
    bot = Bot("clock")

    @bot.every(1.5, at_start=True, name="tick")
    async def tick(ctx: ScheduleContext) -> None: ...

    @bot.cron("0 9 * * 1-5", tz="UTC")
    async def standup(ctx: ScheduleContext) -> None: ...

    assert [s.name for s in bot.schedules] == ["tick", "standup"]
    assert bot.schedules[0].when.describe() == "every 1.5s"
    assert "0 9 * * 1-5" in bot.schedules[1].when.describe()
    with pytest.raises(ValueError):
        bot.cron("nope")
