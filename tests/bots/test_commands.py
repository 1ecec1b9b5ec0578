"""Command lines parsed from handler type hints, usage lines and the generated help."""

from __future__ import annotations

import enum
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clickclack_bots import Bot, CommandContext, UsageError
from clickclack_bots._commands import build_params, parse_arguments, split_command


class Env(enum.Enum):
    staging = "stg"
    production = "prod"


async def deploy(
    ctx: CommandContext,
    service: str,
    replicas: int = 1,
    *,
    env: Env = Env.staging,
    force: bool = False,
    ratio: float | None = None,
) -> None:
    """Deploy a service.

    More text that stays out of the summary.
    """


async def shout(ctx: CommandContext, times: int, *words: str) -> None:
    """Shout words."""


async def pick(ctx: CommandContext, color: Literal["red", "green"], verbose: bool = False) -> None:
    """Pick a colour."""


def test_positional_defaults_options_flags() -> None:
    params = build_params(deploy)
    call = parse_arguments(params, "api")
    assert call.args == ("api", 1)
    assert call.kwargs == {"env": Env.staging, "force": False, "ratio": None}
    call = parse_arguments(params, "api 3 --env PROD --force --ratio=0.5")
    assert call.args == ("api", 3)
    assert call.kwargs == {"env": Env.production, "force": True, "ratio": 0.5}


def test_enum_by_value_and_named_positional() -> None:
    params = build_params(deploy)
    call = parse_arguments(params, "--service web --replicas 2 --env prod --no-force")
    assert call.args == ("web", 2)
    assert call.kwargs["env"] is Env.production
    assert call.kwargs["force"] is False


def test_rest_collects_remaining_words_with_quotes() -> None:
    call = parse_arguments(build_params(shout), '2 hello "big world" -- --not-an-option')
    assert call.args == (2, "hello", "big world", "--not-an-option")
    assert call.kwargs == {}


def test_literal_choices_and_positional_flag() -> None:
    params = build_params(pick)
    call = parse_arguments(params, "GREEN --verbose")
    assert call.args == ("green", True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "missing argument <service>"),
        ("api two", "replicas must be a whole number, got 'two'"),
        ("api --env dev", "env must be one of staging, production, got 'dev'"),
        ("api --ratio x", "ratio must be a number, got 'x'"),
        ("api --unknown", "unknown option --unknown"),
        ("api --force=yes", "--force is a flag and takes no value"),
        ("api --env", "--env needs a value"),
        ("api 1 2", "too many arguments: 2"),
        ("api --force --force", "--force given twice"),
        ('api "unclosed', "cannot read the arguments"),
    ],
)
def test_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("?", r"\?")):
        parse_arguments(build_params(deploy), text)


def test_usage_line_and_help() -> None:
    bot = Bot("ops")
    bot.command("deploy", aliases=["ship"])(deploy)
    spec = bot.command_routes["deploy"].spec
    assert spec.description == "Deploy a service."
    assert spec.args_hint == "<service> [replicas] [--env ENV] [--force] [--ratio RATIO]"
    assert spec.usage("!") == "!deploy <service> [replicas] [--env ENV] [--force] [--ratio RATIO]"
    detail = bot.help_text("ship")
    assert "`!deploy <service>" in detail
    assert "Also: !ship" in detail
    assert "[--env ENV]: choice (one of staging, production), default staging" in detail
    listing = bot.help_text()
    assert listing.splitlines()[0] == "Commands:"
    assert (
        "- `!deploy <service> [replicas] [--env ENV] [--force] [--ratio RATIO]` — Deploy a service."
        in listing
    )
    assert "- `!help [topic...]`" in listing
    assert bot.help_text("nope") == "Unknown command 'nope'. Try `!help`."


def test_hidden_commands_and_help_override() -> None:
    bot = Bot("ops", help_command=False)
    assert "help" not in bot.command_routes

    @bot.command(hidden=True)
    async def secret(ctx: CommandContext) -> None:
        """Hidden."""

    assert bot.commands() == []
    assert bot.command_names["secret"] == "secret"

    other = Bot("x")

    @other.command("help")
    async def my_help(ctx: CommandContext) -> None:
        """Custom help."""

    assert other.command_routes["help"].spec.description == "Custom help."


def test_registration_errors() -> None:
    bot = Bot("ops")
    with pytest.raises(ValueError, match="must be 1-32"):
        bot.command("Bad Name")(shout)
    bot.command("shout")(shout)
    with pytest.raises(ValueError, match="already registered"):
        bot.command("yell", aliases=["shout"])(shout)

    async def kwargs_only(ctx: CommandContext, **extra: str) -> None: ...

    async def no_default(ctx: CommandContext, *, level: int) -> None: ...

    async def weird(ctx: CommandContext, data: list[int]) -> None: ...

    async def no_ctx() -> None: ...

    for handler, message in [
        (kwargs_only, r"\*\*extra is not supported"),
        (no_default, "keyword-only 'level' needs a default"),
        (weird, "unsupported type"),
        (no_ctx, "must take the context"),
    ]:
        with pytest.raises(TypeError, match=message):
            build_params(handler)  # type: ignore[arg-type]


def test_unresolvable_hints_fail_at_registration() -> None:
    async def local(ctx: CommandContext, level: LocalEnum) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(TypeError, match="cannot resolve the type hints"):
        build_params(local)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!deploy api", ("deploy", "api")),
        ("  !Deploy   api  --force ", ("deploy", "api  --force")),
        ("!help", ("help", "")),
        ("@opsbot deploy api", ("deploy", "api")),
        ("@OpsBot, deploy", ("deploy", "")),
        ("!deploy\napi", ("deploy", "api")),
        ("! deploy", None),
        ("deploy api", None),
        ("@opsbotx deploy", None),
        ("!", None),
    ],
)
def test_split_command(text: str, expected: tuple[str, str] | None) -> None:
    assert split_command(text, ("!",), "opsbot") == expected


@given(
    service=st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1
    ).filter(lambda s: not s.startswith("-") and s.strip() == s and s),
    replicas=st.integers(min_value=-(10**6), max_value=10**6),
    env=st.sampled_from(list(Env)),
    force=st.booleans(),
)
def test_quoted_arguments_round_trip(service: str, replicas: int, env: Env, force: bool) -> None:
    import shlex

    text = f"{shlex.quote(service)} {replicas} --env {env.name}" + (" --force" if force else "")
    call = parse_arguments(build_params(deploy), text)
    assert call.args == (service, replicas)
    assert call.kwargs["env"] is env
    assert call.kwargs["force"] is force
