"""``clickclack messages tail`` and ``clickclack events tail``: the real console script as a
subprocess against a real server (the ``world`` fixture), read line by line."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import hypothesis.strategies as st
import pytest
import trio
from hypothesis import given

from clickclack_sdk import Client
from clickclack_sdk._convert import to_data
from clickclack_sdk.cli._common import CliError
from clickclack_sdk.cli._tail import (
    Selection,
    Tailer,
    check_from,
    check_name,
    check_types,
    cursor_key,
)
from tests.cli.conftest import CLI, Ran, arun, cli_env
from tests.conftest import Caller, World

WAIT = 30


@attrs.define
class Tail:
    """A running tail command: its stdout read line by line, stderr in a file."""

    proc: trio.Process
    stderr_path: Path
    buffer: bytes = b""

    async def line(self) -> dict[str, Any]:
        """The next NDJSON line (fails the test when none comes in time)."""
        assert self.proc.stdout is not None
        with trio.fail_after(WAIT):
            while b"\n" not in self.buffer:
                chunk = await self.proc.stdout.receive_some()
                assert chunk, f"tail ended early: {self.stderr()}"
                self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\n")
        data: dict[str, Any] = json.loads(raw)
        return data

    async def lines(self, count: int) -> list[dict[str, Any]]:
        return [await self.line() for _ in range(count)]

    async def stop(self, sig: int = signal.SIGINT) -> int:
        """Send ``sig`` and wait for the exit code; nothing may be left unread."""
        self.proc.send_signal(sig)
        return await self.wait()

    async def wait(self) -> int:
        with trio.fail_after(WAIT):
            code = await self.proc.wait()
        assert self.proc.stdout is not None
        rest = b""
        with trio.fail_after(WAIT):
            while chunk := await self.proc.stdout.receive_some():
                rest += chunk
        assert (self.buffer + rest) == b"", (self.buffer + rest).decode()
        return code

    def stderr(self) -> str:
        return self.stderr_path.read_text()


@attrs.define
class Cli:
    """Runs ``clickclack --server <world> --token <token> ...`` with its own state dir."""

    world: World
    home: Path
    token: str
    procs: list[trio.Process] = attrs.field(factory=list)

    @property
    def cursors(self) -> Path:
        return self.home / "state" / "clickclack" / "cursors"

    def env(self) -> dict[str, str]:
        return cli_env(
            XDG_STATE_HOME=str(self.home / "state"), XDG_CONFIG_HOME=str(self.home / "config")
        )

    def argv(self, args: tuple[str, ...], token: str | None) -> list[str]:
        return ["--server", self.world.url, "--token", token or self.token, *args]

    async def run(self, *args: str, token: str | None = None) -> Ran:
        return await arun(*self.argv(args, token), env=self.env())

    async def lines(self, *args: str, token: str | None = None) -> list[dict[str, Any]]:
        """The NDJSON lines of a command that must exit 0 with nothing on stderr."""
        ran = await self.run(*args, token=token)
        assert ran.code == 0, f"exit {ran.code}: {ran.stderr}"
        assert ran.stderr == "", ran.stderr
        return [json.loads(line) for line in ran.stdout.splitlines()]

    async def start(self, *args: str, token: str | None = None) -> Tail:
        stderr_path = self.home / f"stderr-{len(self.procs)}.txt"
        self.home.mkdir(parents=True, exist_ok=True)
        with stderr_path.open("wb") as stderr:
            proc = await trio.lowlevel.open_process(
                [*CLI, *self.argv(args, token)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=self.env(),
            )
        self.procs.append(proc)
        return Tail(proc, stderr_path)

    def cursor_files(self) -> list[Path]:
        return sorted(self.cursors.glob("*.json")) if self.cursors.exists() else []

    def saved_cursor(self) -> str:
        [path] = self.cursor_files()
        cursor: str = json.loads(path.read_text())["cursor"]
        return cursor


@pytest.fixture
async def cli(world: World, tmp_path: Path) -> AsyncIterator[Cli]:
    assert world.owner.token is not None
    runner = Cli(world, tmp_path / "home", world.owner.token)
    try:
        yield runner
    finally:
        for proc in runner.procs:
            if proc.returncode is None:
                proc.kill()
            with trio.CancelScope(shield=True):
                await proc.wait()


async def send(caller: Caller, channel_id: str, body: str) -> dict[str, Any]:
    response = await caller.post(f"/api/channels/{channel_id}/messages", json={"body": body})
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()["message"]
    return message


async def reply(caller: Caller, root_id: str, body: str) -> dict[str, Any]:
    response = await caller.post(f"/api/messages/{root_id}/thread/replies", json={"body": body})
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()["message"]
    return message


async def tail_cursor(caller: Caller, workspace_id: str) -> str:
    response = await caller.get(
        "/api/realtime/events",
        params={"workspace_id": workspace_id, "limit": "1", "include_tail": "true"},
    )
    assert response.status_code == 200, response.text
    cursor: str = response.json()["tail_cursor"]
    return cursor


async def new_channel(world: World, name: str) -> str:
    response = await world.owner.post(
        f"/api/workspaces/{world.workspace_id}/channels", json={"name": name}
    )
    assert response.status_code == 201, response.text
    channel_id: str = response.json()["channel"]["id"]
    return channel_id


async def start_point(caller: Caller, workspace_id: str) -> str:
    """A ``--from`` value for "after everything so far" (``beginning`` on an empty log)."""
    return await tail_cursor(caller, workspace_id) or "beginning"


def message_ids(lines: list[dict[str, Any]]) -> list[str]:
    return [line["message"]["id"] for line in lines]


# messages tail


async def test_messages_tail_streams_creates_replies_edits_and_deletes(
    cli: Cli, world: World
) -> None:
    other = await new_channel(world, "random")
    start = await start_point(world.owner, world.workspace_id)
    tail = await cli.start("messages", "tail", "--from", start)

    root = await send(world.owner, world.channel_id, "first root")
    await send(world.owner, other, "elsewhere")  # another channel: never shown
    created = await tail.line()
    assert list(created) == ["type", "cursor", "message"]
    assert created["type"] == "message.created" and created["cursor"] > start
    assert created["message"]["id"] == root["id"] and created["message"]["body"] == "first root"
    assert created["message"]["channel_id"] == world.channel_id

    answer = await reply(world.owner, root["id"], "a reply")
    line = await tail.line()
    assert (line["type"], line["message"]["id"]) == ("message.created", answer["id"])
    assert line["message"]["thread_root_id"] == root["id"]
    assert line["message"]["parent_message_id"] == root["id"]

    edited = await world.owner.patch(f"/api/messages/{root['id']}", json={"body": "edited root"})
    assert edited.status_code == 200
    line = await tail.line()
    assert (line["type"], line["message"]["id"]) == ("message.updated", root["id"])
    assert line["message"]["body"] == "edited root" and line["message"]["edited_at"]

    deleted = await world.owner.delete(f"/api/messages/{answer['id']}")
    assert deleted.status_code == 200
    line = await tail.line()
    assert (line["type"], line["message"]["id"]) == ("message.deleted", answer["id"])
    assert line["message"]["body"] == "" and line["message"]["deleted_at"]

    sentinel = await send(world.owner, world.channel_id, "sentinel")
    line = await tail.line()
    assert line["message"]["id"] == sentinel["id"]  # nothing from #random came in between
    assert await tail.stop() == 0
    assert tail.stderr() == ""
    assert cli.saved_cursor() == line["cursor"]


async def test_resume_after_sigint_prints_exactly_the_missed_messages(
    cli: Cli, world: World
) -> None:
    start = await start_point(world.owner, world.workspace_id)
    tail = await cli.start("messages", "tail", "--from", start)
    first = await send(world.owner, world.channel_id, "one")
    line = await tail.line()
    assert line["message"]["id"] == first["id"]
    assert await tail.stop(signal.SIGINT) == 0
    assert tail.stderr() == ""

    [path] = cli.cursor_files()
    assert path.parent == Path(cli.home, "state", "clickclack", "cursors")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = json.loads(path.read_text())
    assert saved["cursor"] == line["cursor"]
    assert saved["workspace_id"] == world.workspace_id
    assert saved["channel_id"] == world.channel_id
    assert saved["user_id"] == world.owner.user_id

    missed = [await send(world.owner, world.channel_id, f"missed {n}") for n in range(3)]
    tail = await cli.start("messages", "tail")
    assert message_ids(await tail.lines(3)) == [m["id"] for m in missed]
    after = await send(world.owner, world.channel_id, "live again")
    line = await tail.line()
    assert line["message"]["id"] == after["id"]  # no duplicate came before it
    assert await tail.stop(signal.SIGTERM) == 0
    assert tail.stderr() == ""
    assert cli.saved_cursor() == line["cursor"]


async def test_from_beginning_replays_and_no_follow_exits_at_the_tail(
    cli: Cli, world: World
) -> None:
    # First look: no saved cursor and no --from means "now": nothing printed, tail saved.
    assert await cli.lines("messages", "tail", "--no-follow") == []
    assert cli.saved_cursor() == await tail_cursor(world.owner, world.workspace_id)

    sent = [await send(world.owner, world.channel_id, f"m{n}") for n in range(3)]
    since = await cli.lines("messages", "tail", "--no-follow")
    assert message_ids(since) == [m["id"] for m in sent]
    assert [line["message"]["body"] for line in since] == ["m0", "m1", "m2"]
    assert cli.saved_cursor() == since[-1]["cursor"]
    assert await cli.lines("messages", "tail", "--no-follow") == []

    later = await send(world.owner, world.channel_id, "m3")
    # `messages watch` is the same command: it resumes from the same saved cursor.
    watched = await cli.lines("messages", "watch", "--no-follow")
    assert message_ids(watched) == [later["id"]]
    assert cli.saved_cursor() == watched[-1]["cursor"]
    replay = await cli.lines("messages", "tail", "--no-follow", "--from", "beginning", "--json")
    assert message_ids(replay) == [m["id"] for m in [*sent, later]]
    cursors = [line["cursor"] for line in replay]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert cli.saved_cursor() == replay[-1]["cursor"]

    # --from a cursor starts right after it; "now" prints nothing.
    after_first = await cli.lines(
        "messages", "tail", "--no-follow", "--no-save", "--from", replay[0]["cursor"]
    )
    assert message_ids(after_first) == message_ids(replay[1:])
    assert await cli.lines("messages", "tail", "--no-follow", "--from", "NOW") == []


async def test_no_save_writes_no_file_and_name_picks_the_file(cli: Cli, world: World) -> None:
    await send(world.owner, world.channel_id, "x")
    lines = await cli.lines("messages", "tail", "--no-follow", "--no-save", "--from", "beginning")
    assert len(lines) == 1
    assert not cli.cursors.exists()

    assert await cli.lines("events", "tail", "--no-follow", "--name", "agent-1.events") == []
    assert [p.name for p in cli.cursor_files()] == ["agent-1.events.json"]
    ran = await cli.run("events", "tail", "--name", "x", "--no-save")
    assert ran.error(2) == "--name and --no-save cannot be combined"
    ran = await cli.run("events", "tail", "--name", "../escape")
    assert ran.error(2).startswith("--name must be 1-100 letters, digits")


async def test_cursor_files_are_per_channel_and_per_command(cli: Cli, world: World) -> None:
    other = await new_channel(world, "ops")
    await cli.lines("messages", "tail", "--no-follow")
    await cli.lines("--channel", "ops", "messages", "tail", "--no-follow")
    await cli.lines("events", "tail", "--no-follow")
    await cli.lines("events", "tail", "--no-follow", "--type", "message.created")
    files = cli.cursor_files()
    assert len(files) == 4, [(p.name, p.read_text()) for p in files]
    assert sorted(p.name.split("-")[0] for p in files) == [
        "events",
        "events",
        "messages",
        "messages",
    ]
    channels = {json.loads(p.read_text())["channel_id"] for p in files}
    assert channels == {world.channel_id, other, ""}


# events tail


async def test_events_tail_filters_by_type_and_channel(cli: Cli, world: World) -> None:
    start = await start_point(world.owner, world.workspace_id)
    message = await send(world.owner, world.channel_id, "react to me")
    reacted = await world.owner.post(
        f"/api/messages/{message['id']}/reactions", json={"emoji": "👍"}
    )
    assert reacted.status_code == 201
    other = await new_channel(world, "builds")
    elsewhere = await send(world.owner, other, "build green")

    everything = await cli.lines("events", "tail", "--no-follow", "--no-save", "--from", start)
    assert [line["type"] for line in everything] == [
        "message.created",
        "reaction.added",
        "channel.created",
        "message.created",
    ]
    for line in everything:
        assert list(line) == ["type", "cursor", "event"]
        assert line["event"]["cursor"] == line["cursor"] and line["event"]["type"] == line["type"]
        assert line["event"]["id"].startswith("evt_")
        assert line["event"]["workspace_id"] == world.workspace_id

    reactions = await cli.lines(
        "events", "tail", "--no-follow", "--no-save", "--from", start, "--type", "reaction.added"
    )
    assert [line["event"]["payload"]["emoji"] for line in reactions] == ["👍"]
    two = await cli.lines(
        "events", "tail", "--no-follow", "--no-save", "--from", start,
        "--type", "reaction.added", "--type", "channel.created",
    )  # fmt: skip
    assert [line["type"] for line in two] == ["reaction.added", "channel.created"]
    in_builds = await cli.lines(
        "events", "tail", "--no-follow", "--no-save", "--from", start, "--channel", "#builds"
    )
    assert [line["type"] for line in in_builds] == ["channel.created", "message.created"]
    assert in_builds[1]["event"]["payload"]["message_id"] == elsewhere["id"]


async def test_events_tail_follows_live(cli: Cli, world: World) -> None:
    start = await start_point(world.owner, world.workspace_id)
    tail = await cli.start("events", "tail", "--from", start, "--type", "channel.created")
    channel_id = await new_channel(world, "fresh")
    await send(world.owner, world.channel_id, "not a channel event")
    line = await tail.line()
    assert line["type"] == "channel.created"
    assert line["event"]["payload"]["channel_id"] == channel_id
    second = await new_channel(world, "fresher")
    line = await tail.line()
    assert line["event"]["channel_id"] == second
    assert await tail.stop() == 0
    assert tail.stderr() == ""
    # The skipped message event moved the cursor too: a restart has nothing to repeat.
    assert cli.saved_cursor() == await tail_cursor(world.owner, world.workspace_id)


async def test_events_of_other_peoples_dms_are_never_shown(cli: Cli, world: World) -> None:
    ann = await world.user("Ann")
    bob = await world.user("Bob")
    start = await start_point(world.owner, world.workspace_id)
    created = await ann.post(
        "/api/dms", json={"workspace_id": world.workspace_id, "member_ids": [bob.user_id]}
    )
    assert created.status_code == 201, created.text
    conversation = created.json()["conversation"]["id"]
    dm = await ann.post(f"/api/dms/{conversation}/messages", json={"body": "psst"})
    assert dm.status_code == 201, dm.text
    public = await send(world.owner, world.channel_id, "public")

    owner_view = await cli.lines("events", "tail", "--no-follow", "--no-save", "--from", start)
    assert [line["event"]["payload"].get("message_id") for line in owner_view] == [public["id"]]
    assert all("direct_conversation_id" not in line["event"]["payload"] for line in owner_view)

    assert bob.token is not None
    bob_view = await cli.lines(
        "events", "tail", "--no-follow", "--no-save", "--from", start, token=bob.token
    )
    dm_lines = [line for line in bob_view if line["event"]["payload"].get("direct_conversation_id")]
    assert [line["event"]["payload"]["message_id"] for line in dm_lines] == [
        dm.json()["message"]["id"]
    ]


# Resync.


async def _prune_all_but_newest(world: World) -> int:
    """``clickclack admin events prune --keep-latest 1`` next to the running server."""
    ran = await arun(
        "admin", "events", "prune", "--workspace", world.workspace_id, "--keep-latest", "1",
        "--data", str(world.data_dir),
    )  # fmt: skip
    match = re.fullmatch(r"pruned (\d+) events", ran.line())
    assert match, ran.stdout
    return int(match.group(1))


async def test_pruned_saved_cursor_resyncs_and_keeps_streaming(cli: Cli, world: World) -> None:
    await send(world.owner, world.channel_id, "before")
    assert await cli.lines("messages", "tail", "--no-follow") == []  # saves the tail
    stale = cli.saved_cursor()
    for n in range(3):
        await send(world.owner, world.channel_id, f"pruned {n}")
    assert await _prune_all_but_newest(world) > 0
    tail_now = await tail_cursor(world.owner, world.workspace_id)
    assert tail_now > stale

    tail = await cli.start("messages", "tail")
    assert await tail.line() == {"type": "resync", "cursor": tail_now}
    fresh = await send(world.owner, world.channel_id, "after resync")
    line = await tail.line()
    assert (line["type"], line["message"]["id"]) == ("message.created", fresh["id"])
    assert await tail.stop() == 0
    [warning] = tail.stderr().splitlines()
    assert warning.startswith(f"clickclack: warning: cannot resume after {stale} ")
    assert cli.saved_cursor() == line["cursor"]


async def test_unknown_from_cursor_resyncs_in_no_follow(cli: Cli, world: World) -> None:
    await send(world.owner, world.channel_id, "something")
    tail_now = await tail_cursor(world.owner, world.workspace_id)
    ran = await cli.run("events", "tail", "--no-follow", "--from", "cur_" + "0" * 26)
    assert ran.code == 0, ran.stderr
    assert [json.loads(line) for line in ran.stdout.splitlines()] == [
        {"type": "resync", "cursor": tail_now}
    ]
    assert ran.stderr.startswith("clickclack: warning: cannot resume after cur_000")
    assert cli.saved_cursor() == tail_now


async def test_websocket_resync_in_follow_mode(world: World) -> None:
    """Close 4001 while following (here: a pruned cursor handed to the socket) prints the
    resync line and goes on from the tail."""
    first = await send(world.owner, world.channel_id, "old")
    stale = await tail_cursor(world.owner, world.workspace_id)
    await send(world.owner, world.channel_id, "newer")
    await _prune_all_but_newest(world)
    tail_now = await tail_cursor(world.owner, world.workspace_id)
    lines: list[dict[str, Any]] = []
    arrived = trio.Event()
    warnings: list[str] = []

    def write(line: dict[str, Any]) -> None:
        lines.append(to_data(line))
        arrived.set()

    assert first["id"]
    async with Client(world.url, token=world.owner.token) as client:
        tailer = Tailer(
            client,
            Selection("messages tail", world.workspace_id, world.channel_id, "general"),
            write=write,
            warn=warnings.append,
            position=stale,
            started=True,
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(tailer.follow)
            with trio.fail_after(WAIT):
                await arrived.wait()
            assert lines == [{"type": "resync", "cursor": tail_now}]
            arrived = trio.Event()
            fresh = await send(world.owner, world.channel_id, "fresh")
            with trio.fail_after(WAIT):
                await arrived.wait()
            nursery.cancel_scope.cancel()
    assert lines[1]["message"]["id"] == fresh["id"]
    assert len(warnings) == 1 and stale in warnings[0]


async def test_websocket_replay_refused_in_follow_mode_catches_up_by_pull(world: World) -> None:
    """Close 4001 because the position is more than the socket replays (not pruned): every event
    after it is read through pull, no resync line, nothing missed, nothing twice."""
    from clickclack_server.store.events import insert_event

    start = await tail_cursor(world.owner, world.workspace_id)

    def burst(tx: Any) -> list[str]:
        return [
            insert_event(
                tx,
                workspace_id=world.workspace_id,
                type="channel.read",
                channel_id=world.channel_id,
                payload={"n": n},
            ).cursor
            for n in range(6_000)
        ]

    cursors = await world.db.write(burst)
    lines: list[dict[str, Any]] = []
    done = trio.Event()

    def write(line: dict[str, Any]) -> None:
        lines.append(to_data(line))
        if line.get("cursor") == cursors[-1]:
            done.set()

    warnings: list[str] = []
    async with Client(world.url, token=world.owner.token) as client:
        tailer = Tailer(
            client,
            Selection("events tail", world.workspace_id),
            write=write,
            warn=warnings.append,
            position=start,
            started=True,
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(tailer.follow)
            with trio.fail_after(WAIT * 4):
                await done.wait()
            nursery.cancel_scope.cancel()
    assert [line["cursor"] for line in lines] == cursors
    assert warnings == []


# Bad input.


async def test_bad_input_exits_with_the_documented_codes(cli: Cli, world: World) -> None:
    assert (await cli.run("messages", "tail", "--channel", "nope")).error(
        4
    ) == "channel not found: nope"
    assert (await cli.run("events", "tail", "--workspace", "nope")).error(
        4
    ) == "workspace not found: nope"
    assert (await cli.run("events", "tail", "--channel", "nope")).error(
        4
    ) == "channel not found: nope"
    assert (await cli.run("messages", "tail", "--from", "yesterday")).error(2) == (
        "--from must be now, beginning or a cursor (cur_...): 'yesterday'"
    )
    assert (
        (await cli.run("events", "tail", "--type", "Message Created"))
        .error(2)
        .startswith("--type must be an event type")
    )
    assert (
        (await cli.run("messages", "tail", "--plain"))
        .error(2)
        .startswith("--plain is not supported here")
    )
    assert (await cli.run("messages", "tail", token="sst_nope")).error(3).startswith("401: ")
    assert not cli.cursors.exists()  # failures write no cursor file


async def test_bot_scopes(cli: Cli, world: World) -> None:
    reader = await world.bot(["messages:read", "workspaces:read", "channels:read"])
    assert reader.token is not None
    ran = await cli.run("events", "tail", "--no-follow", token=reader.token)
    assert ran.error(3) == "403: bot token is missing scope realtime:read"

    # bot:read has realtime:read and messages:read; no profile:read needed for the key.
    bot = await world.bot(["realtime:read", "messages:read", "workspaces:read", "channels:read"])
    assert bot.token is not None
    start = await start_point(world.owner, world.workspace_id)
    sent = await send(world.owner, world.channel_id, "for the bot")
    lines = await cli.lines("messages", "tail", "--no-follow", "--from", start, token=bot.token)
    assert message_ids(lines) == [sent["id"]]
    assert json.loads(cli.cursor_files()[0].read_text())["user_id"].startswith("token-")

    other = await world.workspace("Elsewhere")
    stranger = await world.bot(["bot:read"], workspace_id=other)
    assert stranger.token is not None
    ran = await cli.run("events", "tail", "--workspace", world.workspace_id, token=stranger.token)
    # A bot sees only its own workspace, so the other one is "not found" (as for every command).
    assert ran.error(4) == f"workspace not found: {world.workspace_id}"


async def test_corrupt_cursor_file_is_a_usage_error(cli: Cli, world: World) -> None:
    await send(world.owner, world.channel_id, "so the log is not empty")
    await cli.lines("messages", "tail", "--no-follow", "--name", "mine")
    path = cli.cursors / "mine.json"
    path.write_text("{not json")
    ran = await cli.run("messages", "tail", "--no-follow", "--name", "mine")
    assert ran.error(2) == f"cursor file {path} is not valid; delete it or pass --from"
    # --from does not read it, and replaces it.
    assert (
        await cli.lines("messages", "tail", "--no-follow", "--name", "mine", "--from", "now") == []
    )
    assert json.loads(path.read_text())["cursor"] == await tail_cursor(
        world.owner, world.workspace_id
    )


# Closed stdout.


async def test_closed_pipe_exits_quietly(cli: Cli, world: World) -> None:
    start = await start_point(world.owner, world.workspace_id)
    for n in range(120):  # more than a pipe buffer of lines
        await send(world.owner, world.channel_id, f"bulk {n} " + "x" * 400)
    command = " ".join(
        f"'{part}'" for part in [*CLI, *cli.argv(("messages", "tail", "--from", start), None)]
    )
    done = await trio.run_process(
        ["bash", "-c", f"{command} | head -1; exit ${{PIPESTATUS[0]}}"],
        capture_stdout=True,
        capture_stderr=True,
        env=cli.env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    [only] = done.stdout.decode().splitlines()
    first = json.loads(only)
    saved = cli.saved_cursor()
    assert first["cursor"] <= saved < await tail_cursor(world.owner, world.workspace_id)


async def test_follow_stops_when_the_reader_goes_away(cli: Cli, world: World) -> None:
    start = await start_point(world.owner, world.workspace_id)
    tail = await cli.start("messages", "tail", "--from", start)
    sent = await send(world.owner, world.channel_id, "only one")
    line = await tail.line()
    assert line["message"]["id"] == sent["id"]
    assert tail.proc.stdout is not None
    await tail.proc.stdout.aclose()  # like `| head -1` exiting after its line
    with trio.fail_after(WAIT):
        code = await tail.proc.wait()
    assert code == 0
    assert tail.stderr() == ""
    assert cli.saved_cursor() == line["cursor"]


# Checks of the command line (no server needed).


CURSOR_CHARS = "0123456789abcdefghjkmnpqrstvwxyz"


@given(st.text(alphabet=CURSOR_CHARS, min_size=26, max_size=26))
def test_any_well_formed_cursor_is_accepted(body: str) -> None:
    assert check_from("cur_" + body) == "cur_" + body
    assert check_from(" cur_" + body + " ") == "cur_" + body


@given(st.text(max_size=40))
def test_other_from_values_are_usage_errors(value: str) -> None:
    if value.strip().lower() in ("now", "beginning"):
        assert check_from(value) == value.strip().lower()
        return
    try:
        result = check_from(value)
    except CliError as exc:
        assert exc.code == 2 and exc.message.startswith("--from must be")
    else:
        assert result is not None and result.startswith("cur_") and len(result) == 30


@given(st.text(max_size=120))
def test_names_are_safe_file_names(value: str) -> None:
    try:
        name = check_name(value)
    except CliError as exc:
        assert exc.code == 2
        return
    assert name == value and "/" not in value and "\\" not in value
    assert not value.startswith(".") and 1 <= len(value) <= 100 and value.isascii()


@given(st.lists(st.text(max_size=30), max_size=4))
def test_types_must_look_like_event_types(values: list[str]) -> None:
    try:
        types = check_types(values)
    except CliError as exc:
        assert exc.code == 2 and "--type must be an event type" in exc.message
        return
    assert types == frozenset(v.strip() for v in values)
    assert all("." in t and t == t.lower() for t in types)


@given(
    st.text(min_size=1, max_size=60),
    st.text(max_size=40),
    st.text(max_size=40),
    st.one_of(st.none(), st.text(max_size=40)),
    st.frozensets(st.sampled_from(["message.created", "reaction.added", "channel.created"])),
)
def test_default_cursor_names_are_stable_and_safe(
    server: str, identity: str, workspace: str, channel: str | None, types: frozenset[str]
) -> None:
    selection = Selection("events tail", workspace, channel, None, types)
    key = cursor_key(server, identity, selection)
    assert key == cursor_key(
        server, identity, Selection("events tail", workspace, channel, None, types)
    )
    assert key.startswith("events-tail-") and check_name(key) == key
    other = cursor_key(server, identity + "x", selection)
    assert other != key


def test_server_urls_are_normalised_in_the_key() -> None:
    selection = Selection("messages tail", "wsp_1", "chn_1")
    assert cursor_key("HTTP://Example.com/", "usr_1", selection) == cursor_key(
        "http://example.com", "usr_1", selection
    )
    assert os.sep not in cursor_key("http://a/b/c", "usr_1", selection)
