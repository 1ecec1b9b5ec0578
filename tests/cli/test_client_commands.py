"""The client commands (login, whoami, status, lists, send, messages, threads, reactions)
run as the real console script against a real ``clickclack serve --dev-bootstrap`` subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.cli.conftest import CLI, DataDir, Ran, cli_env, run

LISTENING = re.compile(r"listening on (http://\S+)")


@attrs.define
class LiveServer:
    """A running server: its URL, data dir and the bootstrap ids."""

    url: str
    data: DataDir
    proc: subprocess.Popen[bytes]
    owner_id: str = ""
    workspace_id: str = ""
    channel_id: str = ""


@attrs.define
class Client:
    """Runs client commands with ``XDG_CONFIG_HOME``/``XDG_STATE_HOME`` in ``home``."""

    server: LiveServer
    home: Path
    extra_env: dict[str, str] = attrs.field(factory=dict)

    @property
    def config_file(self) -> Path:
        return self.home / "config" / "clickclack" / "config.json"

    def env(self, **extra: str) -> dict[str, str]:
        return cli_env(
            XDG_CONFIG_HOME=str(self.home / "config"),
            XDG_STATE_HOME=str(self.home / "state"),
            **{**self.extra_env, **extra},
        )

    def run(self, *args: str, stdin: str | None = None, **env: str) -> Ran:
        """``clickclack ARGS`` (no ``--server``: add it yourself or use :meth:`at`)."""
        if stdin is None:
            return run(*args, env=self.env(**env))
        done = subprocess.run(
            [*CLI, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(**env),
            timeout=120,
            check=False,
        )
        return Ran(tuple(args), done.returncode, done.stdout, done.stderr)

    def at(self, *args: str, stdin: str | None = None, **env: str) -> Ran:
        """``clickclack --server <url> ARGS``."""
        return self.run("--server", self.server.url, *args, stdin=stdin, **env)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """The stdout of a successful run against the server (nothing on stderr)."""
        ran = self.at(*args, stdin=stdin)
        assert ran.code == 0, f"{args}: exit {ran.code}: {ran.stderr}"
        assert ran.stderr == "", ran.stderr
        return ran.stdout


def start_live_server(tmp: Path) -> Iterator[LiveServer]:
    """Start ``clickclack serve --dev-bootstrap`` on a free port; stop it afterwards."""
    data = DataDir(tmp / "data")
    proc = subprocess.Popen(
        [*CLI, "serve", "--addr", "127.0.0.1:0", "--dev-bootstrap", *data.flags()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    assert proc.stderr is not None
    found = threading.Event()
    url: list[str] = []
    seen: list[str] = []

    def drain() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace")
            seen.append(line)
            match = LISTENING.search(line)
            if match and not found.is_set():
                url.append(match.group(1))
                found.set()
        found.set()

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    try:
        assert found.wait(60) and url, "server did not start:\n" + "".join(seen[-20:])
        server = LiveServer(url[0], data, proc)
        server.workspace_id = str(data.scalar("SELECT id FROM workspaces WHERE slug='clickclack'"))
        server.channel_id = str(
            data.scalar("SELECT id FROM channels WHERE name='general' AND workspace_id=?",
                        (server.workspace_id,))
        )  # fmt: skip
        server.owner_id = str(data.scalar("SELECT id FROM users ORDER BY created_at LIMIT 1"))
        yield server
    finally:
        proc.terminate()
        proc.wait(30)
        thread.join(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from start_live_server(tmp_path_factory.mktemp("client"))


@pytest.fixture
def cc(server: LiveServer, tmp_path: Path) -> Client:
    return Client(server, tmp_path / "home")


def lines(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


# Global flags and identity.


def test_global_flags_work_before_and_after_the_command(cc: Client, server: LiveServer) -> None:
    before = cc.run("--server", server.url, "--json", "whoami")
    after = cc.run("whoami", "--json", "--server", server.url)
    assert before.code == after.code == 0 and before.stdout == after.stdout
    user = json.loads(before.stdout)["user"]
    assert user["id"] == server.owner_id and user["display_name"] == "Local Captain"
    assert before.stdout.startswith('{\n  "user": {\n    "id": ')  # pretty, 2-space indent
    assert cc.ok("whoami") == f"{server.owner_id}\tLocal Captain\n"
    assert cc.ok("whoami", "--plain") == server.owner_id + "\n"
    assert cc.run("whoami", "--server=" + server.url, "--plain").line() == server.owner_id


def test_environment_selects_the_server(cc: Client, server: LiveServer) -> None:
    ran = cc.run("whoami", "--plain", CLICKCLACK_SERVER=server.url)
    assert ran.line() == server.owner_id
    # A flag beats the environment.
    ran = cc.run("--server", server.url, "whoami", CLICKCLACK_SERVER="http://127.0.0.1:1")
    assert ran.code == 0


def test_status_in_every_mode(cc: Client, server: LiveServer) -> None:
    assert lines(cc.ok("status")) == [
        ["server", server.url],
        ["user", server.owner_id],
        ["workspace", server.workspace_id],
        ["channel", server.channel_id],
    ]
    data = json.loads(cc.ok("status", "--json"))
    assert data["server"] == server.url
    assert data["user"]["id"] == server.owner_id
    assert data["workspace"]["slug"] == "clickclack"
    assert data["channel"]["name"] == "general"


def test_json_and_plain_together_is_a_usage_error(cc: Client) -> None:
    assert cc.at("whoami", "--json", "--plain").error(2) == "--json and --plain cannot be combined"


def test_a_global_flag_without_its_value_is_a_usage_error(cc: Client) -> None:
    assert cc.run("whoami", "--server").error(2) == "Option '--server' requires an argument"


def test_unknown_option_of_a_client_command_is_a_usage_error(cc: Client) -> None:
    assert cc.at("whoami", "--bogus").error(2).startswith("No such option: --bogus")


# Errors.


def test_bad_token_exits_3_with_the_server_text(cc: Client) -> None:
    error = cc.at("--token", "sst_nope", "whoami").error(3)
    assert error.startswith("401: ")


def test_unknown_dev_user_exits_3(cc: Client) -> None:
    assert cc.at("--user", "usr_nobody", "whoami").error(3) == "401: unknown user"


def test_unreachable_server_exits_5_naming_it(cc: Client) -> None:
    error = cc.run("--server", "http://127.0.0.1:1", "whoami").error(5)
    assert error.startswith("cannot reach http://127.0.0.1:1: ")


def test_server_must_be_an_http_url(cc: Client) -> None:
    assert cc.run("--server", "ftp://x", "whoami").error(2) == (
        "--server must be an http(s) URL: ftp://x"
    )


# Workspaces and channels.


def test_workspaces_list_in_every_mode(cc: Client, server: LiveServer) -> None:
    assert lines(cc.ok("workspaces", "list")) == [[server.workspace_id, "clickclack", "ClickClack"]]
    assert cc.ok("workspaces", "list", "--plain") == server.workspace_id + "\n"
    data = json.loads(cc.ok("workspaces", "list", "--json"))
    assert list(data) == ["workspaces"]
    assert [w["id"] for w in data["workspaces"]] == [server.workspace_id]


@pytest.mark.parametrize("ref", ["clickclack", "ClickClack", "CLICKCLACK", "<id>"])
def test_channels_list_by_workspace_ref(cc: Client, server: LiveServer, ref: str) -> None:
    ref = server.workspace_id if ref == "<id>" else ref
    out = cc.ok("channels", "list", "--workspace", ref)
    assert [server.channel_id, "general", "public"] in lines(out)


def test_channels_list_plain_and_json(cc: Client, server: LiveServer) -> None:
    assert server.channel_id in cc.ok("channels", "list", "--plain").split()
    data = json.loads(cc.ok("channels", "list", "--json"))
    assert list(data) == ["workspace", "channels"]
    assert data["workspace"]["id"] == server.workspace_id
    assert server.channel_id in [c["id"] for c in data["channels"]]


def test_unknown_workspace_exits_4(cc: Client) -> None:
    assert cc.at("channels", "list", "--workspace", "nope").error(4) == "workspace not found: nope"


def test_workspace_from_the_environment(cc: Client, server: LiveServer) -> None:
    ran = cc.at("channels", "list", CLICKCLACK_WORKSPACE="nope")
    assert ran.error(4) == "workspace not found: nope"


# Sending.


def _body_of(cc: Client, message_id: str) -> str:
    for seq, ident, _author, body in lines(cc.ok("messages", "list", "--limit", "200")):
        if ident == message_id:
            assert int(seq) > 0
            return body
    raise AssertionError(f"{message_id} not listed")


def test_send_from_words_body_file_and_stdin(
    cc: Client, server: LiveServer, tmp_path: Path
) -> None:
    human = cc.ok("send", "hello", "from", "words")
    match = re.fullmatch(r"sent (msg_[0-9a-z]{26}) to #general\n", human)
    assert match, human
    assert _body_of(cc, match.group(1)) == "hello from words"

    by_flag = cc.ok("send", "--body", "flag body", "--plain").strip()
    assert by_flag.startswith("msg_") and _body_of(cc, by_flag) == "flag body"

    path = tmp_path / "body.md"
    path.write_text("line one\nline two\n")
    from_file = cc.ok("messages", "send", "--file", str(path), "--plain").strip()
    assert _body_of(cc, from_file) == "line one\\nline two"  # newlines escaped in human rows

    from_stdin = cc.ok("send", "--stdin", "--plain", stdin="piped\tbody\n").strip()
    assert _body_of(cc, from_stdin) == "piped\\tbody"

    dash = cc.ok("send", "--file", "-", "--plain", stdin="dash body").strip()
    assert _body_of(cc, dash) == "dash body"


def test_send_json_is_the_api_answer(cc: Client, server: LiveServer) -> None:
    data = json.loads(cc.ok("send", "json body", "--json"))
    assert list(data) == ["message", "event"]
    assert data["message"]["body"] == "json body"
    assert data["message"]["channel_id"] == server.channel_id
    assert data["event"]["type"] == "message.created"
    assert data["event"]["cursor"].startswith("cur_")


def test_send_reply_to_quotes_the_message(cc: Client) -> None:
    first = cc.ok("send", "original", "--plain").strip()
    data = json.loads(cc.ok("send", "quoting", "--reply-to", first, "--json"))
    assert data["message"]["quoted_message_id"] == first
    assert data["message"]["quoted_body_snapshot"] == "original"


def test_send_to_a_channel_by_name_hash_and_id(cc: Client, server: LiveServer) -> None:
    for ref in ("general", "#general", "#GENERAL", server.channel_id):
        data = json.loads(cc.ok("send", "--channel", ref, "to " + ref, "--json"))
        assert data["message"]["channel_id"] == server.channel_id
    # A chn_ id is found without naming its workspace, and with it.
    ran = cc.at("send", "x", "--channel", server.channel_id, "--workspace", "clickclack")
    assert ran.code == 0


def test_send_body_errors(cc: Client, tmp_path: Path) -> None:
    expected = "message body is required (words, --body, --file or --stdin)"
    assert cc.at("send").error(2) == expected
    assert cc.at("send", "--body", "   ").error(2) == expected
    assert cc.at("send", "--stdin", stdin="\n\n").error(2) == expected
    assert cc.at("send", "words", "--body", "b").error(2) == (
        "give the body once, not with --body and a positional body"
    )
    missing = tmp_path / "missing.md"
    assert cc.at("send", "--file", str(missing)).error(4) == f"file not found: {missing}"


def test_send_to_an_unknown_channel_exits_4(cc: Client) -> None:
    assert cc.at("send", "--channel", "nope", "hi").error(4) == "channel not found: nope"
    assert cc.at("send", "--channel", "chn_01nothing", "hi").error(4) == (
        "channel not found: chn_01nothing"
    )


def test_send_quoting_an_unknown_message_fails_with_the_server_text(cc: Client) -> None:
    error = cc.at("send", "x", "--reply-to", "msg_01nothing").error(1)
    assert error == "400: quoted message is not in this channel, conversation, or thread"


# Messages list.


def test_messages_list_window_and_modes(cc: Client, server: LiveServer) -> None:
    cc.ok("channels", "list")  # warm-up: nothing to assert
    created = json.loads(
        cc.ok("--user", server.owner_id, "send", "--channel", "general", "window", "--json")
    )
    seq = created["message"]["channel_seq"]
    ids = [cc.ok("send", f"after {n}", "--plain").strip() for n in range(3)]
    rows = lines(cc.ok("messages", "list", "--after-seq", str(seq)))
    assert [r[1] for r in rows] == ids
    assert [int(r[0]) for r in rows] == [seq + 1, seq + 2, seq + 3]
    assert all(r[2] == "Local Captain" for r in rows)
    assert [r[3] for r in rows] == ["after 0", "after 1", "after 2"]
    latest = lines(cc.ok("messages", "list", "--limit", "2"))
    assert [r[1] for r in latest] == ids[1:]
    assert cc.ok("messages", "list", "--limit", "2", "--plain").split() == ids[1:]
    data = json.loads(cc.ok("messages", "list", "--limit", "1", "--json"))
    assert list(data) == ["channel", "messages"]
    assert data["channel"]["id"] == server.channel_id
    assert [m["id"] for m in data["messages"]] == ids[2:]
    assert cc.ok("messages", "list", "--after-seq", str(seq + 3)) == ""


@pytest.mark.parametrize("limit", ["0", "201", "-1"])
def test_messages_list_bad_limit_is_a_usage_error(cc: Client, limit: str) -> None:
    assert (
        cc.at("messages", "list", "--limit", limit).error(2) == "--limit must be between 1 and 200"
    )


def test_messages_list_limit_must_be_a_number(cc: Client) -> None:
    assert "--limit" in cc.at("messages", "list", "--limit", "many").error(2)


# Threads.


def test_threads_open_and_reply_with_aliases(cc: Client, tmp_path: Path) -> None:
    root = cc.ok("send", "root of thread", "--plain").strip()
    first = cc.ok("threads", "reply", root, "first", "reply")
    match = re.fullmatch(rf"replied (msg_[0-9a-z]{{26}}) to {root}\n", first)
    assert match, first
    second = cc.ok("reply", root, "--body", "second", "--plain").strip()
    path = tmp_path / "reply.md"
    path.write_text("third\n")
    third = json.loads(cc.ok("thread", "reply", root, "--file", str(path), "--json"))
    assert list(third) == ["message", "thread_state", "events"]
    assert third["thread_state"]["reply_count"] == 3
    assert [e["type"] for e in third["events"]] == ["thread.reply_created", "thread.state_updated"]
    fourth = cc.ok("reply", root, "--stdin", "--reply-to", second, "--json", stdin="fourth")
    assert json.loads(fourth)["message"]["quoted_message_id"] == second

    rows = lines(cc.ok("threads", "open", root))
    assert rows[0] == [root, "root of thread"]
    assert [r[1:] for r in rows[1:]] == [
        ["Local Captain", "first reply"],
        ["Local Captain", "second"],
        ["Local Captain", "third"],
        ["Local Captain", "fourth"],
    ]
    assert rows[1][0] == match.group(1) and rows[2][0] == second
    assert lines(cc.ok("thread", "open", root, "--limit", "2"))[1:] == rows[1:3]
    plain = cc.ok("threads", "open", root, "--plain").split()
    assert plain == [r[0] for r in rows]
    data = json.loads(cc.ok("threads", "open", root, "--json"))
    assert list(data) == ["root", "replies", "thread_state"]
    assert data["root"]["id"] == root and len(data["replies"]) == 4


def test_thread_errors(cc: Client) -> None:
    root = cc.ok("send", "another root", "--plain").strip()
    reply = cc.ok("reply", root, "r", "--plain").strip()
    assert (
        cc.at("reply", reply, "nested").error(1) == "400: nested thread replies are not supported"
    )
    assert cc.at("threads", "open", reply).error(1) == "400: thread root must be a root message"
    assert cc.at("threads", "open", "msg_01nothing").error(4) == "400: sql: no rows in result set"
    assert cc.at("reply", root).error(2).startswith("message body is required")
    assert cc.at("threads", "open").error(2).startswith("Missing argument")
    assert cc.at("threads", "open", root, "--limit", "0").error(2) == (
        "--limit must be between 1 and 200"
    )


# Reactions.


def test_reactions_add_and_remove(cc: Client) -> None:
    message = cc.ok("send", "react to me", "--plain").strip()
    assert cc.ok("reactions", "add", message, "👍") == f"added 👍 to {message}\n"
    assert cc.ok("reactions", "add", message, "👍") == f"already reacted 👍 on {message}\n"
    data = json.loads(cc.ok("reactions", "add", message, ":tada:", "--json"))
    assert data["event"]["type"] == "reaction.added"
    assert {r["emoji"]: r["count"] for r in data["reactions"]} == {"👍": 1, ":tada:": 1}
    assert cc.ok("reactions", "remove", message, "👍", "--plain") == message + "\n"
    assert cc.ok("reactions", "remove", message, "👍") == f"no reaction 👍 on {message}\n"
    data = json.loads(cc.ok("reactions", "remove", message, ":tada:", "--json"))
    assert data["event"]["type"] == "reaction.removed" and data["reactions"] == []
    assert cc.at("reactions", "add", message, " ").error(2) == "an emoji is required"
    assert cc.at("reactions", "add", "msg_01nothing", "x").error(4).startswith("400: ")
