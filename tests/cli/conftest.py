"""Helpers for CLI tests: the real ``clickclack`` command run as a subprocess on temp data dirs."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import pytest
import trio

CLI = [sys.executable, "-m", "clickclack_sdk.cli"]


def cli_env(**extra: str) -> dict[str, str]:
    """The test process environment without any ``CLICKCLACK_*`` setting, 80 columns wide."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLICKCLACK_")}
    env.update(COLUMNS="80", LINES="40", PYTHONIOENCODING="utf-8")
    env.update(extra)
    return env


@attrs.frozen
class Ran:
    """What one command run printed and how it exited."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def line(self) -> str:
        """The single stdout line of a successful run (and nothing on stderr)."""
        assert self.code == 0, f"{self.args}: exit {self.code}: {self.stderr}"
        assert self.stderr == "", self.stderr
        lines = self.stdout.splitlines()
        assert len(lines) == 1, self.stdout
        return lines[0]

    def error(self, code: int) -> str:
        """The one-line error of a failed run, checked to exit with ``code``."""
        assert self.code == code, f"{self.args}: exit {self.code} != {code}: {self.stderr}"
        assert self.stdout == "", self.stdout
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("clickclack: "), lines[0]
        return lines[0].removeprefix("clickclack: ")


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Ran:
    """Run ``clickclack ARGS`` to completion."""
    done = subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=env if env is not None else cli_env(),
        cwd=cwd,
        timeout=120,
        check=False,
    )
    return Ran(tuple(args), done.returncode, done.stdout, done.stderr)


async def arun(*args: str, env: dict[str, str] | None = None) -> Ran:
    """``run`` for async tests (the event loop keeps running meanwhile)."""
    done = await trio.run_process(
        [*CLI, *args],
        capture_stdout=True,
        capture_stderr=True,
        env=env if env is not None else cli_env(),
        check=False,
    )
    return Ran(tuple(args), done.returncode, done.stdout.decode(), done.stderr.decode())


@attrs.frozen
class DataDir:
    """A temporary ``--data`` directory and shortcuts to run commands against it."""

    path: Path

    @property
    def db_path(self) -> Path:
        return self.path / "clickclack.db"

    def flags(self) -> list[str]:
        return ["--data", str(self.path)]

    def run(self, *args: str) -> Ran:
        return run(*args, *self.flags())

    async def arun(self, *args: str) -> Ran:
        return await arun(*args, *self.flags())

    def ok(self, *args: str) -> str:
        return self.run(*args).line()

    def fails(self, code: int, *args: str) -> str:
        return self.run(*args).error(code)

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Rows of a read-only query straight on the database file."""
        conn = sqlite3.connect(self.db_path.absolute().as_uri() + "?mode=ro", uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def scalar(self, sql: str, params: Sequence[object] = ()) -> object:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    return DataDir(tmp_path / "data")


@attrs.frozen
class Booted:
    """A data dir after ``admin bootstrap``: the owner, the workspace and ``#general``."""

    data: DataDir
    owner_id: str
    workspace_id: str
    channel_id: str


def boot(data: DataDir, *, email: str = "owner@example.com") -> Booted:
    owner_id = data.ok("admin", "bootstrap", "--name", "Owner", "--email", email)
    workspace_id = str(data.scalar("SELECT id FROM workspaces WHERE slug = 'clickclack'"))
    channel_id = str(data.scalar("SELECT id FROM channels WHERE workspace_id = ?", (workspace_id,)))
    return Booted(data, owner_id, workspace_id, channel_id)


@pytest.fixture
def booted(data: DataDir) -> Booted:
    return boot(data)


LISTENING = re.compile(r"listening on (http://\S+)")


async def _serve(
    args: Sequence[str],
    env: dict[str, str],
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    proc = await trio.lowlevel.open_process(
        [*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    assert proc.stderr is not None
    seen: list[str] = []
    started = False
    try:
        buffer = b""
        async for chunk in proc.stderr:
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                line = raw.decode(errors="replace")
                seen.append(line)
                match = LISTENING.search(line)
                if match and not started:
                    started = True
                    task_status.started(match.group(1))
        if not started:
            raise RuntimeError("server exited before listening:\n" + "\n".join(seen[-20:]))
    finally:
        with trio.CancelScope(shield=True):
            if proc.returncode is None:
                proc.terminate()
            await proc.wait()


async def start_server(nursery: trio.Nursery, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``clickclack ARGS`` (a server) until the test ends; returns its URL once listening."""
    with trio.fail_after(60):
        url: str = await nursery.start(_serve, args, env if env is not None else cli_env())
    return url


def tty_stderr(*args: str, env: dict[str, str] | None = None) -> tuple[Ran, str]:
    """Run with stderr on a pseudo-terminal (what a person sees); returns the run and the
    terminal's text (stdout is still captured separately)."""
    import pty

    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [*CLI, *args],
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=env if env is not None else cli_env(),
            timeout=120,
            check=False,
        )
    finally:
        os.close(terminal)
    chunks: list[bytes] = []
    try:
        while True:
            chunk = os.read(controller, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:  # EIO once the terminal side is closed and drained
        pass
    finally:
        os.close(controller)
    ran = Ran(tuple(args), done.returncode, done.stdout.decode(), "")
    return ran, b"".join(chunks).decode(errors="replace")


def iter_keys(value: object) -> Iterator[str]:
    """Every object key anywhere inside a decoded JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from iter_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_keys(item)
