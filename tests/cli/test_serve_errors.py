"""Where ``clickclack serve`` listens, and one clear line instead of a traceback when it cannot.

Loopback unless an address is given; ``:PORT`` means every interface and the log says so.
A port in use, a port out of range, a host that does not resolve, a ``--db`` that is not
SQLite, an unknown config key and a missing ``server`` extra each end in one
``clickclack: ...`` line on stderr and the documented exit code.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import httpx
import pytest
import trio

from clickclack_sdk.cli import main
from clickclack_sdk.cli._common import SERVER_MODULES
from clickclack_server.config import Config, load_config
from clickclack_server.runner import Running, run_server
from tests.cli.conftest import CLI, Ran, arun, cli_env

WAIT = 60
LISTENING = re.compile(r"listening on (http://\S+)(.*)$", re.MULTILINE)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs see no ``CLICKCLACK_*`` setting of the test process."""
    for key in [key for key in __import__("os").environ if key.startswith("CLICKCLACK_")]:
        monkeypatch.delenv(key)


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    """``clickclack ARGS`` in this process (for commands whose process boundary is not what is
    tested)."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out = capsys.readouterr()
    code = exited.value.code
    return Ran(args, code if isinstance(code, int) else 1, out.out, out.err)


def garbage_db(tmp_path: Path) -> Path:
    path = tmp_path / "not-sqlite.db"
    path.write_bytes(b"this is not a database\x00\xff" * 64)
    return path


# B. Where it listens.


def test_without_an_address_the_server_binds_loopback() -> None:
    assert load_config(env={}).host_port == ("127.0.0.1", 8080)
    assert Config().host_port == ("127.0.0.1", 8080)
    # An explicit :PORT, from a flag, the environment or a config file, is every interface.
    assert load_config(env={}, flags={"addr": ":9000"}).host_port == ("0.0.0.0", 9000)
    assert load_config(env={"CLICKCLACK_ADDR": ":9000"}).host_port == ("0.0.0.0", 9000)
    assert load_config(env={"CLICKCLACK_ADDR": "[::]:9000"}).host_port == ("::", 9000)


def test_a_config_file_address_follows_the_same_rule(tmp_path: Path) -> None:
    path = tmp_path / "server.json"
    path.write_text(json.dumps({"addr": ":9001"}))
    assert load_config(env={}, config_file=path).host_port == ("0.0.0.0", 9001)
    path.write_text(json.dumps({"data": "elsewhere"}))
    assert load_config(env={}, config_file=path).host_port == ("127.0.0.1", 8080)


async def test_a_loopback_server_logs_its_loopback_address(
    nursery: trio.Nursery, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "clickclack_server")
    config = Config(addr="127.0.0.1:0", data=str(tmp_path / "data"))
    running: Running = await nursery.start(run_server, config)
    port = running.url.rpartition(":")[2]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("listening")]
    assert lines == [f"listening on http://127.0.0.1:{port}"]


async def test_colon_port_binds_every_interface_and_the_log_says_so(tmp_path: Path) -> None:
    args = [*CLI, "serve", "--addr", ":0", "--dev-bootstrap", "--data", str(tmp_path / "data")]
    proc = await trio.lowlevel.open_process(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env()
    )
    assert proc.stderr is not None
    try:
        with trio.fail_after(WAIT):
            log = ""
            # Complete lines only: a chunk may end inside the port number.
            while not (match := LISTENING.search(log.rpartition("\n")[0])):
                chunk = await proc.stderr.receive_some()
                assert chunk, "serve exited before listening:\n" + log
                log += chunk.decode(errors="replace")
            url, rest = match.group(1), match.group(2)
            assert re.fullmatch(r"http://0\.0\.0\.0:\d+", url), match.group(0)
            assert rest == " (all interfaces)"
            port = int(url.rpartition(":")[2])
            async with httpx.AsyncClient(timeout=WAIT) as http:
                response = await http.get(f"http://127.0.0.1:{port}/healthz")
            assert response.status_code == 200
    finally:
        proc.terminate()
        with trio.CancelScope(shield=True):
            await proc.wait()


# C. Failures to start: one line each (real processes: nested exception groups came from
# the Trio nursery around Hypercorn, only a real run shows what the user sees).


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


async def test_serve_failures_are_one_line(tmp_path: Path, listening_port: int) -> None:
    bad = garbage_db(tmp_path)
    data = ["--data", str(tmp_path / "data")]
    cases = {
        "in use": ("--addr", f"127.0.0.1:{listening_port}", *data),
        "range": ("--addr", ":70000", *data),
        "host": ("--addr", "no-such-host.invalid:0", *data),
        "db": ("--addr", "127.0.0.1:0", "--db", f"sqlite://{bad}", *data),
    }
    ran: dict[str, Ran] = {}

    async def one(name: str, args: tuple[str, ...]) -> None:
        ran[name] = await arun("serve", *args)

    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            for name, args in cases.items():
                nursery.start_soon(one, name, args)

    assert ran["in use"].error(1) == (
        f"cannot listen on 127.0.0.1:{listening_port}: address already in use"
    )
    assert ran["range"].error(2) == "invalid --addr ':70000': the port must be 0-65535"
    unresolved = "cannot listen on no-such-host.invalid:0: cannot resolve host no-such-host.invalid"
    assert ran["host"].error(1).startswith(unresolved + " (")
    assert ran["db"].error(1) == f"cannot open database {bad}: file is not a database"


def test_migrate_and_admin_name_a_database_that_is_not_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    bad = garbage_db(tmp_path)
    flags = ("--data", str(tmp_path / "data"), "--db", f"sqlite://{bad}")
    expected = f"cannot open database {bad}: file is not a database"
    assert in_process(capsys, "migrate", *flags).error(1) == expected
    assert in_process(capsys, "admin", "bootstrap", *flags).error(1) == expected


# C. Without the server extra, every server-side command says how to install it.


def test_server_modules_are_the_server_extra() -> None:
    """SERVER_MODULES, checked before server-side commands run, covers the ``server`` extra
    (of which ``callbacks`` is a part) and nothing else."""
    extra = {
        re.split(r"[<>=!~ \[;]", req, maxsplit=1)[0].lower()
        for req in requires("clickclack") or []
        if 'extra == "server"' in req or "extra == 'server'" in req
    }
    distributions = packages_distributions()
    provided = {dist.lower() for module in SERVER_MODULES for dist in distributions[module]}
    assert provided == extra


BLOCK_SERVER_EXTRA = """
import contextlib, io, json, sys
for name in {modules!r}:
    sys.modules[name] = None  # what a base install (no [server] extra) looks like
