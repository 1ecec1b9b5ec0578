"""Shared fixtures: a real ClickClack server on a free port with a temporary SQLite file."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio

from clickclack_server.config import Config
from clickclack_server.runner import Running, run_server
from clickclack_server.store import bots as bot_store
from clickclack_server.store import sessions as session_store
from clickclack_server.store import users as user_store

_names = itertools.count(1)


@attrs.define
class Caller:
    """An HTTP client acting as one principal (human session, bot token, or nobody)."""

    http: httpx.AsyncClient
    user_id: str
    token: str | None

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)


@attrs.define
class World:
    """A running server with a bootstrapped owner, workspace and ``#general``."""

    running: Running
    http: httpx.AsyncClient
    data_dir: Path
    workspace_id: str
    channel_id: str
    owner: Caller

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def db(self) -> Any:
        return self.running.server.db

    def anon(self) -> Caller:
        return Caller(self.http, "", None)

    async def session_for(self, user_id: str) -> Caller:
        session = await self.db.write(session_store.create_session, user_id)
        return Caller(self.http, user_id, session.token)

    async def user(
        self, name: str | None = None, *, role: str = "member", workspace_id: str | None = None
    ) -> Caller:
        """A new human with a session, member of ``workspace_id`` (default: the main one)."""
        name = name or f"User {next(_names)}"
        workspace_id = workspace_id or self.workspace_id

        def create(tx: Any) -> str:
            user = user_store.create_user(
                tx, display_name=name, email=f"{name.lower().replace(' ', '.')}@example.com"
            )
            if role:
                user_store.add_member(tx, workspace_id, user.id, role)
            return user.id

        return await self.session_for(await self.db.write(create))

    async def bot(
        self,
        scopes: list[str] | None = None,
        *,
        workspace_id: str | None = None,
        owner_user_id: str | None = None,
        name: str | None = None,
    ) -> Caller:
        """A new bot member of ``workspace_id`` with a token carrying ``scopes``."""
        workspace_id = workspace_id or self.workspace_id
        display = name or f"Bot {next(_names)}"

        def create(tx: Any) -> tuple[str, str]:
            bot = bot_store.create_bot_user(
                tx, workspace_id=workspace_id, display_name=display, owner_user_id=owner_user_id
            )
            token = bot_store.mint_token(
                tx,
                bot_user_id=bot.id,
                workspace_id=workspace_id,
                owner_user_id=owner_user_id,
                scopes=scopes or ["bot:write"],
                created_by=self.owner.user_id,
            )
            assert token.token is not None
            return bot.id, token.token

        bot_id, token = await self.db.write(create)
        return Caller(self.http, bot_id, token)

    async def workspace(self, name: str | None = None) -> str:
        """A second workspace owned by the owner (with its own ``#general``)."""
        response = await self.owner.post(
            "/api/workspaces", json={"name": name or f"Space {next(_names)}"}
        )
        assert response.status_code == 201, response.text
        workspace_id: str = response.json()["workspace"]["id"]
        return workspace_id


def _config(tmp_path: Path, **overrides: Any) -> Config:
    return Config(addr="127.0.0.1:0", data=str(tmp_path / "data"), **overrides)


@pytest.fixture
async def running(nursery: trio.Nursery, tmp_path: Path) -> Running:
    """A server without dev auth: every request needs a real credential."""
    result: Running = await nursery.start(run_server, _config(tmp_path))
    return result


@pytest.fixture
async def dev_running(nursery: trio.Nursery, tmp_path: Path) -> Running:
    """A server started with ``--dev-bootstrap`` (dev auth for loopback requests)."""
    result: Running = await nursery.start(run_server, _config(tmp_path, dev_bootstrap=True))
    return result


@pytest.fixture
async def world(running: Running, tmp_path: Path) -> AsyncIterator[World]:
    boot = await running.server.db.write(
        user_store.bootstrap, name="Owner", email="owner@example.com"
    )
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
        session = await running.server.db.write(session_store.create_session, boot.user_id)
        owner = Caller(http, boot.user_id, session.token)
        yield World(running, http, tmp_path / "data", boot.workspace_id, boot.channel_id, owner)
