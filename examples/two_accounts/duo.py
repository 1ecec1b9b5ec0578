"""Two bots for one process (see ``bots.toml``): each runs on its own account, with its own
realtime connection and cursor, so one failing does not stop the other."""

from clickclack_bots import Bot, CommandContext, MessageContext

pinger = Bot("pinger", prefix="!")
greeter = Bot("greeter")


@pinger.command()
async def ping(ctx: CommandContext) -> None:
    """Answer pong."""
    await ctx.reply("pong")


@greeter.on_message(r"(?i)^(hello|hi)\b")
async def greet(ctx: MessageContext) -> None:
    """Say hello back, by name."""
    name = ctx.author.display_name if ctx.author else "there"
    await ctx.reply(f"hello, {name}!")