from clickclack_sdk.cli import main
results = {{}}
for args in {commands!r}:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code
        except Exception as exc:  # today's crash: a traceback, not the hint
            code = repr(exc)
    results[args[0] + " " + args[1]] = [code, err.getvalue()]
print(json.dumps(results))
"""


def test_without_the_server_extra_every_server_command_prints_the_install_hint(
    tmp_path: Path,
) -> None:
    data = str(tmp_path / "data")
    out = str(tmp_path / "out")
    commands = [
        ["serve", "--addr", "127.0.0.1:0", "--data", data],
        ["migrate", "--data", data],
        ["admin", "bootstrap", "--data", data],
        ["admin", "bot", "create", "--workspace", "x", "--name", "B", "--data", data],
        ["admin", "slash-command", "create", "--workspace", "x", "--command", "/x",
         "--bot", "@b", "--callback-url", "http://127.0.0.1:1/x", "--data", data],
        ["backup", "--out", out, "--data", data],
        ["export", "--out", out, "--data", data],
    ]  # fmt: skip
    modules = ["starlette", "hypercorn", "python_multipart", "multipart", "ulid", "orjson"]
    script = BLOCK_SERVER_EXTRA.format(modules=modules, commands=commands)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    hint = re.compile(
        r"clickclack: the server is not installed \((starlette|hypercorn|python_multipart|"
        r"ulid|orjson)\); run: pip install 'clickclack\[server\]'\n"
    )
    assert len(results) == len(commands)
    for name, (code, err) in results.items():
        assert code == 1 and hint.fullmatch(err), (name, code, err)
    assert not (tmp_path / "data").exists()  # refused before touching anything
