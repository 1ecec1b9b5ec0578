"""clickclack_bots.webhook against a real server (the ci_notifier example: tests/examples)."""

from __future__ import annotations

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
