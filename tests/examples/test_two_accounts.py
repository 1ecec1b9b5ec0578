"""examples/two_accounts: ``bots.toml`` runs two bot accounts in one process, one token from
an environment variable and one from a file; both answer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import trio

from clickclack_bots import load_config, run_accounts
from clickclack_bots.testing import ClickClackHarness, TestUser, clickclack_server, user
from tests.examples._load import EXAMPLES

__all__ = ["clickclack_server", "user"]

EXAMPLE = EXAMPLES / "two_accounts"


async def test_both_accounts_answer(
    clickclack_server: ClickClackHarness,
    user: TestUser,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pinger = await clickclack_server.create_bot_account("Pinger")
    greeter = await clickclack_server.create_bot_account("Greeter")
    config_file = tmp_path / "bots.toml"
    shutil.copy(EXAMPLE / "bots.toml", config_file)
    (tmp_path / "greeter.token").write_text(greeter.token + "\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(EXAMPLE))  # "duo:pinger" is imported as the CLI would
    env = {"PINGER_TOKEN": pinger.token, "CLICKCLACK_SERVER": clickclack_server.url}

    config = load_config(config_file, env=env)
    assert [(a.name, a.token, a.start) for a in config.accounts] == [
        ("pinger", pinger.token, "now"),
        ("greeter", greeter.token, "now"),
    ]
    assert {a.state_dir for a in config.accounts} == {str(tmp_path / "state")}

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            runtimes = await nursery.start(
                lambda task_status: run_accounts(
                    config.accounts,
                    grace=1,
                    handle_signals=False,
                    runtime_options={"commit_interval": 0.02},
                    task_status=task_status,
                )
            )
            assert len(runtimes) == 2
            await user.say("#general", "!ping")
            assert (await user.expect_reply(author=pinger.user_id)).body == "pong"
            await user.say("#general", "hello bots")
            assert (await user.expect_reply(author=greeter.user_id)).body == "hello, Tester!"
            for runtime in runtimes:  # a graceful stop, as on SIGTERM: cursors are saved
                runtime.stop(1)
    # Each account kept its own cursor file.
    assert len(list((tmp_path / "state").iterdir())) == 2


def test_token_env_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(EXAMPLE / "bots.toml", tmp_path / "bots.toml")
    (tmp_path / "greeter.token").write_text("ccb_x", encoding="utf-8")
    monkeypatch.syspath_prepend(str(EXAMPLE))
    with pytest.raises(ValueError, match="PINGER_TOKEN"):
        load_config(tmp_path / "bots.toml", env={})
