"""The smallest useful bot: it repeats every message it sees, in channels, DMs and threads."""

from clickclack_bots import Bot, MessageContext

bot = Bot("echo")


@bot.on_message()
async def echo(ctx: MessageContext) -> None:
    """Answer each message with its own text (the runtime never lets a bot answer itself)."""
    await ctx.reply(ctx.text)
