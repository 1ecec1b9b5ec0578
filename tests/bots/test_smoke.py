import pytest

from clickclack_bots import Bot, MessageContext
from clickclack_bots.testing import RunningBot, TestUser

echo = Bot("echo")


@echo.on_message("^ping$")
async def ping(ctx: MessageContext) -> None:
    await ctx.reply("pong")


@pytest.fixture
def bot() -> Bot:
    return echo


async def test_ping(running_bot: RunningBot, user: TestUser) -> None:
    await user.say("#general", "ping")
    reply = await user.expect_reply(timeout=5)
    assert reply.body == "pong"
    assert reply.author_id == running_bot.user_id
