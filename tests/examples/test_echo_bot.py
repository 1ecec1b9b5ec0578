"""examples/echo_bot: it echoes in channels, DMs and threads, and never loops on itself."""

from __future__ import annotations

import pytest

from clickclack_bots import Bot
from clickclack_bots.testing import (
    RunningBot,
    TestUser,
    clickclack_server,
    running_bot,
    user,
)
from tests.examples._load import load_example

__all__ = ["clickclack_server", "running_bot", "user"]

echo = load_example("echo_bot", "echo")


@pytest.fixture
def bot() -> Bot:
    return echo.bot  # type: ignore[no-any-return]


async def test_echoes_in_a_channel(running_bot: RunningBot, user: TestUser) -> None:
    await user.say("#general", "hello, echo")
    reply = await user.expect_reply(author=running_bot)
    assert reply.body == "hello, echo"
    # It does not answer its own reply: nothing more arrives once it caught up.
    await user.expect_no_reply(running_bot)


async def test_echoes_in_a_dm_and_a_thread(running_bot: RunningBot, user: TestUser) -> None:
    await user.say(f"dm:{running_bot.user_id}", "secret")
    assert (await user.expect_reply(author=running_bot)).body == "secret"
    root = await user.say("#general", "root")
    assert (await user.expect_reply(author=running_bot)).body == "root"
    await user.say(f"thread:{root.id}", "in the thread")
    reply = await user.expect_reply(author=running_bot)
    assert reply.body == "in the thread"
    assert reply.thread_root_id == root.id


async def test_answers_each_message(running_bot: RunningBot, user: TestUser) -> None:
    for text in ("one", "two words", "émoji 🎉"):
        await user.say("#general", text)
        assert (await user.expect_reply(author=running_bot)).body == text
