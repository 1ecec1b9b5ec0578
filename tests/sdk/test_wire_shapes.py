"""Every response envelope and event payload class against the field lists of protocol.md.

Each class is listed with its wire keys in three kinds (protocol 3.x, 4.4):

- ``R`` required: always written, never null;
- ``O`` omit-empty: written only when set (``key?`` in the protocol);
- ``N`` always written, ``null`` when unset (``attrs.field(metadata=NULLABLE)``).

For each class the test builds a minimal instance (every optional field unset) and a full one
(every field set), unstructures both through the one converter, compares the keys with the
list, and structures them back to the same object.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import attrs
import pytest

from clickclack_sdk import _envelopes as env
from clickclack_sdk import _models as models
from clickclack_sdk import _payloads as pl
from clickclack_sdk._convert import NULLABLE, always_written, from_data, to_data

R, O, N = "required", "omit-empty", "always-null"  # noqa: E741

ENVELOPES: dict[type[Any], dict[str, str]] = {
    # 3.7 / 8.3: 201 {message, event}; 200 without event on a nonce replay.
    env.MessageCreated: {"message": R, "event": O},
    # 3.8: 201 {message, thread_state, events}; nonce replay -> 200 with "events": null.
    env.ReplyCreated: {"message": R, "thread_state": R, "events": N},
    # 3.7: edit/delete {message, event} (zero-value event on a no-op delete).
    env.MessageChanged: {"message": R, "event": R},
    # 3.9: {event, reactions}.
    env.ReactionsChanged: {"event": R, "reactions": R},
    # 3.6: {channel, event}.
    env.ChannelChanged: {"channel": R, "event": R},
    # 3.5: {workspace, event}.
    env.WorkspaceChanged: {"workspace": R, "event": R},
    # 3.5 moderation: {member, event}.
    env.MemberModerationChanged: {"member": R, "event": R},
    # 3.5: {members, next_cursor?, has_more, total_count?, total_by_role?}.
    env.MemberPage: {
        "members": R,
        "has_more": R,
        "next_cursor": O,
        "total_count": O,
        "total_by_role": O,
    },
    # 3.10: {"results": [SearchHit], "next_cursor": string|null}.
    env.SearchPage: {"results": R, "next_cursor": N},
    # 4.7: {"events": [Event...], "tail_cursor"?: string}.
    env.EventBatch: {"events": R, "tail_cursor": O},
    # 3.13: 201 {bot, bot_token}; initial_token:false -> {bot} only.
    env.BotCreated: {"bot": R, "bot_token": O},
    # 3.13 list: [{bot, tokens}].
    env.BotWithTokens: {"bot": R, "tokens": R},
    # 3.4 /api/me/bots: [{bot, workspace: {id, route_id, name}, active_token_count}].
    env.OwnedBot: {"bot": R, "workspace": R, "active_token_count": R},
    env.WorkspaceSummary: {"id": R, "route_id": R, "name": R},
    # 2.3: {magic_link, token}; consume -> {user, session, token}.
    env.MagicLinkIssued: {"magic_link": R, "token": R},
    env.Login: {"user": R, "session": R, "token": R},
    # 3.15: 201 {response_type, text, message, event}; 200 adds invocation.
    env.SlashCommandResult: {
        "response_type": R,
        "text": R,
        "message": O,
        "event": O,
        "invocation": O,
    },
}

PAYLOADS: dict[type[Any], dict[str, str]] = {
    pl.ChannelCreatedPayload: {"channel_id": R},
    pl.ChannelUpdatedPayload: {"channel_id": R, "archived": R},
    pl.MessageCreatedPayload: {
        "message_id": R,
        "direct_conversation_id": O,
        "author_id": R,
        "topic_id": O,
        "kind": O,
        "turn_id": O,
        "nonce": O,
        "correlation_id": O,
    },
    pl.MessageChangedPayload: {
        "message_id": R,
        "root_message_id": R,
        "direct_conversation_id": O,
    },
    pl.ThreadReplyCreatedPayload: {
        "message_id": R,
        "root_message_id": R,
        "direct_conversation_id": O,
        "author_id": O,
        "nonce": O,
        "correlation_id": O,
    },
    pl.ThreadStateUpdatedPayload: {"root_message_id": R, "direct_conversation_id": O},
    pl.ReactionPayload: {
        "message_id": R,
        "emoji": R,
        "user_id": R,
        "count": R,
        "direct_conversation_id": O,
    },
    pl.ChannelReadPayload: {"channel_id": R, "user_id": R},
    pl.DmReadPayload: {"direct_conversation_id": R, "user_id": R},
    pl.PinPayload: {"channel_id": R, "message_id": R, "pinned_by": O},
    pl.MemberModerationUpdatedPayload: {"user_id": R, "role": O},
    pl.WorkspaceUpdatedPayload: {"workspace_id": R},
    pl.OwnershipTransferredPayload: {"workspace_id": R, "new_owner_user_id": R},
    pl.TypingPayload: {"user_id": R, "channel_id": O, "direct_conversation_id": O},
    pl.PresencePayload: {
        "user_id": R,
        "status": O,
        "channel_id": O,
        "direct_conversation_id": O,
    },
    pl.AgentProgressPayload: {
        "user_id": R,
        "turn_id": O,
        "seq": O,
        "op": O,
        "line": O,
        "channel_id": O,
        "direct_conversation_id": O,
    },
    pl.BotCommandUpdatedPayload: {"workspace_id": R, "bot_user_id": R},
    pl.BotDeletedPayload: {
        "bot_user_id": R,
        "display_name": R,
        "former_handle": R,
        "deleted_at": R,
    },
    pl.BotMembershipRemovedPayload: {"bot_user_id": R},
    pl.ChannelDeletedPayload: {"channel_id": R},
}

SHAPES = {**ENVELOPES, **PAYLOADS}


def _sample(tp: Any, full: bool) -> Any:
    """A value of type ``tp``: optional parts unset (``full=False``) or set (``full=True``)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _sample(args[0], full) if full else None
    if origin is list:
        return [_sample(typing.get_args(tp)[0], full)]
    if origin is dict:
        return {"k": _sample(typing.get_args(tp)[1], full)}
    if tp is Any:
        return "any"
    if attrs.has(tp):
        return _build(tp, full)
    return {str: "x", int: 1, bool: True, float: 1.5}[tp]


