"""Integrations: registered slash commands and their invocations, outgoing event subscriptions
and their delivery log (protocol 3.15, 3.16).

Registrations are managed by human owners and moderators; any human member may list them.
Signing secrets are returned once (on create and on rotate) and redacted everywhere else.
Nothing here talks to the network: the callers record an invocation, make the outbound call
outside any transaction, then record the result.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from typing import Any

import attrs
import orjson

from clickclack_sdk import (
    Event,
    EventDeliveryAttempt,
    EventSubscription,
    SlashCommand,
    SlashCommandInvocation,
)
from clickclack_server import ids
from clickclack_server.auth import Actor
from clickclack_server.db import Tx
from clickclack_server.db.sqlite import CommittedEvent
from clickclack_server.errors import Invalid, NotFound, StoreError
from clickclack_server.store import messages as message_store
from clickclack_server.store.access import (
    require_manager,
    require_member,
    require_not_restricted,
    visible_channel,
)
from clickclack_server.store.bots import COMMAND_PATTERN, normalize_command_name
from clickclack_server.store.events import DURABLE_EVENT_TYPES

MAX_DESCRIPTION_CHARS = 500
MAX_CALLBACK_URL_CHARS = 2048
MAX_SUBSCRIPTIONS_PER_WORKSPACE = 25
STORED_BODY_CHARS = 4096
"""Callback response bodies are kept in the logs up to this many characters."""

DEFAULT_DELIVERY_LIMIT = 50
MAX_DELIVERY_LIMIT = 200
CHANGE_TOPIC = "event_subscriptions"
"""Database change topic raised whenever the set of active subscriptions may have changed."""

_APP_INSTALLATION_ID = re.compile(r"^app_[0-9a-z]{26}$")


# Wire objects.


"""The zero-value message a slash-command response carries when nothing was posted: every
required field present and empty, every optional field omitted (like ``ZERO_EVENT``)."""


# Validation.


def normalize_command(raw: str) -> str:
    """``Deploy`` / `` /deploy `` -> ``/deploy``; same alphabet as bot command menus."""
    if not raw.strip():
        raise Invalid("command is required")
    command = normalize_command_name(raw)
    if not COMMAND_PATTERN.match(command):
        raise Invalid("command must be / followed by 1-32 characters of a-z, 0-9, _ or -")
    return command


def normalize_callback_url(raw: str) -> str:
    """An absolute ``http``/``https`` URL with a host and no credentials, at most 2048 chars.

    Only the shape is checked here; whether its address may be reached is decided at call time
    (DNS answers change), by :mod:`clickclack_server.callbacks`.
    """
    from urllib.parse import urlsplit

    url = raw.strip()
    if not url:
        raise Invalid("callback_url is required")
    if len(url) > MAX_CALLBACK_URL_CHARS:
        raise Invalid(f"callback_url must be at most {MAX_CALLBACK_URL_CHARS} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise Invalid("callback_url must be an http or https URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise Invalid("callback_url must be an http or https URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise Invalid("callback_url must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise Invalid("callback_url must not contain credentials")
    return url


def _app_installation_id(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if not _APP_INSTALLATION_ID.match(value):
        raise Invalid("app_installation_id must be an app_ id")
    return value


def _description(raw: str) -> str:
    description = raw.strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise Invalid("description is too long")
    return description


def normalize_event_types(raw: Iterable[str]) -> list[str]:
    """Trimmed, de-duplicated in order; each ``*`` or a durable event type."""
    found: list[str] = []
    for item in raw:
        value = item.strip()
        if not value or value in found:
            continue
        if value != "*" and value not in DURABLE_EVENT_TYPES:
            raise Invalid(f"unknown event type: {value}")
        found.append(value)
    if not found:
        raise Invalid("event_types is required")
    return found


def _stored_body(body: bytes) -> str:
    return body.decode("utf-8", "replace")[:STORED_BODY_CHARS]


def _opt(value: str) -> str | None:
    return value or None


# Slash command registrations.

_SLASH_COLUMNS = (
    "id, workspace_id, app_installation_id, command, description, callback_url, signing_secret, "
    "bot_user_id, created_by, created_at, revoked_at"
)


def _slash_from_row(row: sqlite3.Row, *, with_secret: bool = False) -> SlashCommand:
    return SlashCommand(
        id=row["id"],
        workspace_id=row["workspace_id"],
        app_installation_id=row["app_installation_id"],
        command=row["command"],
        description=row["description"],
        callback_url=row["callback_url"],
        signing_secret=row["signing_secret"] if with_secret else None,
        bot_user_id=row["bot_user_id"],
        created_by=row["created_by"],
        created_at=ids.wire_time(row["created_at"]),
        revoked_at=ids.opt_wire_time(row["revoked_at"]),
    )


def _slash_row(tx: Tx, command_id: str) -> sqlite3.Row:
    row = tx.one(f"SELECT {_SLASH_COLUMNS} FROM slash_commands WHERE id = ?", (command_id.strip(),))
    if row is None:
        raise NotFound()
    return row


def _require_bot_member(tx: Tx, workspace_id: str, bot_user_id: str) -> None:
    row = tx.one(
        "SELECT u.kind FROM users u JOIN workspace_members m ON m.user_id = u.id "
        "WHERE u.id = ? AND m.workspace_id = ? AND u.deleted_at IS NULL",
        (bot_user_id, workspace_id),
    )
    if row is None:
        raise NotFound()
    if row["kind"] != "bot":
        raise Invalid("bot_user_id must refer to a bot in the workspace")


def create_slash_command(
    tx: Tx,
    workspace_id: str,
    user_id: str,
    *,
    command: str,
    callback_url: str,
    bot_user_id: str,
    description: str = "",
    app_installation_id: str = "",
) -> SlashCommand:
    """Register ``command`` for the workspace (managers only); returns it with its secret."""
    name = normalize_command(command)
    url = normalize_callback_url(callback_url)
    bot_id = bot_user_id.strip()
    if not bot_id:
        raise Invalid("bot_user_id is required")
    text = _description(description)
    app_id = _app_installation_id(app_installation_id)
    require_manager(tx, workspace_id, user_id)
    _require_bot_member(tx, workspace_id, bot_id)
    if tx.one(
        "SELECT 1 FROM slash_commands WHERE workspace_id = ? AND command = ? AND revoked_at IS NULL",
        (workspace_id, name),
    ):
        raise Invalid("slash command is already registered")
    command_id = ids.new_id("cmd")
    tx.execute(
        f"INSERT INTO slash_commands ({_SLASH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        (
            command_id,
            workspace_id,
            app_id,
            name,
            text,
            url,
            ids.new_secret("ccs"),
            bot_id,
            user_id,
            ids.now(),
        ),
    )
    return _slash_from_row(_slash_row(tx, command_id), with_secret=True)


def list_slash_commands(tx: Tx, workspace_id: str, user_id: str) -> list[SlashCommand]:
    """The workspace's active commands by name (any member; secrets redacted)."""
    require_member(tx, workspace_id, user_id)
    rows = tx.all(
        f"SELECT {_SLASH_COLUMNS} FROM slash_commands "
        "WHERE workspace_id = ? AND revoked_at IS NULL ORDER BY command",
        (workspace_id,),
    )
    return [_slash_from_row(row) for row in rows]


