"""Message search (protocol 3.10) against a real server: matching, privacy, paging, snippets."""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from clickclack_server.auth import Actor
from clickclack_server.config import Config
from clickclack_server.db import Tx
from clickclack_server.runner import Running, run_server
from clickclack_server.store import messages as message_store
from clickclack_server.store import search as search_store
from clickclack_server.store import sessions as session_store
from clickclack_server.store import users as user_store
from tests.conftest import Caller, World

HIT_KEYS = {
    "id",
    "workspace_id",
    "author",
    "thread_root_id",
    "created_at",
    "reply_count",
    "snippet",
    "highlights",
}
OPTIONAL_HIT_KEYS = {
    "channel_id",
    "channel_name",
    "direct_conversation_id",
    "parent_message_id",
    "channel_seq",
    "thread_seq",
    "edited_at",
    "last_reply_at",
}


# Helpers.


async def post(caller: Caller, channel_id: str, body: str, **extra: Any) -> dict[str, Any]:
    response = await caller.post(
        f"/api/channels/{channel_id}/messages", json={"body": body, **extra}
    )
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()["message"]
    return message


async def reply(caller: Caller, root_id: str, body: str) -> dict[str, Any]:
    response = await caller.post(f"/api/messages/{root_id}/thread/replies", json={"body": body})
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()["message"]
    return message


async def search(caller: Caller, workspace_id: str, q: str, **params: Any) -> httpx.Response:
    return await caller.get("/api/search", params={"workspace_id": workspace_id, "q": q, **params})


async def hits(caller: Caller, workspace_id: str, q: str, **params: Any) -> list[dict[str, Any]]:
    response = await search(caller, workspace_id, q, **params)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def hit_ids(caller: Caller, workspace_id: str, q: str, **params: Any) -> list[str]:
    return [hit["id"] for hit in await hits(caller, workspace_id, q, **params)]


