"""Every decorator and option, against the real server through the testing plugin."""

from __future__ import annotations

import enum
import re

import trio

from clickclack_bots import (
    Bot,
    CallNext,
    CommandContext,
    Context,
    EventContext,
    HandlerTimeout,
    MessageContext,
    ReactionContext,
    ScheduleContext,
)
from clickclack_bots.testing import ClickClackHarness, TestUser


class Size(enum.Enum):
    small = "s"
    large = "l"


async def test_on_message_pattern_and_match(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    bot = Bot("matcher")

    @bot.on_message(re.compile(r"^add (\d+) (\d+)$"))
    async def add(ctx: MessageContext) -> None:
        assert ctx.match is not None
        await ctx.reply(str(int(ctx.match[1]) + int(ctx.match[2])))

    @bot.on_message("shout")
    async def shout(ctx: MessageContext) -> None:
        await ctx.reply(ctx.text.upper())

    running = await clickclack_server.start_bot(bot)
    await user.say("#general", "add 2 40")
    assert (await user.expect_reply()).body == "42"
    await user.say("#general", "please shout this")
    assert (await user.expect_reply()).body == "PLEASE SHOUT THIS"
    await user.say("#general", "nothing to see")
    await user.expect_no_reply(running)
    stats = running.statistics()
    assert (stats.handled, stats.failed) == (2, 0)
    assert stats.ignored >= 1


async def test_channel_dm_and_thread_filters(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    ops = await clickclack_server.create_channel("ops")
    bot = Bot("filters")

    @bot.on_message(channel="#ops")
    async def in_ops(ctx: MessageContext) -> None:
        await ctx.reply("ops:" + ctx.text)

    @bot.on_message(channel=[clickclack_server.general_id], thread=False, dm=False)
    async def general_roots(ctx: MessageContext) -> None:
        await ctx.reply("root:" + ctx.text)

    @bot.on_message(thread=True)
    async def replies(ctx: MessageContext) -> None:
        assert ctx.in_thread
        await ctx.reply("thread:" + ctx.text)

    @bot.on_message(dm=True)
    async def dms(ctx: MessageContext) -> None:
        assert ctx.is_dm and ctx.conversation_id and ctx.channel_id is None
        await ctx.reply("dm:" + ctx.text)

    running = await clickclack_server.start_bot(bot)
    await user.say("#ops", "deploy")
    reply = await user.expect_reply()
    assert (reply.body, reply.channel_id) == ("ops:deploy", ops.id)
    root = await user.say("#general", "hello")
    reply = await user.expect_reply()
    assert (reply.body, reply.parent_message_id) == ("root:hello", None)
    await user.say(f"thread:{root.id}", "in a thread")
    reply = await user.expect_reply()
    assert (reply.body, reply.thread_root_id, reply.parent_message_id) == (
        "thread:in a thread",
        root.id,
        root.id,
    )
    said = await user.say(f"dm:{running.user_id}", "psst")
    reply = await user.expect_reply()
    assert (reply.body, reply.direct_conversation_id) == ("dm:psst", said.direct_conversation_id)
    await user.expect_no_reply(running)


async def test_mentions(clickclack_server: ClickClackHarness, user: TestUser) -> None:
    bot = Bot("mentioned")

    @bot.on_message("^hello$", mention=True)
    async def hello(ctx: MessageContext) -> None:
        assert ctx.mentioned
        await ctx.reply(f"hi {ctx.author.display_name if ctx.author else '?'}", thread=True)

    running = await clickclack_server.start_bot(
        bot, account=await clickclack_server.create_bot_account("Mentioned", handle="helper")
    )
    await user.say("#general", "hello")
    await user.say("#general", "@helperx hello")
    await user.say("#general", "email me@helper hello")
    await user.expect_no_reply(running)
    said = await user.say("#general", "@Helper, hello")
    reply = await user.expect_reply()
    assert reply.body == "hi Tester"
    assert reply.thread_root_id == said.id  # thread=True starts a thread under the message


async def test_commands(clickclack_server: ClickClackHarness, user: TestUser) -> None:
    bot = Bot("deployer", prefix=("!", "/"))
    seen_by_on_message: list[str] = []

    @bot.command("deploy", aliases=["ship"])
    async def deploy(
        ctx: CommandContext,
        service: str,
        replicas: int = 1,
        *,
        size: Size = Size.small,
        force: bool = False,
    ) -> None:
        """Deploy a service."""
        await ctx.reply(f"{ctx.command} {service} x{replicas} {size.name} force={force}")

    @bot.command()
    async def fail_validation(ctx: CommandContext, n: int) -> None:
        """Reject odd numbers."""
        if n % 2:
            from clickclack_bots import UsageError

            raise UsageError("n must be even")
        await ctx.reply("even")

    @bot.on_message()
    async def anything(ctx: MessageContext) -> None:
        seen_by_on_message.append(ctx.text)

    running = await clickclack_server.start_bot(
        bot, account=await clickclack_server.create_bot_account("Deployer", handle="deployer")
    )
    await user.say("#general", "!deploy api 3 --size large --force")
    assert (await user.expect_reply()).body == "deploy api x3 large force=True"
    await user.say("#general", "/ship web")
    assert (await user.expect_reply()).body == "deploy web x1 small force=False"
    await user.say("#general", "@deployer deploy db --size l")
    assert (await user.expect_reply()).body == "deploy db x1 large force=False"
    await user.say("#general", "!deploy")
    assert (await user.expect_reply()).body == (
        "missing argument <service>\nUsage: `!deploy <service> [replicas] [--size SIZE] [--force]`"
    )
    await user.say("#general", "!fail-validation 3")
    assert (await user.expect_reply()).body.startswith(
        "n must be even\nUsage: `!fail-validation <n>`"
    )
    await user.say("#general", "!help")
    listing = (await user.expect_reply()).body
    assert "`!deploy <service> [replicas] [--size SIZE] [--force]` — Deploy a service." in listing
    await user.say("#general", "!help deploy")
    assert "Also: !ship" in (await user.expect_reply()).body
    await user.say("#general", "!unknown thing")
    await user.say("#general", "plain text")
    await user.expect_no_reply(running)
    assert seen_by_on_message == ["!unknown thing", "plain text"]
    stats = running.statistics()
    assert stats.rejected == 2
    menu = await (await clickclack_server.owner()).client.bots.commands(
        clickclack_server.workspace_id
    )
    assert {(c.command, c.description, c.args_hint) for c in menu} == {
        ("/deploy", "Deploy a service.", "<service> [replicas] [--size SIZE] [--force]"),
        ("/fail-validation", "Reject odd numbers.", "<n>"),
        ("/help", "List the commands, or explain one: help <command>.", "[topic...]"),
    }


async def test_command_menu_needs_scope_but_bot_still_runs(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    bot = Bot("reader")

    @bot.command()
    async def ping(ctx: CommandContext) -> None:
        await ctx.reply("pong")

    account = await clickclack_server.create_bot_account(
        "Reader", scopes=["bot:read", "messages:write"]
    )
    await clickclack_server.start_bot(bot, account=account)
    await user.say("#general", "!ping")
    assert (await user.expect_reply()).body == "pong"
    menu = await (await clickclack_server.owner()).client.bots.commands(
        clickclack_server.workspace_id
    )
    assert menu == []


async def test_on_reaction(clickclack_server: ClickClackHarness, user: TestUser) -> None:
    bot = Bot("reactor")
    seen: list[tuple[str, bool, str, int]] = []

    @bot.on_reaction("👍")
    async def thumbs(ctx: ReactionContext) -> None:
        seen.append((ctx.emoji, ctx.added, ctx.message.body, ctx.count))
        assert ctx.user_id == user.user_id
        await ctx.react("👍")  # its own reaction must not trigger it again
        await ctx.reply("thanks")

    @bot.on_reaction(added=False)
    async def removed(ctx: ReactionContext) -> None:
        seen.append((ctx.emoji, ctx.added, ctx.message.body, ctx.count))

    running = await clickclack_server.start_bot(bot)
    message = await user.say("#general", "rate me")
    await user.react(message, "👎")
    await user.react(message, "👍")
    assert (await user.expect_reply()).body == "thanks"
    await user.client.reactions.remove(message.id, "👎")
    other = await clickclack_server.create_bot_account("Other Reactor")
    async with clickclack_server.client(other.token) as client:
        await client.reactions.add(message.id, "👍")  # other bots are ignored by default
    await running.wait_caught_up()
    assert seen == [("👍", True, "rate me", 1), ("👎", False, "rate me", 0)]


async def test_on_event(clickclack_server: ClickClackHarness, user: TestUser) -> None:
    bot = Bot("watcher")
    everything: list[str] = []

    @bot.on_event("channel.created")
    async def created(ctx: EventContext) -> None:
        await ctx.send("#general", f"welcome to <#{ctx.payload['channel_id']}>")

    @bot.on_event("*")
    async def any_event(ctx: EventContext) -> None:
        everything.append(ctx.event.type)

    running = await clickclack_server.start_bot(bot)
    channel = await clickclack_server.create_channel("news")
    await user.say("#general", "hi")
    await running.wait_caught_up()
    page = await user.client.messages.page(clickclack_server.general_id)
    assert [m.body for m in page.messages if m.author_id == running.user_id] == [
        f"welcome to <#{channel.id}>"
    ]
    # Its own message.created is not delivered to it; the user's is.
    assert everything.count("message.created") == 1
    assert "channel.created" in everything


async def test_every_and_cron(clickclack_server: ClickClackHarness, user: TestUser) -> None:
    bot = Bot("clock")
    ticks: list[str] = []
    three_ticks = trio.Event()
    crons = trio.Event()

    @bot.every(0.05, at_start=True)
    async def tick(ctx: ScheduleContext) -> None:
        ticks.append(ctx.name)
        if len(ticks) == 1:
            await ctx.send("channel:general", "first tick")
        if len(ticks) == 3:
            three_ticks.set()

    @bot.cron("* * * * * *")  # every second (seconds field)
    async def each_second(ctx: ScheduleContext) -> None:
        assert ctx.fire_time.microsecond == 0
        crons.set()

    running = await clickclack_server.start_bot(bot)
    with trio.fail_after(5):
        await three_ticks.wait()
        await crons.wait()
    await running.stop()
    page = await user.client.messages.page(clickclack_server.general_id)
    assert [m.body for m in page.messages if m.author_id == running.user_id] == ["first tick"]


async def test_hooks_middleware_and_errors(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    bot = Bot("lifecycle")
    order: list[str] = []
    errors: list[tuple[str, str]] = []

    @bot.on_startup
    async def started(ctx: Context) -> None:
        await ctx.send("#general", f"{ctx.account.display_name} online")

    @bot.on_shutdown
    async def stopping(ctx: Context) -> None:
        await ctx.send("#general", "going offline")

    @bot.middleware
    async def outer(ctx: Context, call_next: CallNext) -> None:
        order.append("outer-in")
        await call_next()
        order.append("outer-out")

    @bot.middleware
    async def gate(ctx: Context, call_next: CallNext) -> None:
        if isinstance(ctx, MessageContext) and ctx.text == "blocked":
            order.append("skipped")
            return
        await call_next()

    @bot.on_message("^boom$")
    async def boom(ctx: MessageContext) -> None:
        order.append("boom")
        raise ValueError("kaboom")

    @bot.on_message("^boom$")
    async def survivor(ctx: MessageContext) -> None:
        order.append("survivor")
        await ctx.reply("still here")

    @bot.on_message("^slow$", timeout=0.1)
    async def slow(ctx: MessageContext) -> None:
        await trio.sleep_forever()

    @bot.on_message("^blocked$")
    async def never(ctx: MessageContext) -> None:
        order.append("never")

    @bot.on_error(ValueError)
    async def on_value_error(ctx: Context, error: Exception) -> None:
        errors.append(("value", str(error)))
        assert isinstance(ctx, MessageContext)
        await ctx.reply(f"sorry: {error}")

    @bot.on_error()
    async def on_any(ctx: Context, error: Exception) -> None:
        errors.append((type(error).__name__, ctx.kind))
        raise RuntimeError("error handlers may fail too")

    running = await clickclack_server.start_bot(bot)
    owner = await clickclack_server.owner()
    startup = await owner.client.messages.page(clickclack_server.general_id)
    assert startup.messages[-1].body == "Lifecycle online"
    await user.say("#general", "boom")
    bodies = {(await user.expect_reply()).body, (await user.expect_reply()).body}
    assert bodies == {"sorry: kaboom", "still here"}
    await user.say("#general", "slow")
    await user.say("#general", "blocked")
    await running.wait_caught_up()
    assert order == [
        *("outer-in", "boom"),  # the exception passes through the middleware
        *("outer-in", "survivor", "outer-out"),
        "outer-in",  # slow: cancelled at its deadline
        *("outer-in", "skipped", "outer-out"),
    ]
    assert errors == [("value", "kaboom"), ("ValueError", "message"), ("HandlerTimeout", "message")]
    stats = running.statistics()
    assert (stats.failed, stats.timed_out) == (2, 1)
    await running.stop()
    final = await owner.client.messages.page(clickclack_server.general_id)
    assert final.messages[-1].body == "going offline"
    assert issubclass(HandlerTimeout, TimeoutError)


async def test_send_targets_and_typing(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    import pytest

    bot = Bot("sender")
    ops = await clickclack_server.create_channel("ops")
    gate = trio.Event()

    @bot.on_message("^targets$")
    async def targets(ctx: MessageContext) -> None:
        await ctx.send("#ops", "by name")
        await ctx.send(f"channel:{ops.id}", "by id")
        await ctx.send(f"dm:{ctx.author_id}", "in a dm")
        await ctx.send(f"thread:{ctx.message.id}", "in its thread")
        with pytest.raises(ValueError, match="bad send target"):
            await ctx.send("nowhere", "x")
        with pytest.raises(LookupError):
            await ctx.send("#missing", "x")
        await ctx.reply("sent", quote=True)

    @bot.on_message("^think$")
    async def think(ctx: MessageContext) -> None:
        async with ctx.typing():
            await gate.wait()
        await ctx.reply("thought")

    running = await clickclack_server.start_bot(bot)
    said = await user.say("#general", "targets")
    assert (await user.expect_reply()).body == "in its thread"  # same channel, so it counts
    reply = await user.expect_reply()
    assert (reply.body, reply.quoted_message_id, reply.thread_root_id) == (
        "sent",
        said.id,
        reply.id,
    )
    ops_page = await user.client.messages.page(ops.id)
    assert [m.body for m in ops_page.messages] == ["by name", "by id"]
    thread = await user.client.threads.open(said.id)
    assert [m.body for m in thread.replies] == ["in its thread"]
    conversations = await user.client.dms.list(clickclack_server.workspace_id)
    dm_page = await user.client.dms.page(conversations[0].id)
    assert [(m.body, m.author_id) for m in dm_page.messages] == [("in a dm", running.user_id)]

    await user.say("#general", "think")
    started = await user.wait_for_event(
        lambda e: e.type == "typing.started" and (e.payload or {}).get("user_id") == running.user_id
    )
    assert started.channel_id == clickclack_server.general_id
    gate.set()
    await user.wait_for_event(
        lambda e: e.type == "typing.stopped" and (e.payload or {}).get("user_id") == running.user_id
    )
    assert (await user.expect_reply()).body == "thought"


async def test_per_handler_bot_permission_and_timeouts(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    bot = Bot("permissive")
    events: list[str] = []

    @bot.on_message("^from bot$", allow_bots=True)
    async def from_bot(ctx: MessageContext) -> None:
        events.append(f"message:{ctx.author.kind if ctx.author else '?'}")

    @bot.on_message("^from bot$")
    async def humans_only(ctx: MessageContext) -> None:
        events.append("humans-only")

    @bot.command(allow_bots=True)
    async def botcmd(ctx: CommandContext) -> None:
        events.append("botcmd")

    @bot.command()
    async def humancmd(ctx: CommandContext) -> None:
        events.append("humancmd")

    @bot.command(timeout=0.1)
    async def slowcmd(ctx: CommandContext) -> None:
        await trio.sleep_forever()

    @bot.on_reaction("🔥", added=None, allow_bots=True)
    async def fire(ctx: ReactionContext) -> None:
        events.append(f"fire:{'added' if ctx.added else 'removed'}")

    @bot.on_error(HandlerTimeout)
    async def timed_out(ctx: Context, error: Exception) -> None:
        assert isinstance(ctx, CommandContext)
        events.append(f"timeout:{ctx.command}")

    running = await clickclack_server.start_bot(bot)
    other = await clickclack_server.create_bot_account("Other")
    async with clickclack_server.client(other.token) as client:
        posted = await client.messages.send(clickclack_server.general_id, "from bot")
        await client.messages.send(clickclack_server.general_id, "!botcmd")
        await client.messages.send(clickclack_server.general_id, "!humancmd")
        await client.reactions.add(posted.message.id, "🔥")
        await client.reactions.remove(posted.message.id, "🔥")
    await user.say("#general", "!slowcmd")
    await running.wait_caught_up()
    assert events == [
        "message:bot",
        "botcmd",
        "fire:added",
        "fire:removed",
        "timeout:slowcmd",
    ]