def revoke_slash_command(tx: Tx, command_id: str, user_id: str) -> SlashCommand:
    """Revoke (idempotent: a second revoke keeps the first ``revoked_at``)."""
    row = _slash_row(tx, command_id)
    require_manager(tx, row["workspace_id"], user_id)
    tx.execute(
        "UPDATE slash_commands SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
        (ids.now(), row["id"]),
    )
    return _slash_from_row(_slash_row(tx, row["id"]))


def rotate_slash_command_secret(tx: Tx, command_id: str, user_id: str) -> SlashCommand:
    """Replace the signing secret in place; returns the fresh secret once."""
    row = _slash_row(tx, command_id)
    require_manager(tx, row["workspace_id"], user_id)
    if row["revoked_at"] is not None:
        raise Invalid("cannot rotate a revoked slash command")
    tx.execute(
        "UPDATE slash_commands SET signing_secret = ? WHERE id = ?",
        (ids.new_secret("ccs"), row["id"]),
    )
    return _slash_from_row(_slash_row(tx, row["id"]), with_secret=True)


# Slash command invocations.


@attrs.frozen(kw_only=True)
class PendingInvocation:
    """A recorded invocation whose callback has not been made yet: everything needed to make it."""

    invocation_id: str
    command_id: str
    command: str
    workspace_id: str
    channel_id: str
    bot_user_id: str
    callback_url: str
    signing_secret: str
    payload: bytes


def _invocation_from_row(row: sqlite3.Row) -> SlashCommandInvocation:
    return SlashCommandInvocation(
        id=row["id"],
        command_id=row["command_id"],
        workspace_id=row["workspace_id"],
        channel_id=row["channel_id"],
        user_id=row["user_id"],
        text=row["text"],
        payload_json=_opt(row["payload_json"]),
        response_status=row["response_status"],
        response_body=_opt(row["response_body"]),
        error=_opt(row["error"]),
        created_at=ids.wire_time(row["created_at"]),
        completed_at=ids.opt_wire_time(row["completed_at"]),
    )


