"""Human output never lets server-provided text drive the terminal.

Message bodies, display names, workspace names, reply texts and server error texts come from
other people. Printed raw, an ``ESC ] 0 ; ... BEL`` retitles the terminal and ``ESC [ 2 J``
clears it. Human (and ``--plain``) output writes every C0/C1 control character visibly
(``\\x1b``); ``--json`` keeps the exact values.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import trio
from hypothesis import example, given
from hypothesis import strategies as st

from clickclack_sdk.cli._common import fail
from clickclack_sdk.cli._output import field, json_text, one_line, terminal_text
from tests.cli.conftest import Ran, arun, cli_env
from tests.conftest import World

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31mred\x7f\rspoof"
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31mred\\x7f\\rspoof"
"""How ``HOSTILE`` reads inside a human output field."""

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
"""Every C0 and C1 control character and DEL."""
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""The control characters human output must never contain (newline and tab are its own)."""


def _control_free(text: str) -> bool:
    return CONTROL.search(text) is None


# The sanitiser.

printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")))


@given(st.text())
@example(HOSTILE)
def test_a_field_has_no_control_characters_and_reads_back(text: str) -> None:
    out = field(text)
    assert _control_free(out)
    assert _unescape(out) == text


@given(printable)
def test_a_field_keeps_printable_text(text: str) -> None:
    assert field(text) == text.replace("\\", "\\\\")


@given(st.text())
@example(HOSTILE + "\nline two\tcolumn")
def test_terminal_text_keeps_only_newline_and_tab(text: str) -> None:
    out = terminal_text(text)
    assert UNSAFE.search(out) is None
    assert out.count("\n") == text.count("\n") and out.count("\t") == text.count("\t")


@given(printable)
def test_terminal_text_and_one_line_keep_printable_text(text: str) -> None:
    assert terminal_text(text) == text
    assert one_line(text) == text


@given(st.text())
def test_one_line_is_one_line_without_control_characters(text: str) -> None:
    assert _control_free(one_line(text))


@given(st.text())
def test_json_output_decodes_to_the_exact_value_without_raw_c1(text: str) -> None:
    out = json_text({"body": text})
    assert json.loads(out) == {"body": text}
    assert re.search("[\x7f-\x9f]", out) is None


def test_an_error_line_is_one_line_without_control_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(Exception) as raised:
        fail("400: " + HOSTILE + "\nsecond line")
    assert getattr(raised.value, "exit_code", None) == 1
    err = capsys.readouterr().err
    assert err == "clickclack: 400: " + SHOWN + "\\nsecond line\n"


def _unescape(text: str) -> str:
    named = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}

    def one(match: re.Match[str]) -> str:
        token = match.group(1)
        if token in named:
            return named[token]
        return chr(int(token[1:], 16))

    return re.sub(r"\\(\\|t|n|r|x[0-9a-f]{2}|u[0-9a-f]{4})", one, text)


# The real command against a real server.


async def _cli(world: World, *args: str) -> Ran:
    token = str(world.owner.token)
    return await arun(
        "--server", world.url, "--token", token, *args, env=cli_env(XDG_CONFIG_HOME="/nonexistent")
    )


def _ok(ran: Ran) -> str:
    assert ran.code == 0, f"{ran.args}: exit {ran.code}: {ran.stderr}"
    assert ran.stderr == ""
    return ran.stdout


async def test_hostile_server_text_is_shown_not_obeyed(world: World) -> None:
    owner = world.owner
    renamed = await owner.patch("/api/me", json={"display_name": "Eve" + HOSTILE})
    assert renamed.status_code == 200, renamed.text
    created = await owner.post("/api/workspaces", json={"name": "Space" + HOSTILE})
    assert created.status_code == 201, created.text
    body = HOSTILE + "\nline two\tcolumn"
    posted = await owner.post(f"/api/channels/{world.channel_id}/messages", json={"body": body})
    assert posted.status_code == 201, posted.text
    root = posted.json()["message"]["id"]
    replied = await owner.post(f"/api/messages/{root}/thread/replies", json={"body": HOSTILE})
    assert replied.status_code == 201, replied.text

    commands: dict[str, tuple[str, ...]] = {
        "list": ("messages", "list", "--workspace", world.workspace_id),
        "json": ("messages", "list", "--workspace", world.workspace_id, "--json"),
        "thread": ("threads", "open", root),
        "whoami": ("whoami",),
        "workspaces": ("workspaces", "list"),
    }
    results: dict[str, Ran] = {}

    async def one(name: str, args: tuple[str, ...]) -> None:
        results[name] = await _cli(world, *args)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for name, args in commands.items():
                nursery.start_soon(one, name, args)
    # After the listings: the unregistered command posts to #general and echoes its text.
    results["slash"] = await _cli(
        world, "slash", "--workspace", world.workspace_id, "--body", "/echo " + HOSTILE
    )
    out = {name: _ok(ran) for name, ran in results.items()}

    for name in ("list", "thread", "whoami", "workspaces", "slash"):
        assert UNSAFE.search(out[name]) is None, (name, out[name])
    rows = [line.split("\t") for line in out["list"].splitlines()]
    assert rows[-1][1:] == [root, "Eve" + SHOWN, SHOWN + "\\nline two\\tcolumn"]
    thread = [line.split("\t") for line in out["thread"].splitlines()]
    assert thread[0] == [root, SHOWN + "\\nline two\\tcolumn"]
    assert thread[1][1:] == ["Eve" + SHOWN, SHOWN]
    assert out["whoami"] == f"{owner.user_id}\tEve{SHOWN}\n"
    assert "Space" + SHOWN in out["workspaces"].split("\t")[-1]
    # Multi-line text keeps its line breaks; every other control is written out.
    assert out["slash"].splitlines()[0] == "/echo " + SHOWN

    data: Any = json.loads(out["json"])
    assert data["messages"][-1]["body"] == body  # --json: the exact value
    assert data["messages"][-1]["author"]["display_name"] == "Eve" + HOSTILE
    assert re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", out["json"]) is None
