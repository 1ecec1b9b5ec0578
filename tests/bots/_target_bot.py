"""A bot module for the loader and CLI tests (``tests.bots._target_bot:bot``)."""

from __future__ import annotations

from clickclack_bots import Bot, MessageContext

bot = Bot("target")
not_a_bot = 42


@bot.on_message("^hello$")
async def hello(ctx: MessageContext) -> None:
    await ctx.reply("hello from target")


def make_bot() -> Bot:
    return Bot("made")


class holder:
    bot = bot
