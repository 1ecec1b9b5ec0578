"""examples/reminder_bot: the ``every`` and ``cron`` schedules post to #general.

Run with short schedules through the example's ``make_bot`` factory; the waits are bounded by
``trio.fail_after`` (inside ``wait_for_event``), never by sleeps.
"""

from __future__ import annotations

from datetime import timedelta

from clickclack_bots.testing import ClickClackHarness, RunningBot, TestUser, clickclack_server, user
from clickclack_sdk import Event
from tests.examples._load import load_example

__all__ = ["clickclack_server", "user"]

reminders = load_example("reminder_bot", "reminders")


async def next_post(user: TestUser, running: RunningBot, seen: set[str]) -> str:
    """The body of the bot's next message in #general that this user has not counted yet."""
    general = user.harness.general_id

    def is_new_post(event: Event) -> bool:
        return (
            event.type == "message.created" and event.channel_id == general and event.id not in seen
        )

    while True:
        event = await user.wait_for_event(is_new_post, timeout=10)
        seen.add(event.id)
        message = await user.client.messages.get(str((event.payload or {})["message_id"]))
        if message.author_id == running.user_id:
            return message.body


def test_default_schedules() -> None:
    whens = [schedule.when.describe() for schedule in reminders.bot.schedules]
    assert whens[0] == "every 3600s"
    assert "0 9 * * 1-5" in whens[1]


async def test_every_posts_repeatedly(clickclack_server: ClickClackHarness, user: TestUser) -> None:
    running = await clickclack_server.start_bot(
        reminders.make_bot(every=timedelta(milliseconds=200), cron=None)
    )
    seen: set[str] = set()
    assert await next_post(user, running, seen) == reminders.REMINDER
    assert await next_post(user, running, seen) == reminders.REMINDER
    await running.stop()


async def test_cron_posts(clickclack_server: ClickClackHarness, user: TestUser) -> None:
    # A six-field cron expression has a seconds field: this one fires every second.
    running = await clickclack_server.start_bot(reminders.make_bot(every=None, cron="* * * * * *"))
    assert await next_post(user, running, set()) == reminders.STANDUP
    await running.stop()
