"""Start a real ``clickclack serve`` subprocess on a free loopback port for benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from clickclack_server.db import Database
from clickclack_server.store import sessions, users


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def seed(data_dir: Path, people: int) -> tuple[str, str, list[str]]:
    """Bootstrap a workspace with ``people`` members; returns (workspace, #general, tokens)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(data_dir / "clickclack.db")
    db.migrate()
    boot = db.write_sync(users.bootstrap, name="Bench Owner", email="owner@bench.test")
    tokens = [db.write_sync(sessions.create_session, boot.user_id).token]

    def add(tx: object, index: int) -> str:
        user = users.create_user(tx, display_name=f"Sender {index}", email=f"s{index}@bench.test")  # type: ignore[arg-type]
        users.add_member(tx, boot.workspace_id, user.id, "member")  # type: ignore[arg-type]
        return sessions.create_session(tx, user.id).token  # type: ignore[arg-type]

    for index in range(1, people):
        tokens.append(db.write_sync(add, index))
    db.close()
    return boot.workspace_id, boot.channel_id, tokens


@contextlib.contextmanager
def serve(data_dir: Path) -> Iterator[str]:
    """Run the server as a subprocess (its own process, like production) until the block exits."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "clickclack_sdk.cli",
        "serve",
        "--addr",
        f"127.0.0.1:{port}",
        "--data",
        str(data_dir),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy()
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
