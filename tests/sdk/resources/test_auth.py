"""``client.auth``: magic links on a dev server, cookie sessions with CSRF, logout."""

from __future__ import annotations

import pytest

from clickclack_sdk import AuthenticationError, ClickClackError, Client
from clickclack_server.runner import Running
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


async def test_magic_link_login_cookie_writes_and_logout(dev_running: Running) -> None:
    async with Client(dev_running.url) as anonymous:
        issued = await anonymous.auth.request_magic_link("Ada@Example.com", "Ada")
        assert issued.token.startswith("mgt_") and issued.magic_link.email == "ada@example.com"
        login = await anonymous.auth.consume_magic_link(issued.token)
        assert login.user.display_name == "Ada" and login.token.startswith("sst_")
        assert login.session.user_id == login.user.id
        # The session cookie now authenticates this client; its writes carry the CSRF header.
        assert (await anonymous.me.get()).id == login.user.id
        created = await anonymous.workspaces.create("Cookie Space")
        assert created.role == "owner"
    async with Client(dev_running.url, token=login.token) as bearer:
        assert (await bearer.me.get()).id == login.user.id
        await bearer.auth.logout()
        with pytest.raises(AuthenticationError):
            await bearer.me.get()


async def test_dev_auth_user_header(dev_running: Running) -> None:
    assert dev_running.dev_user_id is not None
    async with Client(dev_running.url) as first_user:
        assert (await first_user.me.get()).id == dev_running.dev_user_id
    async with Client(dev_running.url, user_id=dev_running.dev_user_id) as named:
        [workspace] = await named.workspaces.list()
        sent = await named.messages.send(
            (await named.channels.find("general", workspace=workspace)).id, "dev hello"
        )
        assert sent.message.author_id == dev_running.dev_user_id


async def test_magic_links_need_dev_auth(world: World, client_for: ClientFactory) -> None:
    async with client_for(None) as client:
        with pytest.raises(ClickClackError) as caught:
            await client.auth.request_magic_link("x@example.com")
    assert caught.value.status == 501
