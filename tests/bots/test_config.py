"""Accounts from arguments and config files; token sources; bot targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clickclack_bots import Account, Bot, ConfigError, load_config, load_target, resolve_token

TARGET_MODULE = "tests.bots._target_bot"


def test_token_sources(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("  ccb_file\n")
    env = {"TOK": "ccb_env "}
    assert resolve_token({"token": "ccb_lit"}, env=env) == "ccb_lit"
    assert resolve_token({"token_env": "TOK"}, env=env) == "ccb_env"
    assert resolve_token({"token_file": "tok"}, base=tmp_path, env=env) == "ccb_file"
    assert resolve_token({"token_file": str(tmp_path / "tok")}, env=env) == "ccb_file"
    cases: list[tuple[dict[str, object], str]] = [
        ({}, "exactly one of"),
        ({"token": "a", "token_env": "TOK"}, "exactly one of"),
        ({"token_env": "MISSING"}, "MISSING"),
        ({"token_file": "absent"}, "cannot read token_file"),
        ({"token": 5}, "must be a string"),
        ({"token": "   "}, "exactly one of|empty"),
    ]
    for spec, message in cases:
        with pytest.raises(ConfigError, match=message):
            resolve_token(spec, base=tmp_path, env=env)


def test_account_from_values_uses_environment() -> None:
    bot = Bot("b")
    env = {"CLICKCLACK_TOKEN": "ccb_x", "CLICKCLACK_SERVER": "http://srv:1"}
    account = Account.from_values(bot, start="now", env=env)
    assert (account.server, account.token, account.start, account.label) == (
        "http://srv:1",
        "ccb_x",
        "now",
        "b",
    )
    assert "ccb_x" not in repr(account)
    with pytest.raises(ConfigError, match="no bot token"):
        Account.from_values(bot, env={})
    with pytest.raises(ConfigError, match='start must be "now" or "beginning"'):
        Account.from_values(bot, token="t", start="later", env={})  # type: ignore[arg-type]


def test_load_target() -> None:
    bot = load_target(f"{TARGET_MODULE}:bot")
    assert bot.name == "target"
    assert load_target(f"{TARGET_MODULE}:make_bot").name == "made"
    assert load_target(f"{TARGET_MODULE}:holder.bot").name == "target"
    for target, message in [
        ("nocolon", "module:attribute"),
        ("tests.bots.no_such_module:bot", "cannot import"),
        (f"{TARGET_MODULE}:missing", "has no attribute"),
        (f"{TARGET_MODULE}:not_a_bot", "is not a clickclack_bots.Bot"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_target(target)


def test_load_toml_config(tmp_path: Path) -> None:
    (tmp_path / "b.token").write_text("ccb_two")
    config = tmp_path / "bots.toml"
    config.write_text(
        f"""
server = "http://default:8080"
state_dir = "state"
grace = 3

[[accounts]]
name = "one"
bot = "{TARGET_MODULE}:bot"
token_env = "ONE_TOKEN"
start = "now"

