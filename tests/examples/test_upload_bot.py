"""examples/upload_bot: ``!report`` uploads a CSV, posts it with the file attached, and
reacts to the request; a 👀 reaction is noticed."""

from __future__ import annotations

import io

import pytest

from clickclack_bots import Bot
from clickclack_bots.testing import RunningBot, TestUser, clickclack_server, running_bot, user
from tests.examples._load import load_example

__all__ = ["clickclack_server", "running_bot", "user"]

reporter = load_example("upload_bot", "reporter")


@pytest.fixture
def bot() -> Bot:
    return reporter.bot  # type: ignore[no-any-return]


async def test_report_uploads_and_reacts(running_bot: RunningBot, user: TestUser) -> None:
    request = await user.say("#general", "!report weekly numbers")
    reply = await user.expect_reply(author=running_bot)
    expected = reporter.build_report("weekly numbers")
    assert reply.body == f"here is weekly-numbers.csv ({len(expected)} bytes)"
    # The attachment and the reaction come after the post: wait until the bot has finished
    # handling the request (a barrier on its cursor, not a sleep).
    await running_bot.wait_caught_up()
    posted = await user.client.messages.get(reply.id)
    request_now = await user.client.messages.get(request.id)
    assert posted.attachments is not None and len(posted.attachments) == 1
    upload = posted.attachments[0]
    assert (upload.filename, upload.content_type, upload.byte_size) == (
        "weekly-numbers.csv",
        "text/csv",
        len(expected),
    )
    assert upload.owner_id == running_bot.user_id
    downloaded = io.BytesIO()
    await user.client.uploads.download(upload.id, downloaded)
    assert downloaded.getvalue() == expected
    reactions = request_now.reactions or []
    assert [(r.emoji, r.count) for r in reactions] == [(reporter.DONE, 1)]


async def test_notices_eyes(running_bot: RunningBot, user: TestUser) -> None:
    message = await user.say("#general", "look at this")
    await user.react(message, "👀")
    assert (await user.expect_reply(author=running_bot)).body == "someone is looking at this"
