"""clickclack_bots.webhook and the ci_notifier example against a real server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import trio

from clickclack_bots import webhook
from clickclack_bots.testing import ClickClackHarness
from clickclack_sdk import (
    AuthenticationError,
    ClickClackError,
    InvalidRequest,
    NetworkError,
    NotFound,
    PermissionDenied,
)

NOTIFY = Path(__file__).resolve().parents[2] / "examples" / "ci_notifier" / "notify.py"


async def test_post_creates_message_as_token_user(clickclack_server: ClickClackHarness) -> None:
    account = await clickclack_server.create_bot_account("Hooker")
    created = await webhook.post(
        clickclack_server.url,
        "deploy done",
        token=account.token,
        channel=clickclack_server.general_id,
    )
    assert created.message.body == "deploy done"
    assert created.message.author_id == account.user_id
    assert created.message.channel_id == clickclack_server.general_id
    owner = await clickclack_server.owner()
    fetched = await owner.client.messages.get(created.message.id)
    assert fetched.body == "deploy done"


async def test_post_sync_with_full_hook_url(clickclack_server: ClickClackHarness) -> None:
    account = await clickclack_server.create_bot_account("Sync")
    url = f"{clickclack_server.url}/api/hooks/mattermost/{clickclack_server.general_id}"
    created = await trio.to_thread.run_sync(
        lambda: webhook.post_sync(url, "from a script", token=account.token)
    )
    assert created.message.body == "from a script"
    assert created.event is not None


async def test_bad_token_is_authentication_error(clickclack_server: ClickClackHarness) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await webhook.post(
            clickclack_server.url, "x", token="cc_nope", channel=clickclack_server.general_id
        )
    assert caught.value.status == 401


async def test_missing_scope_is_permission_denied(clickclack_server: ClickClackHarness) -> None:
    account = await clickclack_server.create_bot_account("Reader", scopes=["messages:read"])
    with pytest.raises(PermissionDenied) as caught:
        await webhook.post(
            clickclack_server.url, "x", token=account.token, channel=clickclack_server.general_id
        )
    assert caught.value.error == "bot token is missing scope messages:write"


async def test_unknown_channel_is_a_typed_error(clickclack_server: ClickClackHarness) -> None:
    account = await clickclack_server.create_bot_account("Lost")
    with pytest.raises((NotFound, InvalidRequest)) as caught:
        await webhook.post(clickclack_server.url, "x", token=account.token, channel="C_missing")
    assert caught.value.status is not None and 400 <= caught.value.status < 500


async def test_unreachable_server_is_network_error() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    await listeners[0].aclose()
    with pytest.raises(NetworkError):
        await webhook.post(f"http://127.0.0.1:{port}", "x", token="t", channel="C1", timeout=2)


async def test_non_clickclack_answer_is_clickclack_error(
    clickclack_server: ClickClackHarness,
) -> None:
    # /api/health answers 2xx with something that is not a created message.
    with pytest.raises(ClickClackError):
        await webhook.post(
            f"{clickclack_server.url}/api/health?{webhook.HOOK_PATH}", "x", token="t"
        )


@pytest.mark.parametrize(
    ("url", "channel", "text", "token"),
    [
        ("ftp://host", "C1", "x", "t"),
        ("http://host", None, "x", "t"),
        ("http://host/api/hooks/mattermost/C1", "C2", "x", "t"),
        ("http://host", "C1", "", "t"),
        ("http://host", "C1", "x", ""),
    ],
)
def test_bad_arguments_raise_value_error(
    url: str, channel: str | None, text: str, token: str
) -> None:
    with pytest.raises(ValueError):
        webhook.post_sync(url, text, token=token, channel=channel)


def test_hook_url_builds_the_channel_path() -> None:
    assert webhook.hook_url("http://h:1/", "C9") == "http://h:1/api/hooks/mattermost/C9"
    assert webhook.hook_url("http://h/api/hooks/mattermost/C9") == (
        "http://h/api/hooks/mattermost/C9"
    )


async def _notify(env: dict[str, str], *args: str) -> trio.CompletedProcess[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CLICKCLACK_")}
    full.update(env)
    with trio.fail_after(30):
        return await trio.run_process(
            [sys.executable, str(NOTIFY), *args],
            env=full,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )


async def test_ci_notifier_posts(clickclack_server: ClickClackHarness) -> None:
    account = await clickclack_server.create_bot_account("CI")
    done = await _notify(
        {
            "CLICKCLACK_SERVER": clickclack_server.url,
            "CLICKCLACK_TOKEN": account.token,
            "CLICKCLACK_CHANNEL": clickclack_server.general_id,
        },
        "build #42 passed",
    )
    assert done.returncode == 0, done.stderr
    message_id = done.stdout.decode().strip()
    owner = await clickclack_server.owner()
    message = await owner.client.messages.get(message_id)
    assert message.body == "build #42 passed"
    assert message.author_id == account.user_id


async def test_ci_notifier_reports_refusal(clickclack_server: ClickClackHarness) -> None:
    done = await _notify(
        {"CLICKCLACK_SERVER": clickclack_server.url, "CLICKCLACK_TOKEN": "cc_bad"},
        "--channel",
        clickclack_server.general_id,
        "nope",
    )
    assert done.returncode == 1
    assert b"AuthenticationError" in done.stderr


async def test_ci_notifier_missing_settings() -> None:
    done = await _notify({}, "hello")
    assert done.returncode == 2
    assert b"CLICKCLACK_TOKEN" in done.stderr