def start_slash(
    tx: Tx,
    actor: Actor,
    channel_id: str,
    command: str,
    text: str,
    *,
    correlation_id: str = "",
) -> PendingInvocation | message_store.Created:
    """Begin a slash-command call in ``channel_id``.

    A registered active command of the channel's workspace gets an invocation row (after the
    caller's write checks and guest budget) and a :class:`PendingInvocation` to carry out.
    Anything else is the legacy behaviour: ``"<command> <text>"`` is posted as the caller.
    """
    channel, role = visible_channel(tx, channel_id, actor.user_id)
    workspace_id = channel["workspace_id"]
    row = None
    if command:
        row = tx.one(
            f"SELECT {_SLASH_COLUMNS} FROM slash_commands "
            "WHERE workspace_id = ? AND command = ? AND revoked_at IS NULL",
            (workspace_id, normalize_command_name(command)),
        )
    require_not_restricted(tx, workspace_id, actor.user_id)
    # Invocations spend the guest budget too, whichever path this call takes.
    message_store.spend_guest_budget(tx, workspace_id, actor.user_id, role)
    if row is None:
        body = f"{command} {text}".strip()
        return message_store.create_root(
            tx,
            actor,
            message_store.Draft(body=body, correlation_id=correlation_id),
            channel_id=channel_id,
        )
    invocation_id = ids.new_id("sci")
    payload = orjson.dumps(
        {
            "command_id": row["id"],
            "command": row["command"],
            "text": text,
            "workspace_id": workspace_id,
            "channel_id": channel_id,
            "user_id": actor.user_id,
            "bot_user_id": row["bot_user_id"],
            "trigger_id": invocation_id,
        }
    )
    tx.execute(
        "INSERT INTO slash_command_invocations "
        "(id, command_id, workspace_id, channel_id, user_id, text, payload_json, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            invocation_id,
            row["id"],
            workspace_id,
            channel_id,
            actor.user_id,
            text,
            payload.decode(),
            ids.now(),
        ),
    )
    return PendingInvocation(
        invocation_id=invocation_id,
        command_id=row["id"],
        command=row["command"],
        workspace_id=workspace_id,
        channel_id=channel_id,
        bot_user_id=row["bot_user_id"],
        callback_url=row["callback_url"],
        signing_secret=row["signing_secret"],
        payload=payload,
    )


@attrs.frozen(kw_only=True)
class FinishedInvocation:
    """The stored invocation, the message posted for it (if any), and why posting failed."""

    invocation: SlashCommandInvocation
    created: message_store.Created | None = None
    post_error: StoreError | None = None


def finish_invocation(
    tx: Tx,
    pending: PendingInvocation,
    *,
    status: int,
    body: bytes,
    error: str,
    post_text: str = "",
    correlation_id: str = "",
) -> FinishedInvocation:
    """Record the callback's outcome and, given ``post_text``, post it as the command's bot.

    A post the store refuses (the bot was removed, is restricted, ...) is recorded as the
    invocation's error and reported in ``post_error``; the invocation row is kept either way.
    """
    created: message_store.Created | None = None
    post_error: StoreError | None = None
    if post_text:
        bot = Actor(user_id=pending.bot_user_id, kind="bot", via="slash")
        tx.execute("SAVEPOINT slash_post")
        events_before = len(tx.events)
        try:
            created = message_store.create_root(
                tx,
                bot,
                message_store.Draft(body=post_text, correlation_id=correlation_id),
                channel_id=pending.channel_id,
            )
        except StoreError as exc:
            tx.execute("ROLLBACK TO slash_post")
            del tx.events[events_before:]
            post_error = exc
            error = f"slash command response could not be posted: {exc.message}"
        tx.execute("RELEASE slash_post")
    tx.execute(
        "UPDATE slash_command_invocations SET response_status = ?, response_body = ?, error = ?, "
        "message_id = ?, completed_at = ? WHERE id = ?",
        (
            status,
            _stored_body(body),
            error,
            created.message.id if created else None,
            ids.now(),
            pending.invocation_id,
        ),
    )
    row = tx.one("SELECT * FROM slash_command_invocations WHERE id = ?", (pending.invocation_id,))
    assert row is not None
    return FinishedInvocation(
        invocation=_invocation_from_row(row), created=created, post_error=post_error
    )


def get_invocation(tx: Tx, invocation_id: str) -> SlashCommandInvocation:
    row = tx.one("SELECT * FROM slash_command_invocations WHERE id = ?", (invocation_id,))
    if row is None:
        raise NotFound()
    return _invocation_from_row(row)


