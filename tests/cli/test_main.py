"""The ``clickclack`` entry point: help, version, usage errors, the default ``serve``, migrate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio

from tests.cli.conftest import DataDir, cli_env, run, start_server


def test_help_is_plain_text_listing_the_server_commands() -> None:
    ran = run("--help")
    assert ran.code == 0 and ran.stderr == ""
    assert ran.stdout.startswith("Usage: clickclack [OPTIONS] COMMAND [ARGS]...\n")
    for command in ("serve", "migrate", "admin", "backup", "export", "version"):
        assert f"\n  {command} " in ran.stdout
    assert "╭" not in ran.stdout and "\x1b[" not in ran.stdout  # no rich panels or colours


def test_help_loads_neither_the_server_nor_rich() -> None:
    probe = (
        "import sys\n"
        "from clickclack_sdk.cli import main\n"
        "try:\n"
        "    main(['admin', 'bot', 'create', '--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = ('clickclack_server', 'rich', 'hypercorn', 'starlette', 'sqlite3')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env(), check=True
    )
    assert done.stdout.splitlines()[-1] == "[]"


def test_version_command_and_flag_agree() -> None:
    line = run("version").line()
    assert line.startswith("clickclack 0.1.0 (python ")
    assert run("--version").line() == line


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("clickclack")
    assert script.is_file()
    done = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, env=cli_env(), check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("clickclack 0.1.0")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "No such command 'nosuch' (see: clickclack --help)"),
        (["migrate", "--bogus"], "No such option: --bogus (see: clickclack migrate --help)"),
        (["admin"], "Missing command (see: clickclack admin --help)"),
        (["admin", "user", "create", "--name"], "Option '--name' requires an argument"),
        (["export", "--out"], "Option '--out' requires an argument"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(args: list[str], message: str) -> None:
    error = run(*args).error(2)
    assert error.startswith(message), error


def test_bad_config_is_a_usage_error(data: DataDir, tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text("{not json")
    error = data.fails(2, "admin", "bootstrap", "--config", str(config))
    assert error.startswith(f"config file {config} is not valid JSON")
    assert not data.db_path.exists()


def test_migrate_is_idempotent(data: DataDir) -> None:
    first = data.run("migrate")
    assert first.code == 0 and first.stderr == ""
    lines = first.stdout.splitlines()
    assert lines[0] == "applied 0001_core.sql"
    assert lines[-1] == f"migrations up to date ({data.db_path})"
    assert (data.path / "uploads").is_dir() and (data.path / "logs").is_dir()
    assert data.ok("migrate") == f"migrations up to date ({data.db_path})"


async def test_no_command_runs_serve(nursery: trio.Nursery, tmp_path: Path) -> None:
    env = cli_env(CLICKCLACK_ADDR="127.0.0.1:0", CLICKCLACK_DATA=str(tmp_path / "a"))
    bare = await start_server(nursery, env=env)
    flags_only = await start_server(
        nursery, "--addr", "127.0.0.1:0", "--data", str(tmp_path / "b"), "--dev-bootstrap=true"
    )
    async with httpx.AsyncClient(timeout=10) as http:
        for url in (bare, flags_only):
            response = await http.get(url + "/healthz")
            assert response.json() == {"status": "ok"}
        # --dev-bootstrap=true (Go style) took effect: dev auth lists the bootstrap workspace.
        workspaces = await http.get(flags_only + "/api/workspaces")
        assert [w["slug"] for w in workspaces.json()["workspaces"]] == ["clickclack"]
        assert (await http.get(bare + "/api/workspaces")).status_code == 401
    assert (tmp_path / "a" / "clickclack.db").is_file()
