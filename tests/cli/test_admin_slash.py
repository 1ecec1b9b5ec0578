"""``clickclack admin slash-command create`` run as a real subprocess on a temp data dir."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.conftest import Booted

URL = "http://127.0.0.1:8787/clickclack"


@pytest.fixture
def deployer(booted: Booted) -> str:
    """A bot member ``@deployer`` of the booted workspace; its user id."""
    booted.data.ok(
        "admin", "bot", "create", "--workspace", "clickclack", "--name", "Deployer",
        "--handle", "deployer", "--plain",
    )  # fmt: skip
    return str(booted.data.scalar("SELECT id FROM users WHERE handle = 'deployer'"))


def create(
    booted: Booted, *extra: str, command: str = "/Deploy", bot: str = "@deployer"
) -> list[str]:
    return [
        "admin", "slash-command", "create", "--workspace", "clickclack", "--command", command,
        "--bot", bot, "--callback-url", URL, *extra,
    ]  # fmt: skip


def test_create_prints_the_registration_with_its_secret(booted: Booted, deployer: str) -> None:
    line = booted.data.ok(*create(booted, "--description", "Deploy a service"))
    document = json.loads(line)
    assert list(document) == ["slash_command"]
    command = document["slash_command"]
    assert command["command"] == "/deploy"  # normalised
    assert command["bot_user_id"] == deployer
    assert command["callback_url"] == URL
    assert command["description"] == "Deploy a service"
    assert command["workspace_id"] == booted.workspace_id
    assert command["created_by"] == booted.owner_id  # default actor: the workspace owner
    assert re.match(r"^ccs_[0-9a-z]{52}$", command["signing_secret"])
    assert booted.data.query("SELECT command, signing_secret FROM slash_commands") == [
        ("/deploy", command["signing_secret"])
    ]


def test_plain_prints_only_the_secret_and_bot_by_id(booted: Booted, deployer: str) -> None:
    secret = booted.data.ok(*create(booted, "--plain", bot=deployer))
    assert re.match(r"^ccs_[0-9a-z]{52}$", secret)
    assert booted.data.scalar("SELECT signing_secret FROM slash_commands") == secret


def test_a_second_registration_needs_replace(booted: Booted, deployer: str) -> None:
    first = booted.data.ok(*create(booted, "--plain"))
    error = booted.data.fails(1, *create(booted, "--plain"))
    assert error.startswith("/deploy is already registered (cmd_") and "--replace" in error
    second = booted.data.ok(*create(booted, "--plain", "--replace"))
    assert second != first
    rows = booted.data.query(
        "SELECT signing_secret, revoked_at IS NOT NULL FROM slash_commands ORDER BY created_at"
    )
    assert rows == [(first, 1), (second, 0)]


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"bot": "@nobody"}, 4, "--bot: no bot @nobody in workspace"),
        ({"bot": "owner"}, 1, "is a person, not a bot"),
        ({"command": "/has space"}, 2, "--command: command must be / followed by"),
        ({"command": "  "}, 2, "--command: command is required"),
    ],
)
def test_bad_input(
    booted: Booted, deployer: str, change: dict[str, str], code: int, message: str
) -> None:
    if change.get("bot") == "owner":
        change = {"bot": booted.owner_id}
    error = booted.data.fails(code, *create(booted, **change))
    assert message in error
    assert booted.data.scalar("SELECT count(*) FROM slash_commands") == 0


def test_bad_url_workspace_and_actor(booted: Booted, deployer: str) -> None:
    args = create(booted)
    bad_url = [*args[:-1], "ftp://example.com/x"]
    assert "--callback-url: callback_url must be an http or https URL" in booted.data.fails(
        2, *bad_url
    )
    other = [*args]
    other[other.index("clickclack")] = "nope"
    assert booted.data.fails(4, *other) == "workspace not found: nope"
    member = booted.data.ok(
        "admin", "user", "create", "--email", "m@example.com", "--workspace", "clickclack"
    )
    refused = booted.data.fails(1, *args, "--created-by", member)
    assert "must be an owner or moderator" in refused
    assert booted.data.scalar("SELECT count(*) FROM slash_commands") == 0