# Event subscriptions.

_SUB_COLUMNS = (
    "id, workspace_id, app_installation_id, event_types_json, callback_url, signing_secret, "
    "created_by, created_at, revoked_at"
)


def _subscription_from_row(row: sqlite3.Row, *, with_secret: bool = False) -> EventSubscription:
    return EventSubscription(
        id=row["id"],
        workspace_id=row["workspace_id"],
        app_installation_id=row["app_installation_id"],
        event_types=json.loads(row["event_types_json"]),
        callback_url=row["callback_url"],
        signing_secret=row["signing_secret"] if with_secret else None,
        created_by=row["created_by"],
        created_at=ids.wire_time(row["created_at"]),
        revoked_at=ids.opt_wire_time(row["revoked_at"]),
    )


def _subscription_row(tx: Tx, subscription_id: str) -> sqlite3.Row:
    row = tx.one(
        f"SELECT {_SUB_COLUMNS} FROM event_subscriptions WHERE id = ?", (subscription_id.strip(),)
    )
    if row is None:
        raise NotFound()
    return row


def create_event_subscription(
    tx: Tx,
    workspace_id: str,
    user_id: str,
    *,
    event_types: list[str],
    callback_url: str,
    app_installation_id: str = "",
) -> EventSubscription:
    """Subscribe ``callback_url`` to the workspace's durable events (managers only)."""
    types = normalize_event_types(event_types)
    url = normalize_callback_url(callback_url)
    app_id = _app_installation_id(app_installation_id)
    require_manager(tx, workspace_id, user_id)
    active = tx.scalar(
        "SELECT count(*) FROM event_subscriptions WHERE workspace_id = ? AND revoked_at IS NULL",
        (workspace_id,),
    )
    if active >= MAX_SUBSCRIPTIONS_PER_WORKSPACE:
        raise Invalid("event subscription quota exceeded")
    subscription_id = ids.new_id("sub")
    tx.execute(
        f"INSERT INTO event_subscriptions ({_SUB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        (
            subscription_id,
            workspace_id,
            app_id,
            json.dumps(types),
            url,
            ids.new_secret("ccs"),
            user_id,
            ids.now(),
        ),
    )
    tx.mark_changed(CHANGE_TOPIC)
    return _subscription_from_row(_subscription_row(tx, subscription_id), with_secret=True)


def list_event_subscriptions(tx: Tx, workspace_id: str, user_id: str) -> list[EventSubscription]:
    """The workspace's active subscriptions, oldest first (any member; secrets redacted)."""
    require_member(tx, workspace_id, user_id)
    rows = tx.all(
        f"SELECT {_SUB_COLUMNS} FROM event_subscriptions "
        "WHERE workspace_id = ? AND revoked_at IS NULL ORDER BY created_at, id",
        (workspace_id,),
    )
    return [_subscription_from_row(row) for row in rows]


def revoke_event_subscription(tx: Tx, subscription_id: str, user_id: str) -> EventSubscription:
    """Stop deliveries (idempotent); the delivery log stays readable."""
    row = _subscription_row(tx, subscription_id)
    require_manager(tx, row["workspace_id"], user_id)
    tx.execute(
        "UPDATE event_subscriptions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
        (ids.now(), row["id"]),
    )
    tx.mark_changed(CHANGE_TOPIC)
    return _subscription_from_row(_subscription_row(tx, row["id"]))


def rotate_event_subscription_secret(
    tx: Tx, subscription_id: str, user_id: str
) -> EventSubscription:
    """Replace the signing secret in place; returns the fresh secret once."""
    row = _subscription_row(tx, subscription_id)
    require_manager(tx, row["workspace_id"], user_id)
    if row["revoked_at"] is not None:
        raise Invalid("cannot rotate a revoked event subscription")
    tx.execute(
        "UPDATE event_subscriptions SET signing_secret = ? WHERE id = ?",
        (ids.new_secret("ccs"), row["id"]),
    )
    tx.mark_changed(CHANGE_TOPIC)
    return _subscription_from_row(_subscription_row(tx, row["id"]), with_secret=True)


def _attempt_from_row(row: sqlite3.Row) -> EventDeliveryAttempt:
    return EventDeliveryAttempt(
        id=row["id"],
        subscription_id=row["subscription_id"],
        event_id=row["event_id"],
        workspace_id=row["workspace_id"],
        event_type=row["event_type"],
        attempt=row["attempt"],
        response_status=row["response_status"],
        response_body=_opt(row["response_body"]),
        error=_opt(row["error"]),
        created_at=ids.wire_time(row["created_at"]),
        completed_at=ids.opt_wire_time(row["completed_at"]),
    )


