"""Timeline window parameters shared by channel, DM and thread pages (protocol 3.1, 3.8)."""

from __future__ import annotations

import attrs
from starlette.datastructures import QueryParams

from clickclack_server.errors import Invalid
from clickclack_server.http import parse_int

DEFAULT_LIMIT = 100
MAX_LIMIT = 200
MAX_SEQ = 2**63 - 1  # SQLite's INTEGER range


@attrs.frozen(kw_only=True)
class Window:
    """Which slice of a sequence to return; at most one of after/before/around is set."""

    limit: int = DEFAULT_LIMIT
    after: int | None = None
    before: int | None = None
    around: int | None = None
    latest: bool = False


def _seq(params: QueryParams, name: str) -> int | None:
    if name not in params:
        return None
    raw = params[name].strip()
    if not raw:
        raise Invalid(f"{name} must not be empty")
    value = parse_int(raw, name)
    if value < 0:
        raise Invalid(f"{name} must not be negative")
    if value > MAX_SEQ:
        raise Invalid(f"{name} is out of range")
    return value


def _limit(params: QueryParams) -> int:
    raw = params.get("limit")
    if raw is None or not raw.strip():
        return DEFAULT_LIMIT
    value = parse_int(raw, "limit")
    return value if 0 < value <= MAX_LIMIT else DEFAULT_LIMIT


def _cursors(params: QueryParams) -> tuple[int | None, int | None, int | None]:
    after, before, around = (_seq(params, n) for n in ("after_seq", "before_seq", "around_seq"))
    if sum(value is not None for value in (after, before, around)) > 1:
        raise Invalid("after_seq, before_seq and around_seq are mutually exclusive")
    return after, before, around


def timeline_window(params: QueryParams) -> Window:
    """Channel/DM pages: cursors or ``mode=latest`` (the only mode); default latest."""
    after, before, around = _cursors(params)
    mode = params.get("mode")
    if mode is not None:
        if mode != "latest":
            raise Invalid("mode must be latest")
        if after is not None or before is not None or around is not None:
            raise Invalid("mode=latest cannot be combined with a cursor")
    latest = after is None and before is None and around is None
    return Window(limit=_limit(params), after=after, before=before, around=around, latest=latest)


def thread_window(params: QueryParams) -> Window:
    """Thread pages: cursors or ``latest=true``; default earliest replies; ``mode`` is refused."""
    if "mode" in params:
        raise Invalid("mode is not supported for threads; use latest=true")
    after, before, around = _cursors(params)
    raw_latest = params.get("latest")
    if raw_latest is not None and raw_latest not in ("true", "false"):
        raise Invalid("latest must be true or false")
    latest = raw_latest == "true"
    if latest and (after is not None or before is not None or around is not None):
        raise Invalid("latest cannot be combined with a cursor")
    if not latest and after is None and before is None and around is None:
        after = 0
    return Window(limit=_limit(params), after=after, before=before, around=around, latest=latest)
