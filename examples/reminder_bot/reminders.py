"""Scheduled posts: a recurring reminder (``@bot.every``) and a stand-up call (``@bot.cron``).

``bot`` uses the real schedules (hourly, weekdays at 09:00 UTC); ``make_bot`` builds the same
bot with other ones, which is how the tests run it in seconds and how you would configure it
(``clickclack bot run "reminders:make_bot"`` runs the factory with its defaults).
"""

from datetime import timedelta

from clickclack_bots import Bot, ScheduleContext

REMINDER = "Reminder: stretch your legs and drink some water."
STANDUP = "Stand-up time! What did you do, what's next, anything blocking?"


def make_bot(
    *,
    every: float | timedelta | None = timedelta(hours=1),
    cron: str | None = "0 9 * * 1-5",
    channel: str = "#general",
) -> Bot:
    """A reminder bot posting to ``channel``; ``None`` turns a schedule off."""
    bot = Bot("reminders")

    if every is not None:

        @bot.every(every)
        async def remind(ctx: ScheduleContext) -> None:
            """The recurring reminder (runs never overlap; missed ticks are skipped)."""
            await ctx.send(channel, REMINDER)

    if cron is not None:

        @bot.cron(cron)
        async def standup(ctx: ScheduleContext) -> None:
            """The stand-up call, on the cron schedule (UTC unless ``tz=`` is given)."""
            await ctx.send(channel, STANDUP)

    return bot


bot = make_bot()
