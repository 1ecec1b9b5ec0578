"""A command bot: arguments are parsed and converted from the handlers' type hints.

``!order latte 2 --size large --iced`` -> ``2 x large latte (iced)``; ``!help`` lists the
commands; a malformed line is answered with the reason and the usage line.
"""

import enum

from clickclack_bots import Bot, CommandContext, UsageError

bot = Bot("barista", prefix="!")

MAX_CUPS = 10


class Size(enum.Enum):
    """Cup sizes; ``--size`` accepts the name or the value, in any case."""

    small = "s"
    medium = "m"
    large = "l"


@bot.command("order", aliases=["brew"])
async def order(
    ctx: CommandContext,
    drink: str,
    cups: int = 1,
    *,
    size: Size = Size.medium,
    iced: bool = False,
) -> None:
    """Order drinks: a drink, how many cups, --size and --iced."""
    if not 1 <= cups <= MAX_CUPS:
        raise UsageError(f"cups must be between 1 and {MAX_CUPS}")
    suffix = " (iced)" if iced else ""
    await ctx.reply(f"{cups} x {size.name} {drink}{suffix}")


@bot.command()
async def note(ctx: CommandContext, *words: str) -> None:
    """Leave a note for the barista (every remaining word)."""
    await ctx.reply(f"noted: {' '.join(words)}" if words else "an empty note?")
