"""Files and reactions: ``!report`` uploads a small CSV, posts it, and reacts to the request.

Shows the SDK under the bot (``ctx.client.uploads``/``ctx.client.messages``) next to the
context helpers (``ctx.reply``, ``ctx.react``).
"""

import io

from clickclack_bots import Bot, CommandContext, ReactionContext

bot = Bot("reporter", prefix="!")

DONE = "✅"


def build_report(title: str) -> bytes:
    """The file to upload: a tiny CSV (a real bot would query something here)."""
    rows = [("metric", "value"), ("title", title), ("requests", "42"), ("errors", "0")]
    return "".join(f"{key},{value}\n" for key, value in rows).encode()


@bot.command()
async def report(ctx: CommandContext, *title: str) -> None:
    """Upload a report file and post it here."""
    name = "-".join(title) or "report"
    async with ctx.typing():
        upload = await ctx.client.uploads.create(
            ctx.workspace_id,
            io.BytesIO(build_report(" ".join(title) or "report")),
            filename=f"{name}.csv",
            content_type="text/csv",
        )
        posted = await ctx.reply(f"here is {upload.filename} ({upload.byte_size} bytes)")
        await ctx.client.messages.attach(posted, upload)
    await ctx.react(DONE)


@bot.on_reaction("👀")
async def seen(ctx: ReactionContext) -> None:
    """Someone looks at a message: say so in its conversation."""
    await ctx.reply("someone is looking at this")
