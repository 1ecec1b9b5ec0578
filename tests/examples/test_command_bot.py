"""examples/command_bot: typed arguments (int, enum, bool flag, *rest), usage errors, help."""

from __future__ import annotations

import pytest

from clickclack_bots import Bot
from clickclack_bots.testing import RunningBot, TestUser, clickclack_server, running_bot, user
from tests.examples._load import load_example

__all__ = ["clickclack_server", "running_bot", "user"]

barista = load_example("command_bot", "barista")


@pytest.fixture
def bot() -> Bot:
    return barista.bot  # type: ignore[no-any-return]


async def ask(user: TestUser, running_bot: RunningBot, line: str) -> str:
    await user.say("#general", line)
    return (await user.expect_reply(author=running_bot)).body


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("!order latte", "1 x medium latte"),
        ("!order latte 3", "3 x medium latte"),
        ("!order latte 2 --size large --iced", "2 x large latte (iced)"),
        ("!order tea --size S", "1 x small tea"),  # the enum's value, any case
        ("!brew mocha 2 --no-iced", "2 x medium mocha"),  # alias, negated flag
        ('!order "flat white" --cups 4', "4 x medium flat white"),  # quoted, by name
        ("!note more oat milk please", "noted: more oat milk please"),
        ("!note", "an empty note?"),
    ],
)
async def test_commands(running_bot: RunningBot, user: TestUser, line: str, answer: str) -> None:
    assert await ask(user, running_bot, line) == answer


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("!order", "missing argument <drink>"),
        ("!order tea two", "two"),
        ("!order tea --size huge", "huge"),
        ("!order tea 11", "cups must be between 1 and 10"),
    ],
)
async def test_usage_errors(
    running_bot: RunningBot, user: TestUser, line: str, reason: str
) -> None:
    answer = await ask(user, running_bot, line)
    assert reason in answer
    assert "Usage: `!order <drink> [cups] [--size SIZE] [--iced]`" in answer


async def test_help_and_chatter(running_bot: RunningBot, user: TestUser) -> None:
    listing = await ask(user, running_bot, "!help")
    assert "order" in listing and "note" in listing
    assert "Order drinks" in listing
    await user.say("#general", "just chatting about coffee")
    await user.expect_no_reply(running_bot)