def list_deliveries(
    tx: Tx, subscription_id: str, user_id: str, *, limit: int, before: str | None
) -> tuple[list[EventDeliveryAttempt], str | None]:
    """Newest-first page of a subscription's delivery log and the cursor of the next page.

    ``before`` must be a delivery attempt of this subscription (a pruned or foreign cursor is an
    error, never a silent last page).
    """
    row = _subscription_row(tx, subscription_id)
    require_member(tx, row["workspace_id"], user_id)
    params: list[Any] = [row["id"]]
    where = "subscription_id = ?"
    if before is not None:
        if not tx.one(
            "SELECT 1 FROM event_delivery_attempts WHERE id = ? AND subscription_id = ?",
            (before, row["id"]),
        ):
            raise Invalid("before is not a delivery attempt of this subscription")
        where += " AND id < ?"
        params.append(before)
    rows = tx.all(
        f"SELECT * FROM event_delivery_attempts WHERE {where} ORDER BY id DESC LIMIT ?",
        (*params, limit + 1),
    )
    page = [_attempt_from_row(r) for r in rows[:limit]]
    next_cursor = page[-1].id if len(rows) > limit else None
    return page, next_cursor


@attrs.frozen(kw_only=True)
class ActiveSubscription:
    """What delivery needs of an active subscription (held in memory by the deliverer)."""

    id: str
    workspace_id: str
    event_types: frozenset[str]
    callback_url: str
    signing_secret: str
    created_by: str | None
    created_at: str  # storage form, comparable with CommittedEvent.created_at

    def matches(self, event: CommittedEvent) -> bool:
        """The event is newer than the subscription, its type is subscribed, and a private
        event has the subscription's creator among its recipients."""
        if event.created_at < self.created_at:
            return False
        if "*" not in self.event_types and event.type not in self.event_types:
            return False
        return event.recipients is None or (
            self.created_by is not None and self.created_by in event.recipients
        )


def active_subscriptions(tx: Tx) -> list[ActiveSubscription]:
    """Every active subscription of every workspace, oldest first."""
    rows = tx.all(
        f"SELECT {_SUB_COLUMNS} FROM event_subscriptions WHERE revoked_at IS NULL "
        "ORDER BY created_at, id"
    )
    return [
        ActiveSubscription(
            id=row["id"],
            workspace_id=row["workspace_id"],
            event_types=frozenset(json.loads(row["event_types_json"])),
            callback_url=row["callback_url"],
            signing_secret=row["signing_secret"],
            created_by=row["created_by"],
            created_at=row["created_at"],
        )
        for row in rows
    ]


def wire_event(event: CommittedEvent) -> Event:
    """The wire form of a committed durable event."""
    return Event(
        id=event.id,
        cursor=event.cursor,
        type=event.type,
        workspace_id=event.workspace_id,
        channel_id=event.channel_id,
        seq=event.seq,
        created_at=ids.wire_time(event.created_at),
        payload=event.payload,
    )


@attrs.frozen(kw_only=True)
class DeliveryRecord:
    """One attempt to log: which event went to which subscription, and what happened."""

    subscription_id: str
    event_id: str
    workspace_id: str
    event_type: str
    request_json: str = ""
    status: int = 0
    body: bytes = b""
    error: str = ""
    started_at: str
    completed_at: str | None = None


def record_deliveries(tx: Tx, records: list[DeliveryRecord]) -> list[str]:
    """Append attempts to the log (numbered per subscription and event); returns their ids.

    Attempts for a subscription deleted meanwhile (its workspace went away) are skipped.
    """
    written: list[str] = []
    for record in records:
        if not tx.one("SELECT 1 FROM event_subscriptions WHERE id = ?", (record.subscription_id,)):
            continue
        attempt = tx.scalar(
            "SELECT coalesce(max(attempt), 0) + 1 FROM event_delivery_attempts "
            "WHERE subscription_id = ? AND event_id = ?",
            (record.subscription_id, record.event_id),
        )
        attempt_id = ids.new_id("eda")
        tx.execute(
            "INSERT INTO event_delivery_attempts (id, subscription_id, event_id, workspace_id, "
            "event_type, attempt, request_json, response_status, response_body, error, "
            "created_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                attempt_id,
                record.subscription_id,
                record.event_id,
                record.workspace_id,
                record.event_type,
                attempt,
                record.request_json,
                record.status,
                _stored_body(record.body),
                record.error,
                record.started_at,
                record.completed_at,
            ),
        )
        written.append(attempt_id)
    return written
