"""WebSocket close codes and the reasons sent with them (protocol 4.6)."""

from __future__ import annotations

import attrs


@attrs.frozen
class Close:
    """Why the server ends a realtime socket: a close code and its reason text."""

    code: int
    reason: str


RESYNC_REQUIRED = Close(4001, "realtime replay limit exceeded; resync required")
BUFFER_OVERFLOW = Close(1013, "realtime buffer overflow; reconnect with after_cursor to replay")
REPLAY_INTERRUPTED = Close(1013, "realtime replay interrupted; reconnect with after_cursor")
VERIFICATION_UNAVAILABLE = Close(1013, "credential verification unavailable; retry")
SESSION_REVOKED = Close(1008, "session revoked; sign in again")
BOT_TOKEN_REVOKED = Close(1008, "bot token revoked; reconnect with a valid token")
ACCESS_REVOKED = Close(1008, "workspace access revoked")
CLIENT_DATA = Close(1008, "realtime sockets are server-to-client only")
SHUTTING_DOWN = Close(1001, "server shutting down")