def _build(cls: type[Any], full: bool) -> Any:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.default is not attrs.NOTHING and not full:
            continue
        values[field.name] = _sample(hints[field.name], full)
    return cls(**values)


def test_every_envelope_and_payload_class_is_listed() -> None:
    listed = set(SHAPES)
    envelopes = {
        obj
        for name, obj in vars(env).items()
        if attrs.has(obj) and obj.__module__ == env.__name__ and name != "Download"
    }
    payloads = set(pl.PAYLOAD_TYPES.values())
    assert envelopes <= listed, envelopes - listed
    assert payloads <= listed, payloads - listed


@pytest.mark.parametrize("cls", list(SHAPES), ids=lambda c: c.__name__)
def test_fields_match_protocol(cls: type[Any]) -> None:
    expected = SHAPES[cls]
    fields = {field.name: field for field in attrs.fields(cls)}
    assert set(fields) == set(expected)
    for name, kind in expected.items():
        field = fields[name]
        if kind == N:
            assert field.default is None and field.metadata == NULLABLE, name
        elif kind == O:
            assert field.default is None and not always_written(field), name
        else:
            assert always_written(field) or field.default is not None, name


@pytest.mark.parametrize("cls", list(SHAPES), ids=lambda c: c.__name__)
def test_minimal_instance_keys(cls: type[Any]) -> None:
    expected = SHAPES[cls]
    obj = _build(cls, full=False)
    data = to_data(obj)
    assert set(data) == {k for k, kind in expected.items() if kind != O}
    for name, kind in expected.items():
        if kind == N:
            assert data[name] is None, name
        elif kind == R:
            assert data[name] is not None, name
    assert from_data(data, cls) == obj


@pytest.mark.parametrize("cls", list(SHAPES), ids=lambda c: c.__name__)
def test_full_instance_keys(cls: type[Any]) -> None:
    obj = _build(cls, full=True)
    data = to_data(obj)
    assert set(data) == set(SHAPES[cls])
    assert all(value is not None for value in data.values())
    assert from_data(data, cls) == obj


def test_message_created_payload_keeps_the_wire_order() -> None:
    """``message.created`` writes ``direct_conversation_id`` before ``author_id``, as the
    server has always written it."""
    payload = pl.MessageCreatedPayload(
        message_id="msg_1", direct_conversation_id="dmc_1", author_id="usr_1", correlation_id="c"
    )
    assert list(to_data(payload)) == [
        "message_id",
        "direct_conversation_id",
        "author_id",
        "correlation_id",
    ]


def test_nested_entities_keep_their_rules() -> None:
    """A required nullable entity field (``Event.payload``) is still written as null, and a
    replayed reply writes ``events: null`` next to its thread state."""
    reply = env.ReplyCreated(
        message=_build(models.Message, full=False),
        thread_state=_build(models.ThreadState, full=False),
    )
    data = to_data(reply)
    assert data["events"] is None
    assert to_data(models.ZERO_EVENT)["payload"] is None
    assert "channel_id" not in to_data(models.ZERO_EVENT)


def test_slash_result_invocation_is_typed() -> None:
    invocation = _build(models.SlashCommandInvocation, full=True)
    result = env.SlashCommandResult(response_type="ephemeral", text="t", invocation=invocation)
    data = to_data(result)
    assert data["invocation"]["id"] == invocation.id
    parsed = from_data(data, env.SlashCommandResult)
    assert isinstance(parsed.invocation, models.SlashCommandInvocation)
    assert parsed == result
