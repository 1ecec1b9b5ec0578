"""Reading a thread: the root, a window of replies and the thread state (protocol 3.8)."""

from __future__ import annotations

from clickclack_sdk import ThreadPage
from clickclack_server.auth import Actor
from clickclack_server.db import Tx
from clickclack_server.errors import Invalid
from clickclack_server.paging import Window
from clickclack_server.store.messages import (
    allocate_route,
    empty_thread_state,
    hydrate,
    message_row,
    require_dm_scope,
    thread_state_from_row,
    visible_message,
    window_rows,
)


def open_thread(tx: Tx, actor: Actor, root_id: str, window: Window) -> ThreadPage:
    """Runs in a write transaction: opening a thread allocates the root's route id."""
    root, _ = visible_message(tx, root_id, actor.user_id)
    require_dm_scope(actor, root, "dms:read")
    if root["parent_message_id"] is not None:
        raise Invalid("thread root must be a root message")
    if root["route_id"] is None:
        allocate_route(tx, root)
        root = message_row(tx, root_id)
    rows, has_older, has_newer = window_rows(
        tx, "thread_root_id = ?", [root_id], "thread_seq", window
    )
    state_row = tx.one("SELECT * FROM thread_state WHERE root_message_id = ?", (root_id,))
    state = thread_state_from_row(state_row) if state_row else empty_thread_state(root_id)
    [root_message] = hydrate(tx, [root], actor.user_id)
    return ThreadPage(
        root=root_message,
        replies=hydrate(tx, rows, actor.user_id, thread_states=False),
        thread_state=state,
        oldest_seq=rows[0]["thread_seq"] if rows else 0,
        newest_seq=rows[-1]["thread_seq"] if rows else 0,
        has_older=has_older,
        has_newer=has_newer,
    )
