"""Message search over the FTS5 index of migration 0002 (protocol 3.10).

Queries are whitespace-separated terms that must all match; every term is passed to FTS5 as a
quoted string, so operators, quotes, parentheses, ``*``, ``^`` and column filters are plain text.
Pages are keyset-paged behind an opaque cursor that is bound to the caller and the search it came
from, and carries a snapshot bound so messages posted after the first page never shift later pages.
Snippets and highlights come from FTS5 ``highlight()``, so they agree with what matched (stemming,
diacritics) and are measured in code points.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import sqlite3
from collections.abc import Sequence
from typing import TypeGuard

import attrs

from clickclack_sdk import HighlightRange, SearchHit, SearchPage
from clickclack_server import ids
from clickclack_server.db import Tx
from clickclack_server.errors import Invalid, NotFound
from clickclack_server.store.access import (
    GUEST_CHANNEL,
    require_member,
    visible_channel,
    visible_conversation,
)
from clickclack_server.store.rows import users_by_id

SORTS = frozenset({"relevance", "newest"})
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_QUERY_CHARS = 500
SNIPPET_CHARS = 200
SNIPPET_LEAD = 50
# How far a cut may move to land on a word boundary instead of inside a word.
SNIPPET_SNAP = 20
ELLIPSIS = "\u2026"
# Highlight markers: Unicode noncharacters, which real text practically never holds. A body that
# does contain one is highlighted again with markers chosen from characters it lacks.
OPEN_MARK = "\ufdd0"
CLOSE_MARK = "\ufdd1"

MAX_CURSOR_CHARS = 512
INVALID_CURSOR = "invalid cursor"
CURSOR_MISMATCH = "cursor does not belong to this search"


@attrs.frozen(kw_only=True)
class SearchRequest:
    """A search as asked for: where, what, in which order, how many, and from where on."""

    workspace_id: str
    query: str
    channel_id: str | None = None
    direct_conversation_id: str | None = None
    sort: str = "relevance"
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


@attrs.frozen(kw_only=True)
class _Position:
    """Where a page ends: the snapshot bound, the last row, and its score (relevance only)."""

    snapshot: int
    pk: int
    score: float | None


# Query text.


def query_terms(query: str) -> list[str]:
    """Whitespace-separated terms, NUL (which ends an FTS5 string) read as whitespace."""
    return query.replace("\x00", " ").split()


def match_expression(terms: Sequence[str]) -> str:
    """Each term as a quoted FTS5 string (``"`` doubled); juxtaposed strings are an AND."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


# Cursors.


def _binding(user_id: str, request: SearchRequest, scope: str, terms: Sequence[str]) -> str:
    material = json.dumps([user_id, request.workspace_id, scope, list(terms), request.sort])
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def encode_cursor(binding: str, position: _Position) -> str:
    data = {"b": binding, "m": position.snapshot, "p": position.pk, "r": position.score}
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, binding: str, sort: str) -> _Position:
    """The position inside ``token``; 400 when malformed or issued for another search."""
    if len(token) > MAX_CURSOR_CHARS:
        raise Invalid(INVALID_CURSOR)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise Invalid(INVALID_CURSOR) from None
    if not isinstance(data, dict) or not isinstance(data.get("b"), str):
        raise Invalid(INVALID_CURSOR)
    if data["b"] != binding:
        raise Invalid(CURSOR_MISMATCH)
    snapshot, pk, score = data.get("m"), data.get("p"), data.get("r")
    if not _is_rowid(snapshot) or not _is_rowid(pk):
        raise Invalid(INVALID_CURSOR)
    if sort == "relevance":
        if isinstance(score, int) and not isinstance(score, bool):
            score = float(score)
        if not isinstance(score, float) or not math.isfinite(score):
            raise Invalid(INVALID_CURSOR)
    else:
        score = None
    return _Position(snapshot=snapshot, pk=pk, score=score)


