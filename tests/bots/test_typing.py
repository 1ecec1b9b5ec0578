"""Handler signatures type-check: a handler with the wrong context type is a mypy error."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from mypy import api

SNIPPET = """
from clickclack_bots import (
    Bot, CallNext, CommandContext, Context, EventContext, MessageContext, MessageEventContext,
    ReactionContext, ResyncContext, ScheduleContext,
)

bot = Bot("typed")

@bot.on_message("hi")
async def message_ok(ctx: MessageContext) -> None: ...

@bot.on_message()
async def message_general_ok(ctx: Context) -> None: ...

@bot.on_message()
async def message_wrong(ctx: ReactionContext) -> None: ...  # error

@bot.command("deploy")
async def command_ok(ctx: CommandContext, service: str, *rest: str, force: bool = False) -> None: ...

@bot.command("shared")
async def command_as_message_ok(ctx: MessageContext) -> None: ...

@bot.command("bad")
async def command_wrong(ctx: ReactionContext, n: int) -> None: ...  # error

@bot.command("noctx")
async def command_without_context(n: int) -> None: ...  # error

@bot.on_reaction("+1")
async def reaction_ok(ctx: ReactionContext) -> None: ...

@bot.on_reaction()
async def reaction_shared_ok(ctx: MessageEventContext) -> None: ...

@bot.on_reaction()
async def reaction_wrong(ctx: MessageContext) -> None: ...  # error

@bot.on_event("channel.created")
async def event_ok(ctx: EventContext) -> None: ...

@bot.on_event("channel.created")
async def event_wrong(ctx: MessageContext) -> None: ...  # error

@bot.every(60)
async def every_ok(ctx: ScheduleContext) -> None: ...

@bot.cron("0 9 * * 1-5")
async def cron_wrong(ctx: EventContext) -> None: ...  # error

@bot.on_startup
async def startup_ok(ctx: Context) -> None: ...

@bot.on_shutdown
async def shutdown_wrong(ctx: MessageContext) -> None: ...  # error

@bot.on_resync
async def resync_ok(ctx: ResyncContext) -> None: ...

@bot.middleware
async def middleware_ok(ctx: Context, call_next: CallNext) -> None:
    await call_next()

@bot.middleware
async def middleware_wrong(ctx: MessageContext, call_next: CallNext) -> None: ...  # error

@bot.on_error(ValueError)
async def error_ok(ctx: Context, error: Exception) -> None: ...

@bot.on_message()
def not_async(ctx: MessageContext) -> None: ...  # error

async def use(ctx: MessageContext) -> None:
    await ctx.reply("x")
    await ctx.reply(42)  # error
    await ctx.send("channel:general", "x")
    async with ctx.typing():
        pass
"""


def test_wrong_context_types_are_mypy_errors(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source = textwrap.dedent(SNIPPET)
    path = tmp_path / "typed_bot.py"
    path.write_text(source)
    cache_provider = getattr(request.config, "cache", None)
    cache = cache_provider.mkdir("clickclack-bots-mypy") if cache_provider else tmp_path
    stdout, stderr, status = api.run(
        [
            str(path),
            "--strict",
            "--python-version",
            "3.11",
            "--cache-dir",
            str(cache),
            "--no-error-summary",
        ]
    )
    expected = {
        # mypy reports a rejected handler at its decorator, the line above the definition
        n - 1 if line.lstrip().startswith(("def ", "async def ")) else n
        for n, line in enumerate(source.splitlines(), 1)
        if line.endswith("# error")
    }
    found = {int(m[1]) for m in re.finditer(r"typed_bot\.py:(\d+): error", stdout)}
    assert found == expected, stdout + stderr
    assert status == 1
