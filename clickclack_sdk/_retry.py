"""When and how long to wait before trying a request (or a realtime connection) again.

A small explicit policy object rather than a retry library: the loop lives in the client,
sleeps with ``trio.sleep`` (so the caller's cancel scope bounds the whole thing), and the
policy only answers "retry this?" and "after how long?".
"""

from __future__ import annotations

import random

import attrs

from clickclack_sdk._errors import ClickClackError, NetworkError, RateLimited, ServerUnavailable


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Jittered exponential backoff.

    Attempt ``n`` (1-based, counting failures) waits a random time in
    ``[0, min(max_delay, base_delay * multiplier ** (n - 1))]`` ("full jitter", so many clients
    failing together do not come back together). A ``Retry-After`` from the server replaces
    the computed delay (capped at ``max_retry_after``). ``max_attempts`` counts every try,
    the first included; ``None`` means no limit (the realtime reconnect default).
    """

    max_attempts: int | None = 4
    base_delay: float = 0.25
    multiplier: float = 2.0
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = frozenset({429, 503})

    def allows(self, attempt: int) -> bool:
        """Whether another try may follow try number ``attempt`` (1-based)."""
        return self.max_attempts is None or attempt < self.max_attempts

    def is_retryable(self, error: ClickClackError) -> bool:
        """Transient failures: no response at all, or a status in ``retry_statuses``."""
        if isinstance(error, NetworkError):
            return True
        return error.status is not None and error.status in self.retry_statuses

    def delay(self, attempt: int, error: ClickClackError | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if isinstance(error, RateLimited | ServerUnavailable) and error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * self.multiplier ** max(0, attempt - 1))
        return random.uniform(0.0, ceiling)


NO_RETRY = RetryPolicy(max_attempts=1)
"""A policy that never retries (every failure is raised at once)."""
