"""Client credentials: ``login``/``logout``, the stored config file and its server scoping
(protocol 6.3), against a real ``clickclack serve --dev-bootstrap`` subprocess."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.cli.test_client_commands import Client, LiveServer, cc, server

__all__ = ["cc", "server"]


def magic(server: LiveServer, email: str = "ari@example.com", name: str = "Ari") -> str:
    return server.data.ok("admin", "magic-link", "create", "--email", email, "--name", name)


def login(cc: Client, server: LiveServer, *flags: str) -> str:
    """Log in as Ari (stored); returns Ari's user id."""
    assert cc.ok("login", "--magic-token", magic(server), *flags) == "logged in as Ari\n"
    return str(server.data.scalar("SELECT user_id FROM identities WHERE email='ari@example.com'"))


def test_login_stores_a_private_config_scoped_to_the_server(cc: Client, server: LiveServer) -> None:
    ari = login(cc, server)
    stored = json.loads(cc.config_file.read_text())
    assert stored["server"] == server.url and stored["token"].startswith("sst_")
    assert set(stored) == {"server", "token"}
    assert stat.S_IMODE(cc.config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cc.config_file.parent.stat().st_mode) == 0o700
    # The stored server and token are used without any flag.
    assert cc.run("whoami", "--plain").line() == ari
    # Same server spelled differently (case, trailing slash): still the stored token.
    loud = server.url.upper() + "/"
    assert cc.run("--server", loud, "whoami", "--plain").line() == ari
    # Another server (localhost is not 127.0.0.1): the token is not sent; dev auth answers.
    other = server.url.replace("127.0.0.1", "localhost")
    assert cc.run("--server", other, "whoami", "--plain").line() == server.owner_id
    assert cc.run("whoami", "--plain", CLICKCLACK_SERVER=other).line() == server.owner_id
    # --user (or CLICKCLACK_USER_ID) skips the stored token so the dev user is honoured.
    assert cc.run("whoami", "--user", server.owner_id, "--plain").line() == server.owner_id
    ran = cc.run("whoami", "--plain", CLICKCLACK_USER_ID=server.owner_id)
    assert ran.line() == server.owner_id
    # An explicit token replaces the stored one.
    assert cc.run("whoami", "--token", "sst_wrong").error(3).startswith("401: ")
    assert cc.run("whoami", CLICKCLACK_TOKEN="sst_wrong").error(3).startswith("401: ")
    # Both a token and a user: the server's order applies, the bearer token wins.
    token = stored["token"]
    assert cc.run("whoami", "--token", token, "--user", server.owner_id, "--plain").line() == ari


def test_login_plain_prints_the_token_and_json_the_answer(cc: Client, server: LiveServer) -> None:
    token = cc.ok("login", "--magic-token", magic(server), "--plain").strip()
    assert token.startswith("sst_")
    assert json.loads(cc.config_file.read_text())["token"] == token
    data = json.loads(cc.ok("login", "--magic-token", magic(server), "--json", "--no-store"))
    assert list(data) == ["user", "session", "token"]
    assert data["user"]["display_name"] == "Ari" and data["session"]["token"] == data["token"]
    # --no-store left the earlier login in place.
    assert json.loads(cc.config_file.read_text())["token"] == token


def test_login_no_store_writes_nothing(cc: Client, server: LiveServer) -> None:
    token = cc.ok("login", "--magic-token", magic(server), "--no-store", "--plain").strip()
    assert token.startswith("sst_") and not cc.config_file.exists()
    assert cc.at("--token", token, "whoami").code == 0


def test_login_errors(cc: Client, server: LiveServer) -> None:
    assert cc.at("login", "--magic-token", "mgt_nope").error(4) == (
        "400: sql: no rows in result set"
    )
    used = magic(server)
    cc.ok("login", "--magic-token", used, "--no-store")
    assert cc.at("login", "--magic-token", used).error(1) == "400: magic link already used"
    assert cc.at("login").error(2).startswith("Missing option '--magic-token'")
    assert cc.at("login", "--magic-token", " ").error(2) == "--magic-token must not be empty"
    assert not cc.config_file.exists()


def test_stored_workspace_and_channel_apply_to_their_server_only(
    cc: Client, server: LiveServer
) -> None:
    owner = server.data.ok("admin", "bootstrap")  # idempotent: the first user's id
    server.data.ok(
        "admin", "member", "add", "--workspace", "clickclack", "--created-by", owner,
        "--email", "ari@example.com",
    )  # fmt: skip
    login(cc, server, "--workspace", "clickclack", "--channel", "#nope")
    stored = json.loads(cc.config_file.read_text())
    assert (stored["workspace"], stored["channel"]) == ("clickclack", "#nope")
    assert cc.run("send", "hi").error(4) == "channel not found: #nope"
    # A flag replaces the stored channel; on another server the stored one is not used.
    assert cc.run("send", "hi", "--channel", "general", "--plain").code == 0
    other = server.url.replace("127.0.0.1", "localhost")
    assert cc.run("--server", other, "send", "hi", "--plain").code == 0


