"""`clickclack serve` stops gracefully on SIGTERM/SIGINT: open realtime sockets get 1001
"server shutting down" at once, and the process exits 0."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.cli.conftest import CLI, LISTENING, cli_env


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signal_closes_sockets_with_1001_and_exits_0(
    tmp_path: Path, signum: signal.Signals
) -> None:
    process = await trio.lowlevel.open_process(
        [*CLI, "serve", "--addr", "127.0.0.1:0", "--data", str(tmp_path), "--dev-bootstrap"],
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    assert process.stderr is not None
    log = ""
    try:
        with trio.fail_after(60):
            while not (match := LISTENING.search(log)):
                chunk = await process.stderr.receive_some()
                assert chunk, log
                log += chunk.decode()
            url = match.group(1)
            async with httpx.AsyncClient() as http:
                workspaces = (await http.get(f"{url}/api/workspaces")).json()["workspaces"]
            ws_url = url.replace("http://", "ws://") + (
                f"/api/realtime/ws?workspace_id={workspaces[0]['id']}"
            )
            async with open_websocket_url(ws_url) as websocket:
                process.send_signal(signum)
                with pytest.raises(ConnectionClosed) as closed:
                    await websocket.get_message()
            reason = closed.value.reason
            assert reason is not None
            assert (reason.code, reason.reason) == (1001, "server shutting down")
            assert await process.wait() == 0
            while chunk := await process.stderr.receive_some():  # the rest, up to EOF
                log += chunk.decode()
            assert f"{signum.name}: shutting down" in log
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