def _is_rowid(value: object) -> TypeGuard[int]:
    """A JSON integer SQLite can hold as a rowid (not a bool, not out of range)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 63


# Snippets.


def parse_highlighted(
    marked: str, open_mark: str, close_mark: str
) -> tuple[str, list[tuple[int, int]]]:
    """Split FTS5 ``highlight()`` output into the plain text and code-point ranges."""
    plain: list[str] = []
    ranges: list[tuple[int, int]] = []
    start: int | None = None
    for char in marked:
        if char == open_mark:
            start = len(plain)
        elif char == close_mark:
            if start is not None and len(plain) > start:
                ranges.append((start, len(plain)))
            start = None
        else:
            plain.append(char)
    return "".join(plain), ranges


def _collapse_whitespace(text: str) -> tuple[str, list[int]]:
    """Runs of whitespace become one space (ends trimmed); ``index[i]`` = new position of text[i]."""
    out: list[str] = []
    index: list[int] = []
    pending_space = False
    for char in text:
        if char.isspace():
            pending_space = bool(out)
            index.append(len(out))
            continue
        if pending_space:
            out.append(" ")
            pending_space = False
        index.append(len(out))
        out.append(char)
    return "".join(out), index


def make_snippet(
    body: str, ranges: Sequence[tuple[int, int]], limit: int = SNIPPET_CHARS
) -> tuple[str, list[HighlightRange]]:
    """At most ``limit`` code points of ``body`` around its first match, whitespace collapsed,
    ``…`` marking cut ends; the highlight ranges re-based onto the snippet."""
    text, index = _collapse_whitespace(body)
    mapped = [
        (index[start], index[end - 1] + 1) for start, end in ranges if 0 <= start < end <= len(body)
    ]
    total = len(text)
    start, end = 0, total
    if total > limit:
        anchor = mapped[0][0] if mapped else 0
        start = max(0, anchor - SNIPPET_LEAD)
        if start > 0:
            space = text.find(" ", start, min(anchor, start + SNIPPET_SNAP))
            if space != -1:
                start = space + 1
        end = start + limit - (1 if start > 0 else 0) - 1
        if end >= total - 1:
            # The rest fits: pull the start back to use the whole budget, then to a word start.
            end = total
            start = total - (limit - 1)
            space = text.find(" ", start, min(anchor, start + SNIPPET_SNAP))
            if space != -1:
                start = space + 1
        else:
            anchor_end = mapped[0][1] if mapped else start
            space = text.rfind(" ", max(anchor_end, end - SNIPPET_SNAP, start + 1), end + 1)
            if space != -1:
                end = space
    piece = text[start:end].rstrip()
    end = start + len(piece)
    prefix = ELLIPSIS if start > 0 else ""
    snippet = prefix + piece + (ELLIPSIS if end < total else "")
    highlights: list[HighlightRange] = []
    for range_start, range_end in mapped:
        clipped_start, clipped_end = max(range_start, start), min(range_end, end)
        if clipped_start < clipped_end:
            offset = len(prefix) - start
            highlights.append(
                HighlightRange(start=clipped_start + offset, end=clipped_end + offset)
            )
    return snippet, highlights


def _markers_absent_from(text: str) -> tuple[str, str]:
    """Two characters that do not occur in ``text`` (noncharacters first, then private use)."""
    present = set(text)
    candidates = (
        chr(code)
        for code in [*range(0xFDD0, 0xFDF0), *range(0xE000, 0xF900)]
        if chr(code) not in present
    )
    return next(candidates), next(candidates)


def _highlight_ranges(
    tx: Tx, match: str, bodies: dict[int, str]
) -> dict[int, list[tuple[int, int]]]:
    """Matched ranges (code points of the body) for each rowid, from FTS5 ``highlight()``."""
    if not bodies:
        return {}
    marks = ",".join("?" * len(bodies))
    rows = tx.all(
        f"SELECT rowid, highlight(messages_fts, 0, ?, ?) AS marked FROM messages_fts "
        f"WHERE messages_fts MATCH ? AND rowid IN ({marks})",
        [OPEN_MARK, CLOSE_MARK, match, *bodies],
    )
    found: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        pk, marked = row["rowid"], row["marked"] or ""
        body = bodies.get(pk, "")
        open_mark, close_mark = OPEN_MARK, CLOSE_MARK
        if open_mark in body or close_mark in body:
            open_mark, close_mark = _markers_absent_from(body)
            marked = (
                tx.scalar(
                    "SELECT highlight(messages_fts, 0, ?, ?) FROM messages_fts "
                    "WHERE messages_fts MATCH ? AND rowid = ?",
                    (open_mark, close_mark, match, pk),
                )
                or ""
            )
        plain, ranges = parse_highlighted(marked, open_mark, close_mark)
        found[pk] = ranges if plain == body else []
    return found


# The search itself.


def _scope(tx: Tx, user_id: str, request: SearchRequest) -> tuple[str, str, list[object]] | None:
    """(binding key, SQL condition on ``m``, parameters) for what the caller may search;
    ``None`` when the caller can see no channel at all (a guest without ``#guest``)."""
    role = require_member(tx, request.workspace_id, user_id)
    if request.channel_id is not None:
        row, _ = visible_channel(tx, request.channel_id, user_id)
        if row["workspace_id"] != request.workspace_id:
            raise NotFound()
        return f"channel:{row['id']}", "m.channel_id = ?", [row["id"]]
    if request.direct_conversation_id is not None:
        row, _ = visible_conversation(tx, request.direct_conversation_id, user_id)
        if row["workspace_id"] != request.workspace_id:
            raise NotFound()
        return f"dm:{row['id']}", "m.direct_conversation_id = ?", [row["id"]]
    if role == "guest":
        guest_channel = tx.scalar(
            "SELECT id FROM channels WHERE workspace_id = ? AND name = ?",
            (request.workspace_id, GUEST_CHANNEL),
        )
        if guest_channel is None:
            return None
        return "workspace", "m.channel_id = ?", [guest_channel]
    return (
        "workspace",
        "m.workspace_id = ? AND m.channel_id IS NOT NULL",
        [request.workspace_id],
    )


def _page_rows(
    tx: Tx,
    match: str,
    condition: str,
    params: list[object],
    sort: str,
    limit: int,
    after: _Position,
) -> list[sqlite3.Row]:
    """Up to ``limit`` (pk, score) rows after ``after``, FTS driving the join (CROSS JOIN keeps
    it the outer loop, so rowid order and bounds are answered by the index itself)."""
    base = (
        "FROM messages_fts CROSS JOIN messages m ON m.pk = messages_fts.rowid "
        f"WHERE messages_fts MATCH ? AND messages_fts.rowid <= ? AND {condition}"
    )
    args: list[object] = [match, after.snapshot, *params]
    if sort == "newest":
        return tx.all(
            f"SELECT m.pk, NULL AS score {base} AND messages_fts.rowid < ? "
            "ORDER BY messages_fts.rowid DESC LIMIT ?",
            [*args, after.pk, limit],
        )
    keyset = ""
    if after.score is not None:
        boundary = _current_score(tx, match, after)
        keyset = "AND (score > ? OR (score = ? AND m.pk < ?))"
        args += [boundary, boundary, after.pk]
    return tx.all(
        f"SELECT m.pk, bm25(messages_fts) AS score {base} {keyset} "
        "ORDER BY score, m.pk DESC LIMIT ?",
        [*args, limit],
    )


def _current_score(tx: Tx, match: str, after: _Position) -> float:
    """The previous page's last row scored against today's index.

    bm25 depends on corpus statistics (row count, average length, matching rows), which move as
    messages are posted, edited or deleted. Comparing rows with the boundary row's *current*
    score keeps pages disjoint and gap-free under such drift (a uniform rescaling of all scores
    changes nothing); the score saved in the cursor is only used once that row left the index.
    """
    score: float | None = tx.scalar(
        "SELECT bm25(messages_fts) FROM messages_fts WHERE messages_fts MATCH ? AND rowid = ?",
        (match, after.pk),
    )
    if score is None:
        assert after.score is not None
        return after.score
    return score


def _hits(tx: Tx, pks: Sequence[int], match: str) -> list[SearchHit]:
    """Wire hits for ``pks`` in that order, with authors, thread counts and snippets."""
    if not pks:
        return []
    marks = ",".join("?" * len(pks))
    rows = tx.all(
        "SELECT m.*, c.name AS channel_name, ts.reply_count AS root_reply_count, "
        "ts.last_reply_at AS root_last_reply_at FROM messages m "
        "LEFT JOIN channels c ON c.id = m.channel_id "
        "LEFT JOIN thread_state ts ON ts.root_message_id = m.thread_root_id "
        f"WHERE m.pk IN ({marks})",
        list(pks),
    )
    by_pk = {row["pk"]: row for row in rows}
    authors = users_by_id(tx, [row["author_id"] for row in rows])
    ranges = _highlight_ranges(tx, match, {row["pk"]: row["body"] for row in rows})
    hits: list[SearchHit] = []
    for pk in pks:
        row = by_pk.get(pk)
        author = authors.get(row["author_id"]) if row is not None else None
        if row is None or author is None:
            continue
        snippet, highlights = make_snippet(row["body"], ranges.get(pk, []))
        hits.append(
            SearchHit(
                id=row["id"],
                workspace_id=row["workspace_id"],
                channel_id=row["channel_id"],
                channel_name=row["channel_name"],
                direct_conversation_id=row["direct_conversation_id"],
                author=author,
                parent_message_id=row["parent_message_id"],
                thread_root_id=row["thread_root_id"],
                channel_seq=row["channel_seq"],
                thread_seq=row["thread_seq"],
                created_at=ids.wire_time(row["created_at"]),
                edited_at=ids.opt_wire_time(row["edited_at"]),
                reply_count=row["root_reply_count"] or 0,
                last_reply_at=ids.opt_wire_time(row["root_last_reply_at"]),
                snippet=snippet,
                highlights=highlights,
            )
        )
    return hits


def search(tx: Tx, user_id: str, request: SearchRequest) -> SearchPage:
    """One page of messages visible to ``user_id`` matching every term of the query."""
    if len(request.query) > MAX_QUERY_CHARS:
        raise Invalid(f"search query must be at most {MAX_QUERY_CHARS} characters")
    if request.sort not in SORTS:
        raise Invalid("sort must be relevance or newest")
    if request.limit <= 0:
        raise Invalid("limit must be a positive integer")
    limit = min(request.limit, MAX_LIMIT)
    scope = _scope(tx, user_id, request)
    terms = query_terms(request.query)
    binding = _binding(user_id, request, scope[0] if scope else "workspace", terms)
    after: _Position | None = None
    if request.cursor is not None:
        after = decode_cursor(request.cursor, binding, request.sort)
    if not terms or scope is None:
        return SearchPage(results=[], next_cursor=None)
    if after is None:
        snapshot = int(tx.scalar("SELECT coalesce(max(pk), 0) FROM messages"))
        after = _Position(snapshot=snapshot, pk=snapshot + 1, score=None)
    match = match_expression(terms)
    _, condition, params = scope
    rows = _page_rows(tx, match, condition, params, request.sort, limit + 1, after)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            binding,
            _Position(snapshot=after.snapshot, pk=last["pk"], score=last["score"]),
        )
    return SearchPage(
        results=_hits(tx, [row["pk"] for row in rows], match), next_cursor=next_cursor
    )
