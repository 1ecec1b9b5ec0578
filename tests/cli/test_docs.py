"""docs/cli.md quotes the real ``--help`` of every command (server-side and client).

Each ``<!-- help: clickclack ... -->`` marker is followed by a fenced block that must equal what
the command prints (80 columns). After changing a command, regenerate the blocks with:

    CLICKCLACK_UPDATE_DOCS=1 python -m pytest -q tests/cli/test_docs.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer
from typer.main import get_command

from clickclack_sdk.cli import app
from tests.cli.conftest import run

DOC = Path(__file__).parents[2] / "docs" / "cli.md"
BLOCK = re.compile(r"<!-- help: (clickclack[a-z -]*?) -->\n```text\n(.*?)```\n", re.DOTALL)
ALIASES = {"thread"}
"""Alias command groups: documented in prose next to the group they repeat."""


def command_paths() -> list[str]:
    """Every command and command group except aliases, as ``clickclack a b``."""
    paths = ["clickclack"]

    def walk(command: object, prefix: str) -> None:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            path = f"{prefix} {name}"
            if prefix == "clickclack" and name in ALIASES:
                continue
            paths.append(path)
            walk(sub, path)

    walk(get_command(app), "clickclack")
    return paths


def real_help(path: str) -> str:
    ran = run(*path.split()[1:], "--help")
    assert ran.code == 0 and ran.stderr == "", (path, ran.stderr)
    return ran.stdout


def test_every_command_has_its_help_in_the_doc() -> None:
    documented = [match.group(1) for match in BLOCK.finditer(DOC.read_text())]
    assert len(documented) == len(set(documented)), "a command is documented twice"
    assert sorted(documented) == sorted(command_paths())


def test_doc_help_blocks_match_the_real_help() -> None:
    text = DOC.read_text()
    if os.environ.get("CLICKCLACK_UPDATE_DOCS") == "1":
        text = BLOCK.sub(
            lambda match: (
                f"<!-- help: {match.group(1)} -->\n```text\n{real_help(match.group(1))}```\n"
            ),
            text,
        )
        DOC.write_text(text)
    for match in BLOCK.finditer(text):
        assert match.group(2) == real_help(match.group(1)), (
            f"docs/cli.md is stale for `{match.group(1)} --help`; see this test's docstring"
        )


def test_doc_states_the_exit_codes() -> None:
    text = DOC.read_text()
    for code, word in (
        ("0", "Success"),
        ("1", "failed"),
        ("2", "Usage error"),
        ("3", "refused the credential"),
        ("4", "not exist"),
        ("5", "could not be reached"),
    ):
        assert re.search(rf"^\| {code} \| .*{word}", text, re.MULTILINE), code
    assert isinstance(app, typer.Typer)
