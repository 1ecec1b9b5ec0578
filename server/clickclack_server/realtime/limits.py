"""Numeric limits of realtime delivery (protocol 4.6, 4.7)."""

from __future__ import annotations

REPLAY_PAGE = 500
"""Events read from the log per page while catching a socket up."""

REPLAY_BUDGET = 5000
"""Most events one catch-up may cover; a larger backlog means the client must resync."""

RECHECK_INTERVAL = 30.0
"""Seconds between credential rechecks of every open socket, idle or not."""

WRITE_TIMEOUT = 10.0
"""Seconds one frame may take to write before the socket counts as stalled."""

SUBSCRIBER_BUFFER = 32
"""Undelivered hub-only frames (ephemeral events, notices) one socket may hold."""

RING_SIZE = 256
"""Newest durable events kept in memory per watched workspace for live delivery."""

WAKE_SLICE = 8
"""Sockets woken per scheduler pass when a publication reaches a workspace."""

PULL_DEFAULT_LIMIT = 200
PULL_MAX_LIMIT = 500
