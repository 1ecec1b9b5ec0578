"""Secrets share nothing with ids (protocol 1.1): none is computable from an id or another secret.

Before the fix every secret was the ULID generator's next value after its row's id, so within a
millisecond a bot token was its token row id plus one. Here every kind of secret is minted in one
tight loop inside one transaction (the worst case: all in the same few milliseconds), the bodies
are decoded from base32 as integers, and no two values may lie within 2**64 of each other.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from clickclack_sdk.cli._admin import _create_invite
from clickclack_server import ids
from clickclack_server.store import auth as auth_store
from clickclack_server.store import bots as bot_store
from clickclack_server.store import integrations as integration_store
from clickclack_server.store import sessions as session_store
from tests.conftest import World

ALPHABET = ids.ROUTE_ALPHABET.lower()
SECRET_SHAPE = re.compile(r"^[a-z]+_[0-9a-hjkmnp-tv-z]{52}$")
ROUNDS = 25


def decode(value: str) -> int:
    """The base32 body of ``prefix_body`` as an integer."""
    body = value.split("_", 1)[1]
    number = 0
    for char in body:
        number = number * 32 + ALPHABET.index(char)
    return number


def mint_everything(world: World, tx: Any) -> tuple[list[str], list[str]]:
    """One of each secret kind per round, with the ids minted right beside them."""
    minted_ids: list[str] = []
    minted_secrets: list[str] = []
    owner = world.owner.user_id
    for round_number in range(ROUNDS):
        bot = bot_store.create_bot_user(
            tx, workspace_id=world.workspace_id, display_name=f"Secret bot {round_number}"
        )
        token = bot_store.mint_token(
            tx,
            bot_user_id=bot.id,
            workspace_id=world.workspace_id,
            owner_user_id=None,
            created_by=owner,
        )
        session = session_store.create_session(tx, owner)
        link, magic = auth_store.create_magic_link(tx, email=f"s{round_number}@example.com")
        command = integration_store.create_slash_command(
            tx,
            world.workspace_id,
            owner,
            command=f"/secret{round_number}",
            callback_url="https://bots.example.com/slash",
            bot_user_id=bot.id,
        )
        rotated_command = integration_store.rotate_slash_command_secret(tx, command.id, owner)
        subscription = integration_store.create_event_subscription(
            tx,
            world.workspace_id,
            owner,
            event_types=["message.created"],
            callback_url="https://bots.example.com/events",
        )
        rotated_subscription = integration_store.rotate_event_subscription_secret(
            tx, subscription.id, owner
        )
        invite = _create_invite(tx, workspace=world.workspace_id)
        minted_ids += [bot.id, token.id, session.id, link.id, command.id, subscription.id]
        for secret in (
            token.token,
            session.token,
            magic,
            command.signing_secret,
            rotated_command.signing_secret,
            subscription.signing_secret,
            rotated_subscription.signing_secret,
            invite,
        ):
            assert secret is not None
            minted_secrets.append(secret)
    return minted_ids, minted_secrets


async def test_no_secret_is_near_an_id_or_another_secret(world: World) -> None:
    minted_ids, minted_secrets = await world.db.write(lambda tx: mint_everything(world, tx))
    assert len(minted_secrets) == 8 * ROUNDS
    prefixes = {secret.split("_", 1)[0] for secret in minted_secrets}
    assert prefixes == {"ccb", "sst", "mgt", "ccs", "ivt"}
    for secret in minted_secrets:
        assert SECRET_SHAPE.match(secret), secret
    # Ids are the known quantity an attacker holds: their bodies are ULIDs.
    values = sorted(
        [(decode(value), "id", value) for value in minted_ids]
        + [(decode(value), "secret", value) for value in minted_secrets]
    )
    numbers = [number for number, _, _ in values]
    close = [
        (values[index - 1][2], values[index][2])
        for index in range(1, len(values))
        if numbers[index] - numbers[index - 1] < 2**64
        and "secret" in {values[index][1], values[index - 1][1]}
    ]
    assert close == []
    # Every secret carries 256 bits: the ones seen use the top of the range too.
    assert max(decode(secret) for secret in minted_secrets).bit_length() > 250


async def test_minted_secrets_authenticate(world: World) -> None:
    """A long secret still works as a credential end to end (clients treat tokens as opaque)."""
    bot = await world.bot(["bot:read"])
    assert bot.token is not None and SECRET_SHAPE.match(bot.token)
    assert (await bot.get("/api/me")).status_code == 200
    assert world.owner.token is not None and world.owner.token.startswith("sst_")
    assert len(world.owner.token) == 4 + 52
    assert (await world.owner.get("/api/me")).status_code == 200


@given(st.from_regex(r"\A[a-z]{2,6}\Z"))
def test_new_secret_shape(prefix: str) -> None:
    first, second = ids.new_secret(prefix), ids.new_secret(prefix)
    for secret in (first, second):
        assert secret.startswith(prefix + "_")
        assert SECRET_SHAPE.match(secret), secret
        assert decode(secret) < 2**256
    assert abs(decode(first) - decode(second)) >= 2**64