async def all_pages(
    caller: Caller, workspace_id: str, q: str, limit: int, **params: Any
) -> list[list[str]]:
    """Follow ``next_cursor`` to the end; one list of ids per page."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        extra = dict(params, limit=limit)
        if cursor is not None:
            extra["cursor"] = cursor
        response = await search(caller, workspace_id, q, **extra)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([hit["id"] for hit in body["results"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 200, "paging does not terminate"


async def channel(world: World, name: str, workspace_id: str | None = None) -> str:
    response = await world.owner.post(
        f"/api/workspaces/{workspace_id or world.workspace_id}/channels", json={"name": name}
    )
    assert response.status_code == 201, response.text
    channel_id: str = response.json()["channel"]["id"]
    return channel_id


async def conversation(caller: Caller, workspace_id: str, *members: str) -> str:
    response = await caller.post(
        "/api/dms", json={"workspace_id": workspace_id, "member_ids": list(members)}
    )
    assert response.status_code == 201, response.text
    conversation_id: str = response.json()["conversation"]["id"]
    return conversation_id


async def post_dm(caller: Caller, conversation_id: str, body: str) -> dict[str, Any]:
    response = await caller.post(f"/api/dms/{conversation_id}/messages", json={"body": body})
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()["message"]
    return message


def create_roots(tx: Tx, user_id: str, channel_id: str, bodies: list[str]) -> list[str]:
    """Post ``bodies`` as ``user_id`` through the store (fast path, one transaction)."""
    actor = Actor(user_id=user_id, kind="human", via="session")
    return [
        message_store.create_root(
            tx, actor, message_store.Draft(body=body), channel_id=channel_id
        ).message.id
        for body in bodies
    ]


async def bulk_post(world: World, channel_id: str, bodies: list[str]) -> list[str]:
    created: list[str] = await world.db.write(create_roots, world.owner.user_id, channel_id, bodies)
    return created


@asynccontextmanager
async def sandbox(bodies: list[str]) -> AsyncIterator[tuple[Caller, str, list[str]]]:
    """A throw-away server with ``bodies`` posted to ``#general``: its owner, workspace and
    message ids. (Hypothesis runs each example in its own Trio run, outside the fixtures.)"""
    with tempfile.TemporaryDirectory() as tmp:
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(run_server, Config(addr="127.0.0.1:0", data=tmp))
            try:
                db = running.server.db
                boot = await db.write(user_store.bootstrap, name="Owner", email="o@example.com")
                session = await db.write(session_store.create_session, boot.user_id)
                posted = await db.write(create_roots, boot.user_id, boot.channel_id, bodies)
                async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
                    yield Caller(http, boot.user_id, session.token), boot.workspace_id, posted
            finally:
                nursery.cancel_scope.cancel()


async def fts_integrity_check(world: World) -> None:
    """FTS5 compares the index with its content view; raises if they disagree."""

    def check(tx: Tx) -> None:
        tx.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")

    await world.db.write(check)


def assert_error(response: httpx.Response, status: int, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    if message is not None:
        assert response.json() == {"error": message}


# Matching.


async def test_all_terms_must_match_and_porter_stemming(world: World) -> None:
    both = await post(world.owner, world.channel_id, "Deploy the release to staging")
    await post(world.owner, world.channel_id, "deploy failed again")
    await post(world.owner, world.channel_id, "release notes are ready")
    run = await post(world.owner, world.channel_id, "I run every morning")
    runs = await post(world.owner, world.channel_id, "she runs the standup")
    running = await post(world.owner, world.channel_id, "running late, sorry")
    await post(world.owner, world.channel_id, "the runner-up prize")

    assert await hit_ids(world.owner, world.workspace_id, "deploy release") == [both["id"]]
    assert await hit_ids(world.owner, world.workspace_id, "  RELEASE\tdeploy  ") == [both["id"]]
    assert await hit_ids(world.owner, world.workspace_id, "deploy release nope") == []
    stemmed = await hit_ids(world.owner, world.workspace_id, "running", sort="newest")
    assert stemmed == [running["id"], runs["id"], run["id"]]
    assert set(await hit_ids(world.owner, world.workspace_id, "run")) == set(stemmed)


async def test_diacritics_and_case_fold(world: World) -> None:
    message = await post(world.owner, world.channel_id, "Rendez-vous au Café Zürich")
    assert await hit_ids(world.owner, world.workspace_id, "cafe zurich") == [message["id"]]
    assert await hit_ids(world.owner, world.workspace_id, "CAFÉ") == [message["id"]]


async def test_operators_and_quotes_are_literal_text(world: World) -> None:
    cat_or_dog = await post(world.owner, world.channel_id, "cat or dog, your choice")
    cat_and_dog = await post(world.owner, world.channel_id, "cat and dog live here")
    foo = await post(world.owner, world.channel_id, "foo is a placeholder")
    await post(world.owner, world.channel_id, "foobar is another one")
    near = await post(world.owner, world.channel_id, 'he said "NEAR(alpha beta)" twice')
    quote = await post(world.owner, world.channel_id, "it's the body: field")

    # OR/AND/NOT are words that must appear, not operators.
    assert await hit_ids(world.owner, world.workspace_id, "cat OR dog") == [cat_or_dog["id"]]
    assert await hit_ids(world.owner, world.workspace_id, "cat AND dog") == [cat_and_dog["id"]]
    assert await hit_ids(world.owner, world.workspace_id, "cat NOT dog") == []
    # No prefix queries, no initial-token anchors, no column filters.
    assert await hit_ids(world.owner, world.workspace_id, "foo*") == [foo["id"]]
    assert await hit_ids(world.owner, world.workspace_id, "^foo") == [foo["id"]]
    assert await hit_ids(world.owner, world.workspace_id, "body:field") == [quote["id"]]
    # Quotes, parentheses and NEAR are text too; an unbalanced quote is not an error.
    assert await hit_ids(world.owner, world.workspace_id, 'NEAR(alpha "beta)"') == [near["id"]]
    assert await hit_ids(world.owner, world.workspace_id, '"said') == [near["id"]]
    assert await hit_ids(world.owner, world.workspace_id, "it's") == [quote["id"]]
    for query in ['"', '""', "(", ")", "*", "-", "+", ":", "^", "NEAR", "{body}", "\x00", "a\x00b"]:
        response = await search(world.owner, world.workspace_id, query)
        assert response.status_code == 200, (query, response.text)
    # A term with no searchable characters does not restrict the others.
    assert await hit_ids(world.owner, world.workspace_id, "foobar !!!") != []


FUZZ_CORPUS = [
    'quoted "text" with (parens) and NEAR(a b)',
    "column:filter and prefix* and ^caret",
    "naïve café 🎉 résumé",
    "plain words only here",
]
QUERIES = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.lists(
    st.sampled_from(
        ['"', "'", "(", ")", "*", "^", ":", "-", "+", "NEAR", "AND", "OR", "NOT", "body", "a"]
    ),
    max_size=8,
).map(" ".join)


@settings(max_examples=6, deadline=None)
@given(queries=st.lists(QUERIES, min_size=1, max_size=30))
async def test_arbitrary_queries_never_fail(queries: list[str]) -> None:
    async with sandbox(FUZZ_CORPUS) as (owner, workspace_id, _):
        for q in queries:
            for sort in ("relevance", "newest"):
                response = await search(owner, workspace_id, q, sort=sort)
                assert response.status_code == 200, (q, response.text)
                for hit in response.json()["results"]:
                    for highlight in hit["highlights"]:
                        assert 0 <= highlight["start"] < highlight["end"] <= len(hit["snippet"])


async def test_blank_query_is_an_empty_page(world: World) -> None:
    await post(world.owner, world.channel_id, "something to find")
    for q in ("", "   ", "\t\n"):
        response = await search(world.owner, world.workspace_id, q)
        assert response.status_code == 200
        assert response.json() == {"results": [], "next_cursor": None}
    missing_q = await world.owner.get("/api/search", params={"workspace_id": world.workspace_id})
    assert missing_q.json() == {"results": [], "next_cursor": None}
    # Membership is still checked for a blank query.
    outsider = await world.user("Blank Outsider", role="")
    assert_error(await search(outsider, world.workspace_id, ""), 400)


async def test_query_length_limit_counts_code_points(world: World) -> None:
    message = await post(world.owner, world.channel_id, "ééé")
    ok = await search(world.owner, world.workspace_id, "é" * 500)
    assert ok.status_code == 200
    # Emoji are separators for the tokenizer: such a term restricts nothing.
    emoji_ok = await search(world.owner, world.workspace_id, "🎉" * 496 + " ééé")
    assert emoji_ok.status_code == 200
    assert [hit["id"] for hit in emoji_ok.json()["results"]] == [message["id"]]
    too_long = await search(world.owner, world.workspace_id, "é" * 501)
    assert_error(too_long, 400, "search query must be at most 500 characters")


# What is indexed.


async def test_edits_and_deletes_are_reflected(world: World) -> None:
    message = await post(world.owner, world.channel_id, "alpha bravo")
    assert await hit_ids(world.owner, world.workspace_id, "alpha") == [message["id"]]
    edited = await world.owner.patch(
        f"/api/messages/{message['id']}", json={"body": "charlie delta"}
    )
    assert edited.status_code == 200
    assert await hit_ids(world.owner, world.workspace_id, "alpha") == []
    [hit] = await hits(world.owner, world.workspace_id, "charlie")
    assert hit["id"] == message["id"]
    assert hit["edited_at"] == edited.json()["message"]["edited_at"]
    assert hit["snippet"] == "charlie delta"

    root = await post(world.owner, world.channel_id, "thread root echo")
    answer = await reply(world.owner, root["id"], "echo reply")
    assert set(await hit_ids(world.owner, world.workspace_id, "echo")) == {root["id"], answer["id"]}
    for target in (message, answer):
        deleted = await world.owner.delete(f"/api/messages/{target['id']}")
        assert deleted.status_code == 200
    assert await hit_ids(world.owner, world.workspace_id, "charlie") == []
    assert await hit_ids(world.owner, world.workspace_id, "echo") == [root["id"]]
    # Deleting again changes nothing; the index still agrees with the messages table.
    again = await world.owner.delete(f"/api/messages/{answer['id']}")
    assert again.status_code == 200
    await fts_integrity_check(world)


async def test_agent_activity_is_not_indexed(world: World) -> None:
    agent = await world.bot(["bot:write", "agent_activity:write"])
    plain = await post(agent, world.channel_id, "zebra crossing ahead")
    for kind in ("agent_commentary", "agent_tool"):
        activity = await post(agent, world.channel_id, f"zebra {kind} thinking", kind=kind)
        assert activity["kind"] == kind
    assert await hit_ids(world.owner, world.workspace_id, "zebra") == [plain["id"]]
    assert await hit_ids(agent, world.workspace_id, "thinking") == []
    await fts_integrity_check(world)


async def test_workspace_deletion_cleans_the_index(world: World) -> None:
    space = await world.workspace("Doomed")
    general = await channel(world, "talk", workspace_id=space)
    await post(world.owner, general, "ephemeral words")
    assert len(await hit_ids(world.owner, space, "ephemeral")) == 1
    deleted = await world.owner.delete(f"/api/workspaces/{space}")
    assert deleted.status_code == 204

    def indexed(tx: Tx) -> int:
        return int(
            tx.scalar("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'ephemeral'")
        )

    assert await world.db.read(indexed) == 0
    await fts_integrity_check(world)


# Hits.


async def test_hit_shape_for_roots_and_replies(world: World) -> None:
    member = await world.user("Hit Author")
    root = await post(member, world.channel_id, "planning meeting at noon")
    first = await reply(world.owner, root["id"], "meeting notes attached")
    second = await reply(member, root["id"], "another meeting later")
    results = {hit["id"]: hit for hit in await hits(world.owner, world.workspace_id, "meeting")}
    assert set(results) == {root["id"], first["id"], second["id"]}
    for hit in results.values():
        assert HIT_KEYS <= set(hit) <= HIT_KEYS | OPTIONAL_HIT_KEYS
        assert "body" not in hit and "rank" not in hit and "score" not in hit
        assert hit["workspace_id"] == world.workspace_id
        assert hit["channel_id"] == world.channel_id
        assert hit["channel_name"] == "general"
        assert hit["thread_root_id"] == root["id"]
        assert hit["reply_count"] == 2
        assert hit["last_reply_at"] == second["created_at"]
        assert "direct_conversation_id" not in hit
    root_hit = results[root["id"]]
    assert root_hit["channel_seq"] == root["channel_seq"]
    assert "parent_message_id" not in root_hit and "thread_seq" not in root_hit
    assert root_hit["created_at"] == root["created_at"]
    assert root_hit["author"]["id"] == member.user_id
    assert root_hit["author"]["display_name"] == "Hit Author"
    assert set(root_hit["author"]) >= {"id", "kind", "display_name", "handle", "avatar_url"}
    reply_hit = results[first["id"]]
    assert reply_hit["parent_message_id"] == root["id"]
    assert reply_hit["thread_seq"] == 1
    assert "channel_seq" not in reply_hit
    assert reply_hit["author"]["id"] == world.owner.user_id
    assert "edited_at" not in reply_hit


async def test_highlights_are_code_point_offsets(world: World) -> None:
    body = "🎉🎉 naïve — 𝄞 notes: the résumé is here, résumé again"
    message = await post(world.owner, world.channel_id, body)
    [hit] = await hits(world.owner, world.workspace_id, "resume naive")
    assert hit["id"] == message["id"]
    assert hit["snippet"] == body
    marked = [hit["snippet"][h["start"] : h["end"]] for h in hit["highlights"]]
    assert marked == ["naïve", "résumé", "résumé"]
    # Code points, not UTF-16 units or bytes: "naïve" starts after two emoji and a space.
    assert hit["highlights"][0] == {"start": 3, "end": 8}


async def test_long_bodies_give_bounded_snippets(world: World) -> None:
    before = " ".join(f"word{i}" for i in range(60))
    after = " ".join(f"tail{i}" for i in range(60))
    body = f"{before}\n\n  needle   in the haystack\n{after}"
    await post(world.owner, world.channel_id, body)
    [hit] = await hits(world.owner, world.workspace_id, "needle haystack")
    snippet = hit["snippet"]
    assert len(snippet) <= search_store.SNIPPET_CHARS
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "\n" not in snippet and "  " not in snippet
    assert [snippet[h["start"] : h["end"]] for h in hit["highlights"]] == ["needle", "haystack"]
    assert " needle in the haystack " in snippet

    # A match near the end uses the whole budget and ends without an ellipsis.
    tail_body = before + " closing remark"
    await post(world.owner, world.channel_id, tail_body)
    [tail] = await hits(world.owner, world.workspace_id, "closing")
    assert tail["snippet"].startswith("…") and tail["snippet"].endswith("closing remark")
    assert len(tail["snippet"]) <= search_store.SNIPPET_CHARS
    [mark] = tail["highlights"]
    assert tail["snippet"][mark["start"] : mark["end"]] == "closing"

    # A single huge word is cut mid-word rather than dropped.
    giant = "x" * 300 + " beacon " + "y" * 300
    await post(world.owner, world.channel_id, giant)
    [huge] = await hits(world.owner, world.workspace_id, "beacon")
    assert len(huge["snippet"]) == search_store.SNIPPET_CHARS
    [beacon] = huge["highlights"]
    assert huge["snippet"][beacon["start"] : beacon["end"]] == "beacon"


async def test_marker_characters_in_bodies_do_not_confuse_highlights(world: World) -> None:
    body = f"odd {search_store.OPEN_MARK}chars{search_store.CLOSE_MARK} around the lantern"
    await post(world.owner, world.channel_id, body)
    [hit] = await hits(world.owner, world.workspace_id, "lantern")
    assert hit["snippet"] == body
    [mark] = hit["highlights"]
    assert hit["snippet"][mark["start"] : mark["end"]] == "lantern"


@given(
    words=st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("C", "Z"), blacklist_characters="…"),
            min_size=1,
            max_size=30,
        ),
        min_size=1,
        max_size=80,
    ),
    separators=st.lists(st.sampled_from([" ", "  ", "\n", "\t \n"]), min_size=80, max_size=80),
    picks=st.lists(st.integers(min_value=0, max_value=79), max_size=5),
)
def test_snippet_property(words: list[str], separators: list[str], picks: list[int]) -> None:
    """Any body and word-aligned ranges: bounded snippet, each highlight covers its word."""
    body = ""
    spans: list[tuple[int, int]] = []
    for index, word in enumerate(words):
        if index:
            body += separators[index]
        spans.append((len(body), len(body) + len(word)))
        body += word
    ranges = sorted({spans[pick] for pick in picks if pick < len(spans)})
    snippet, highlights = search_store.make_snippet(body, ranges)
    assert len(snippet) <= search_store.SNIPPET_CHARS
    assert snippet.strip() == snippet
    for highlight in highlights:
        covered = snippet[highlight.start : highlight.end]
        assert covered and "…" not in covered
        assert any(covered in body[start:end] for start, end in ranges)
    if ranges:
        first_word = body[ranges[0][0] : ranges[0][1]]
        if len(first_word) < search_store.SNIPPET_CHARS // 2:
            assert highlights and snippet[highlights[0].start : highlights[0].end] == first_word


# Scopes and privacy.


async def test_channel_scope_and_workspace_scope(world: World) -> None:
    random = await channel(world, "random")
    in_general = await post(world.owner, world.channel_id, "scoped kiwi")
    in_random = await post(world.owner, random, "scoped kiwi too")
    everywhere = await hit_ids(world.owner, world.workspace_id, "kiwi", sort="newest")
    assert everywhere == [in_random["id"], in_general["id"]]
    assert await hit_ids(world.owner, world.workspace_id, "kiwi", channel_id=random) == [
        in_random["id"]
    ]
    [hit] = await hits(world.owner, world.workspace_id, "kiwi", channel_id=random)
    assert hit["channel_name"] == "random"
    # A channel of another workspace is not found in this one.
    space = await world.workspace("Elsewhere")
    foreign = await channel(world, "foreign", workspace_id=space)
    await post(world.owner, foreign, "scoped kiwi abroad")
    assert_error(
        await search(world.owner, world.workspace_id, "kiwi", channel_id=foreign),
        400,
        "sql: no rows in result set",
    )
    assert len(await hit_ids(world.owner, space, "kiwi")) == 1
    assert_error(await search(world.owner, world.workspace_id, "kiwi", channel_id="chn_nope"), 400)


async def test_dm_scope_is_private_to_members(world: World) -> None:
    alice = await world.user("Alice Dm")
    bob = await world.user("Bob Dm")
    dm = await conversation(alice, world.workspace_id, world.owner.user_id)
    secret = await post_dm(alice, dm, "secret mango plans")
    public = await post(world.owner, world.channel_id, "public mango plans")

    # Workspace-wide search never includes DMs, not even for members.
    assert await hit_ids(alice, world.workspace_id, "mango") == [public["id"]]
    [hit] = await hits(alice, world.workspace_id, "mango", direct_conversation_id=dm)
    assert hit["id"] == secret["id"]
    assert hit["direct_conversation_id"] == dm
    assert "channel_id" not in hit and "channel_name" not in hit
    assert await hit_ids(world.owner, world.workspace_id, "secret", direct_conversation_id=dm) == [
        secret["id"]
    ]
    # Non-members of the conversation learn nothing.
    assert_error(
        await search(bob, world.workspace_id, "mango", direct_conversation_id=dm),
        400,
        "sql: no rows in result set",
    )
    assert_error(
        await search(bob, world.workspace_id, "", direct_conversation_id=dm),
        400,
        "sql: no rows in result set",
    )
    assert_error(
        await search(
            alice,
            world.workspace_id,
            "mango",
            direct_conversation_id=dm,
            channel_id=world.channel_id,
        ),
        400,
        "channel_id and direct_conversation_id are mutually exclusive",
    )
    # A conversation of another workspace is not found in this one.
    space = await world.workspace("Dm Elsewhere")
    assert_error(await search(world.owner, space, "mango", direct_conversation_id=dm), 400)


async def test_guests_only_search_the_guest_channel(world: World) -> None:
    def make_guest_channel(tx: Tx) -> str:
        return user_store.insert_channel(tx, workspace_id=world.workspace_id, name="guest")

    guest_channel = await world.db.write(make_guest_channel)
    guest = await world.user("Guest Person", role="guest")
    assert await hit_ids(guest, world.workspace_id, "launch") == []
    await post(world.owner, world.channel_id, "launch plan internal")
    welcome = await post(world.owner, guest_channel, "launch welcome for guests")
    assert await hit_ids(guest, world.workspace_id, "launch") == [welcome["id"]]
    assert await hit_ids(guest, world.workspace_id, "launch", channel_id=guest_channel) == [
        welcome["id"]
    ]
    assert_error(
        await search(guest, world.workspace_id, "launch", channel_id=world.channel_id),
        400,
        "sql: no rows in result set",
    )
    alice = await world.user("Alice Guestless")
    dm = await conversation(alice, world.workspace_id, world.owner.user_id)
    assert_error(await search(guest, world.workspace_id, "launch", direct_conversation_id=dm), 400)
    # Members see both.
    assert len(await hit_ids(world.owner, world.workspace_id, "launch")) == 2


async def test_guest_without_guest_channel_sees_nothing(world: World) -> None:
    guest = await world.user("Lonely Guest", role="guest")
    await post(world.owner, world.channel_id, "hidden orchard")
    response = await search(guest, world.workspace_id, "orchard")
    assert response.status_code == 200
    assert response.json() == {"results": [], "next_cursor": None}


async def test_membership_and_required_parameters(world: World) -> None:
    outsider = await world.user("Search Outsider", role="")
    assert_error(
        await search(outsider, world.workspace_id, "x"), 400, "not a member of this workspace"
    )
    assert_error(
        await search(world.owner, "wsp_00000000000000000000000000", "x"),
        400,
        "sql: no rows in result set",
    )
    missing = await world.owner.get("/api/search", params={"q": "x"})
    assert_error(missing, 400, "workspace_id is required")
    assert_error(
        await world.anon().get("/api/search", params={"workspace_id": world.workspace_id}), 401
    )
    post_method = await world.owner.post("/api/search", json={})
    assert post_method.status_code == 405


async def test_sort_and_limit_validation(world: World) -> None:
    for sort in ("bogus", "RELEVANCE", "oldest", "rank"):
        assert_error(
            await search(world.owner, world.workspace_id, "x", sort=sort),
            400,
            "sort must be relevance or newest",
        )
    for limit in ("abc", "0", "-1", "1.5", "1e3", "-" + "9" * 40):
        assert_error(
            await search(world.owner, world.workspace_id, "x", limit=limit),
            400,
            "limit must be a positive integer",
        )
    huge = await search(world.owner, world.workspace_id, "x", limit="9" * 40)
    assert huge.status_code == 200  # clamped to 100
    for sort in ("relevance", "newest", ""):
        assert (await search(world.owner, world.workspace_id, "x", sort=sort)).status_code == 200
    assert (await search(world.owner, world.workspace_id, "", sort="bogus")).status_code == 400


async def test_limit_default_and_clamp(world: World) -> None:
    ids_ = await bulk_post(world, world.channel_id, [f"bulk item number {i}" for i in range(105)])
    default = await search(world.owner, world.workspace_id, "bulk")
    assert len(default.json()["results"]) == 50
    assert default.json()["next_cursor"] is not None
    clamped = await search(world.owner, world.workspace_id, "bulk", limit=1000, sort="newest")
    body = clamped.json()
    assert [hit["id"] for hit in body["results"]] == ids_[::-1][:100]
    rest = await search(
        world.owner,
        world.workspace_id,
        "bulk",
        limit=1000,
        sort="newest",
        cursor=body["next_cursor"],
    )
    assert [hit["id"] for hit in rest.json()["results"]] == ids_[::-1][100:]
    assert rest.json()["next_cursor"] is None


# Paging.


async def test_newest_paging_is_complete_and_stable(world: World) -> None:
    ids_ = await bulk_post(world, world.channel_id, [f"page topic {i}" for i in range(23)])
    await bulk_post(world, world.channel_id, ["unrelated filler"] * 5)
    pages = await all_pages(world.owner, world.workspace_id, "topic", 5, sort="newest")
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert [hit for page in pages for hit in page] == ids_[::-1]

    # Messages posted (or deleted) while paging neither shift nor repeat later pages.
    first = await search(world.owner, world.workspace_id, "topic", sort="newest", limit=5)
    cursor = first.json()["next_cursor"]
    await post(world.owner, world.channel_id, "late page topic")
    gone = ids_[-7]
    assert (await world.owner.delete(f"/api/messages/{gone}")).status_code == 200
    second = await search(
        world.owner, world.workspace_id, "topic", sort="newest", limit=5, cursor=cursor
    )
    expected = [hit for hit in ids_[::-1][5:11] if hit != gone]
    assert [hit["id"] for hit in second.json()["results"]] == expected


async def test_relevance_paging_is_complete_and_stable(world: World) -> None:
    # Six-word bodies with 1-4 repetitions of the term: relevance is by repetitions, then newest.
    bodies = [" ".join(["orbit"] * (i % 4 + 1) + ["pad"] * (5 - i % 4)) for i in range(31)]
    ids_ = await bulk_post(world, world.channel_id, bodies)
    await bulk_post(world, world.channel_id, [f"noise {i}" for i in range(10)])
    whole = await hit_ids(world.owner, world.workspace_id, "orbit", limit=100)
    expected = sorted(ids_, key=lambda i: (-bodies[ids_.index(i)].count("orbit"), -ids_.index(i)))
    assert whole == expected
    for limit in (1, 4, 7, 30, 31):
        pages = await all_pages(world.owner, world.workspace_id, "orbit", limit)
        assert [hit for page in pages for hit in page] == whole, limit
        assert all(len(page) == limit for page in pages[:-1])

    # Posting matching messages changes every score (row counts, average length); later pages
    # still continue exactly where the first one stopped and leave the new messages out.
    first = await search(world.owner, world.workspace_id, "orbit", limit=10)
    cursor = first.json()["next_cursor"]
    await bulk_post(world, world.channel_id, ["orbit " * 9 + "orbit", "orbit"] * 4)
    second = await search(world.owner, world.workspace_id, "orbit", limit=100, cursor=cursor)
    assert second.json()["next_cursor"] is None
    seen = [hit["id"] for hit in first.json()["results"] + second.json()["results"]]
    assert seen == whole


@settings(max_examples=5, deadline=None)
@given(
    windows=st.lists(
        st.tuples(st.integers(min_value=1, max_value=15), st.sampled_from(["relevance", "newest"])),
        min_size=1,
        max_size=6,
    )
)
async def test_paging_windows_partition_the_results(windows: list[tuple[int, str]]) -> None:
    bodies = [("lattice " * (i % 3 + 1)) + f"n{i}" for i in range(26)]
    async with sandbox(bodies) as (owner, workspace_id, ids_):
        for limit, sort in windows:
            whole = await hit_ids(owner, workspace_id, "lattice", limit=100, sort=sort)
            assert sorted(whole) == sorted(ids_)
            pages = await all_pages(owner, workspace_id, "lattice", limit, sort=sort)
            assert [hit for page in pages for hit in page] == whole
            assert all(len(page) == limit for page in pages[:-1])


async def test_cursor_misuse_is_refused(world: World) -> None:
    await bulk_post(world, world.channel_id, [f"cursor probe {i}" for i in range(6)])
    random = await channel(world, "probes")
    member = await world.user("Cursor Member")
    first = await search(world.owner, world.workspace_id, "probe", limit=2)
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    mismatch = "cursor does not belong to this search"

    same = await search(world.owner, world.workspace_id, "probe", limit=3, cursor=cursor)
    assert same.status_code == 200  # the page size may change between pages
    assert_error(
        await search(member, world.workspace_id, "probe", limit=2, cursor=cursor), 400, mismatch
    )
    assert_error(
        await search(world.owner, world.workspace_id, "probes", cursor=cursor), 400, mismatch
    )
    assert_error(
        await search(world.owner, world.workspace_id, "probe", sort="newest", cursor=cursor),
        400,
        mismatch,
    )
    assert_error(
        await search(world.owner, world.workspace_id, "probe", channel_id=random, cursor=cursor),
        400,
        mismatch,
    )
    assert_error(await search(world.owner, world.workspace_id, "", cursor=cursor), 400, mismatch)
    space = await world.workspace("Cursor Space")
    assert_error(await search(world.owner, space, "probe", cursor=cursor), 400, mismatch)

    def token(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    bad_cursors = [
        "not a cursor!",
        "%%%",
        "e30",  # {}
        token([1, 2]),
        token({**raw, "p": "7"}),
        token({**raw, "m": None}),
        token({**raw, "r": "NaN"}),
        token({**raw, "p": True}),
        token({**raw, "p": 10**30}),
        token({**raw, "m": -1}),
        token({**raw, "r": 1e999}),
        token({**raw, "b": 7}),
        "[" * 400,
        base64.urlsafe_b64encode(b"[" * 300).decode(),
        "A" * 600,
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ]
    for bad in bad_cursors:
        response = await search(world.owner, world.workspace_id, "probe", limit=2, cursor=bad)
        assert response.status_code == 400, (bad, response.text)
    # An empty cursor parameter is the same as none.
    fresh = await search(world.owner, world.workspace_id, "probe", limit=2, cursor="")
    assert fresh.json()["results"] == first.json()["results"]


# Bot tokens.


async def test_bot_scopes_and_workspace(world: World) -> None:
    reader = await world.bot(["messages:read"])
    no_read = await world.bot(["channels:read", "dms:read"])
    dm_reader = await world.bot(["messages:read", "dms:read"])
    message = await post(world.owner, world.channel_id, "robots welcome here")
    assert await hit_ids(reader, world.workspace_id, "robots") == [message["id"]]
    assert_error(
        await search(no_read, world.workspace_id, "robots"),
        403,
        "bot token is missing scope messages:read",
    )
    assert_error(
        await search(no_read, world.workspace_id, ""),
        403,
        "bot token is missing scope messages:read",
    )

    dm = await conversation(world.owner, world.workspace_id, reader.user_id, dm_reader.user_id)
    secret = await post_dm(world.owner, dm, "robots only secret")
    assert_error(
        await search(reader, world.workspace_id, "robots", direct_conversation_id=dm),
        403,
        "bot token is missing scope dms:read",
    )
    assert await hit_ids(dm_reader, world.workspace_id, "secret", direct_conversation_id=dm) == [
        secret["id"]
    ]
    assert await hit_ids(dm_reader, world.workspace_id, "secret") == []

    space = await world.workspace("Bot Elsewhere")
    assert_error(
        await search(reader, space, "robots"), 403, "bot token cannot access this workspace"
    )
    foreign_bot = await world.bot(["bot:read"], workspace_id=space)
    assert_error(
        await search(foreign_bot, world.workspace_id, "robots"),
        403,
        "bot token cannot access this workspace",
    )
    assert await hit_ids(foreign_bot, space, "robots") == []


async def test_migration_indexes_existing_messages(world: World) -> None:
    """Applying 0002 to a database that already holds messages indexes exactly the searchable
    ones (FTS5 'rebuild' reads the content view)."""
    agent = await world.bot(["bot:write", "agent_activity:write"])

    def unindex(tx: Tx) -> None:
        for trigger in ("insert", "delete", "update"):
            tx.execute(f"DROP TRIGGER messages_search_{trigger}")
        tx.execute("DROP TABLE messages_fts")
        tx.execute("DROP VIEW message_search_source")
        tx.execute("DELETE FROM schema_migrations WHERE name = '0002_search.sql'")

    await world.db.write(unindex)
    kept = await post(world.owner, world.channel_id, "legacy walrus")
    await post(agent, world.channel_id, "legacy walrus thought", kind="agent_commentary")
    gone = await post(world.owner, world.channel_id, "legacy walrus deleted")
    assert (await world.owner.delete(f"/api/messages/{gone['id']}")).status_code == 200
    answer = await reply(world.owner, kept["id"], "legacy walrus reply")

    applied = await trio.to_thread.run_sync(world.db.migrate)
    assert applied == ["0002_search.sql"]
    found = await hit_ids(world.owner, world.workspace_id, "walrus", sort="newest")
    assert found == [answer["id"], kept["id"]]
    await fts_integrity_check(world)
