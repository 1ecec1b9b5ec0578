"""SDK fixtures: ``Client`` objects talking to the real server of ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from clickclack_sdk import Client, RetryPolicy
from tests.conftest import Caller, World

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
"""Retries without slowing the suite down."""

ClientFactory = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def client_for(world: World) -> ClientFactory:
    """``async with client_for(caller) as client``: a client with ``caller``'s token."""

    @asynccontextmanager
    async def open_client(caller: Caller | None = None, **kwargs: Any) -> AsyncIterator[Client]:
        kwargs.setdefault("token", None if caller is None else caller.token)
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault(
            "reconnect", RetryPolicy(max_attempts=None, base_delay=0.01, max_delay=0.1)
        )
        async with Client(kwargs.pop("base_url", world.url), **kwargs) as client:
            yield client

    return open_client


@pytest.fixture
async def owner(world: World, client_for: ClientFactory) -> AsyncIterator[Client]:
    """A client for the world's owner (a human session)."""
    async with client_for(world.owner) as client:
        yield client