def test_logout_removes_the_config_and_is_idempotent(cc: Client, server: LiveServer) -> None:
    login(cc, server)
    assert cc.run("logout").line() == "logged out"
    assert not cc.config_file.exists()
    assert cc.run("logout", "--plain").line() == "logged_out"
    assert json.loads(cc.run("logout", "--json").stdout) == {"logged_out": True}
    # The token is gone: the same server now answers with its dev user, not Ari.
    assert cc.at("whoami", "--plain").line() == server.owner_id


def test_config_write_keeps_a_symlink(cc: Client, server: LiveServer, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere" / "real.json"
    real.parent.mkdir()
    real.write_text("{}")
    cc.config_file.parent.mkdir(parents=True)
    cc.config_file.symlink_to(real)
    login(cc, server)
    assert cc.config_file.is_symlink()
    assert json.loads(real.read_text())["server"] == server.url
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


def test_broken_config_is_a_usage_error(cc: Client) -> None:
    cc.config_file.parent.mkdir(parents=True)
    cc.config_file.write_text("{broken")
    error = cc.run("whoami").error(2)
    assert error == (
        f"config file {cc.config_file} is not valid JSON; fix it or run: clickclack logout"
    )
    assert cc.run("logout").line() == "logged out"
    assert not cc.config_file.exists()


@pytest.mark.parametrize("value", ["[1, 2]", '"text"'])
def test_config_that_is_not_an_object_is_a_usage_error(cc: Client, value: str) -> None:
    cc.config_file.parent.mkdir(parents=True)
    cc.config_file.write_text(value)
    assert cc.run("status").error(2) == f"config file {cc.config_file} is not a JSON object"


def test_config_dir_follows_xdg_config_home(cc: Client, server: LiveServer) -> None:
    login(cc, server)
    assert cc.config_file.is_file()
    assert os.path.commonpath([cc.config_file, cc.home]) == str(cc.home)


def test_workspaces_use_channels_use_and_channels_create(cc: Client, server: LiveServer) -> None:
    """`channels create`, then `channels use` / `workspaces use` store defaults for this server
    next to the token; commands without --channel then go there."""
    created = cc.ok("channels", "create", "Release Notes", "--title", "Releases")
    assert created.startswith("created #release-notes chn_")
    channel_id = created.split()[-1]
    data = json.loads(cc.ok("channels", "create", "ops", "--json"))
    assert list(data) == ["channel", "event"] and data["channel"]["name"] == "ops"
    assert data["event"]["type"] == "channel.created"
    assert cc.at("channels", "create", "ops").error(1).startswith("400: ")
    # No stored config yet: `use` creates one for this server.
    assert cc.ok("channels", "use", "#release-notes") == f"using #release-notes {channel_id}\n"
    stored = json.loads(cc.config_file.read_text())
    assert stored["server"] == server.url and stored["channel"] == channel_id
    sent = cc.ok("send", "shipped", "--plain").strip()
    assert server.data.scalar("SELECT channel_id FROM messages WHERE id = ?", (sent,)) == (
        channel_id
    )
    assert cc.ok("channels", "use", channel_id, "--plain") == f"{channel_id}\n"
    # workspaces use: stores the workspace id and forgets the channel of the old one.
    workspace = json.loads(cc.ok("workspaces", "use", "ClickClack", "--json"))["workspace"]
    stored = json.loads(cc.config_file.read_text())
    assert stored["workspace"] == workspace["id"] and "channel" not in stored
    sent = cc.ok("send", "back to general", "--plain").strip()
    assert (
        server.data.scalar(
            "SELECT c.name FROM messages m JOIN channels c ON c.id = m.channel_id WHERE m.id = ?",
            (sent,),
        )
        == "general"
    )
    # The token of a login survives `use`; a config of another server is not overwritten.
    ari = login(cc, server)
    server.data.ok(
        "admin", "member", "add", "--workspace", "clickclack", "--created-by", server.owner_id,
        "--email", "ari@example.com",
    )  # fmt: skip
    cc.ok("channels", "use", "general")
    assert json.loads(cc.config_file.read_text())["token"].startswith("sst_")
    assert cc.run("whoami", "--plain").line() == ari
    other = server.url.replace("127.0.0.1", "localhost")
    refused = cc.run("--server", other, "workspaces", "use", "clickclack").error(1)
    assert refused.startswith(f"the stored config belongs to {server.url}")
    assert cc.at("channels", "use", "#nope").error(4) == "channel not found: #nope"
    assert cc.at("workspaces", "use").error(2).startswith("Missing argument")
