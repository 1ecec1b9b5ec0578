"""Typed event payloads: every known type parses, unknown or odd payloads stay raw, and the
Event's wire shape does not change."""

from __future__ import annotations

from typing import Any

import pytest

from clickclack_sdk import (
    PAYLOAD_TYPES,
    ZERO_EVENT,
    AgentProgressPayload,
    BotDeletedPayload,
    ChannelUpdatedPayload,
    Event,
    MessageCreatedPayload,
    ReactionPayload,
    dumps,
    loads,
    parse_payload,
    to_data,
)

SAMPLES: dict[str, dict[str, Any]] = {
    "channel.created": {"channel_id": "chn_1"},
    "channel.updated": {"channel_id": "chn_1", "archived": True},
    "channel.deleted": {"channel_id": "chn_1"},
    "message.created": {"message_id": "msg_1", "author_id": "usr_1", "nonce": "n"},
    "message.updated": {"message_id": "msg_1", "root_message_id": "msg_1"},
    "message.deleted": {"message_id": "msg_1", "root_message_id": "msg_1"},
    "thread.reply_created": {"message_id": "msg_2", "root_message_id": "msg_1"},
    "thread.state_updated": {"root_message_id": "msg_1", "direct_conversation_id": "dm_1"},
    "reaction.added": {"message_id": "msg_1", "emoji": "x", "user_id": "usr_1", "count": 2},
    "reaction.removed": {"message_id": "msg_1", "emoji": "x", "user_id": "usr_1", "count": 0},
    "channel.read": {"channel_id": "chn_1", "user_id": "usr_1"},
    "dm.read": {"direct_conversation_id": "dm_1", "user_id": "usr_1"},
    "pin.added": {"channel_id": "chn_1", "message_id": "msg_1", "pinned_by": "usr_1"},
    "pin.removed": {"channel_id": "chn_1", "message_id": "msg_1", "pinned_by": "usr_1"},
    "member.moderation_updated": {"user_id": "usr_1", "role": "member"},
    "workspace.updated": {"workspace_id": "wsp_1"},
    "workspace.ownership_transferred": {"workspace_id": "wsp_1", "new_owner_user_id": "usr_2"},
    "typing.started": {"user_id": "usr_1", "channel_id": "chn_1"},
    "typing.stopped": {"user_id": "usr_1", "direct_conversation_id": "dm_1"},
    "presence.changed": {"user_id": "usr_1", "status": "away", "device": "phone"},
    "agent.progress": {"user_id": "usr_1", "turn_id": "t", "seq": 3, "op": "append", "line": {}},
    "bot_command.updated": {"workspace_id": "wsp_1", "bot_user_id": "usr_9"},
    "bot.deleted": {"bot_user_id": "usr_9", "display_name": "B", "deleted_at": "t"},
    "bot.membership_removed": {"bot_user_id": "usr_9"},
}


def test_every_registered_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(PAYLOAD_TYPES)


@pytest.mark.parametrize("type", sorted(SAMPLES))
def test_samples_parse_to_their_class(type: str) -> None:
    parsed = parse_payload(type, SAMPLES[type])
    assert isinstance(parsed, PAYLOAD_TYPES[type])


def test_fields_are_typed() -> None:
    created = parse_payload("message.created", SAMPLES["message.created"])
    assert created == MessageCreatedPayload(message_id="msg_1", author_id="usr_1", nonce="n")
    reaction = parse_payload("reaction.added", SAMPLES["reaction.added"])
    assert isinstance(reaction, ReactionPayload) and reaction.count == 2
    updated = parse_payload("channel.updated", SAMPLES["channel.updated"])
    assert updated == ChannelUpdatedPayload(channel_id="chn_1", archived=True)
    progress = parse_payload("agent.progress", SAMPLES["agent.progress"])
    assert isinstance(progress, AgentProgressPayload) and progress.seq == 3
    deleted = parse_payload("bot.deleted", SAMPLES["bot.deleted"])
    assert deleted == BotDeletedPayload(bot_user_id="usr_9", display_name="B", deleted_at="t")


def test_unknown_and_misfit_payloads_stay_raw() -> None:
    assert parse_payload("question.submitted", {"a": 1}) == {"a": 1}
    misfit = {"message_id": "msg_1"}
    assert parse_payload("reaction.added", misfit) is misfit
    assert parse_payload("message.created", None) is None
    assert ZERO_EVENT.typed_payload() is None


def test_typed_payload_leaves_the_wire_shape_alone() -> None:
    wire = (
        '{"id":"evt_1","cursor":"cur_1","type":"reaction.added","workspace_id":"wsp_1",'
        '"created_at":"t","payload":{"message_id":"m","emoji":"x","user_id":"u","count":1,'
        '"future":true},"channel_id":"chn_1","seq":4}'
    )
    event = loads(wire, Event)
    assert isinstance(event.typed_payload(), ReactionPayload)
    assert dumps(event) == wire
    assert set(to_data(event)) == {
        "id",
        "cursor",
        "type",
        "workspace_id",
        "created_at",
        "payload",
        "channel_id",
        "seq",
    }
    assert event.durable and not ZERO_EVENT.durable