[[accounts]]
name = "two"
token_file = "b.token"
server = "http://other:9"
workspace = "acme"
start = "beginning"
"""
    )
    fallback = Bot("fallback")
    loaded = load_config(config, default_bot=fallback, env={"ONE_TOKEN": "ccb_one"})
    assert loaded.grace == 3.0
    one, two = loaded.accounts
    assert (one.name, one.bot.name, one.server, one.token, one.start) == (
        "one",
        "target",
        "http://default:8080",
        "ccb_one",
        "now",
    )
    assert (two.bot, two.server, two.token, two.workspace, two.start) == (
        fallback,
        "http://other:9",
        "ccb_two",
        "acme",
        "beginning",
    )
    assert one.state_dir == str(tmp_path / "state")


def test_load_json_config_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "bots.json"
    good.write_text(json.dumps({"accounts": [{"bot": f"{TARGET_MODULE}:bot", "token": "ccb_1"}]}))
    assert load_config(good, env={}).accounts[0].token == "ccb_1"
    cases = [
        ("[[accounts]]\nname = 1\n", "no bot|unique string"),
        ("x = [", "not valid"),
        ("grace = 1\n", "no \\[\\[accounts\\]\\]"),
        (f'grace = -1\n[[accounts]]\nbot = "{TARGET_MODULE}:bot"\ntoken = "t"\n', "grace"),
        (
            f'[[accounts]]\nname = "a"\nbot = "{TARGET_MODULE}:bot"\ntoken = "t"\n'
            f'[[accounts]]\nname = "a"\nbot = "{TARGET_MODULE}:bot"\ntoken = "t"\n',
            "unique",
        ),
        (f'[[accounts]]\nbot = "{TARGET_MODULE}:bot"\ntoken = "t"\nstart = "soon"\n', "start"),
    ]
    for index, (text, message) in enumerate(cases):
        path = tmp_path / f"bad{index}.toml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_config(path, env={})
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.toml")


def test_callback_options_sources_and_errors(tmp_path: Path) -> None:
    from clickclack_bots import CallbackOptions
    from clickclack_bots._config import callback_options

    (tmp_path / "secrets.txt").write_text("ccs_one\nccs_two\n")
    env = {"CLICKCLACK_CALLBACK_SECRET": "ccs_env", "MINE": " ccs_a, ccs_b "}
    assert callback_options({}, env=env) is None
    by_default = callback_options({"callback_addr": "127.0.0.1:8787"}, env=env)
    assert by_default == CallbackOptions(host="127.0.0.1", port=8787, secrets=("ccs_env",))
    named = callback_options({"callback_addr": ":9000", "callback_secret_env": "MINE"}, env=env)
    assert named is not None and (named.host, named.port) == ("0.0.0.0", 9000)
    assert named.secrets == ("ccs_a", "ccs_b")
    from_file = callback_options(
        {"callback_addr": "[::1]:1", "callback_secret_file": "secrets.txt", "callback_path": "x"},
        base=tmp_path,
        env={},
    )
    assert from_file == CallbackOptions(
        host="::1", port=1, path="x", secrets=("ccs_one", "ccs_two")
    )
    cases: list[tuple[dict[str, object], str]] = [
        ({"callback_addr": "127.0.0.1:8787"}, "CLICKCLACK_CALLBACK_SECRET"),  # no secret
        ({"callback_addr": "nonsense", "callback_secret": "s"}, "HOST:PORT"),
        ({"callback_addr": "h:99999", "callback_secret": "s"}, "HOST:PORT"),
        ({"callback_secret": "s"}, "without callback_addr"),
        ({"callback_addr": "h:1", "callback_secret": "s", "callback_secret_env": "E"}, "at most"),
        ({"callback_addr": "h:1", "callback_secret_env": "UNSET"}, "UNSET"),
        ({"callback_addr": "h:1", "callback_secret_file": "absent"}, "cannot read"),
        ({"callback_addr": 8787, "callback_secret": "s"}, "HOST:PORT string"),
    ]
    for spec, message in cases:
        with pytest.raises(ConfigError, match=message):
            callback_options(spec, base=tmp_path, env={})


def test_config_file_callbacks(tmp_path: Path) -> None:
    (tmp_path / "slash.secret").write_text("ccs_file")
    config = tmp_path / "bots.toml"
    config.write_text(
        f"""
[[accounts]]
bot = "{TARGET_MODULE}:bot"
token = "ccb_x"
callback_addr = "0.0.0.0:8787"
callback_secret_file = "slash.secret"

[[accounts]]
name = "plain"
bot = "{TARGET_MODULE}:bot"
token = "ccb_y"
"""
    )
    with_callbacks, plain = load_config(config, env={}).accounts
    assert with_callbacks.callbacks is not None
    assert (with_callbacks.callbacks.port, with_callbacks.callbacks.secrets) == (
        8787,
        ("ccs_file",),
    )
    assert plain.callbacks is None
