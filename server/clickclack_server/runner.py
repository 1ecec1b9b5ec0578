"""Start the server: data directories, database, bootstrap, and Hypercorn's Trio worker."""

from __future__ import annotations

import errno
import ipaddress
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.config import Sockets
from hypercorn.trio.run import worker_serve
from hypercorn.utils import wrap_app

from clickclack_server import deliveries, storage
from clickclack_server.app import create_app
from clickclack_server.config import Config
from clickclack_server.db import Database
from clickclack_server.realtime.closes import SHUTTING_DOWN
from clickclack_server.server import Server
from clickclack_server.store import uploads as upload_store
from clickclack_server.store.users import BootstrapResult, bootstrap

log = logging.getLogger("clickclack_server")

DEV_USER_NAME = "Local Captain"


def prepare_data(config: Config) -> Path:
    """Create ``<data>``, ``<data>/uploads`` and ``<data>/logs``; returns the database path."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.uploads_dir.mkdir(parents=True, exist_ok=True)
    (config.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    db_path = config.db_path
    db_path.parent.mkdir(parents=True, exist_ok=True)
    return db_path


def open_database(config: Config) -> Database:
    """Open the configured SQLite file and apply pending migrations."""
    db = Database(prepare_data(config))
    db.migrate()
    return db


def open_server(config: Config) -> tuple[Server, BootstrapResult | None]:
    db = open_database(config)
    storage.remove_leftovers(config.uploads_dir, lambda: db.read_sync(upload_store.storage_keys))
    boot = db.write_sync(bootstrap, name=DEV_USER_NAME) if config.dev_bootstrap else None
    return Server(config=config, db=db, uploads_dir=config.uploads_dir), boot


class ListenError(Exception):
    """The server cannot listen on its address; the message names the address and why."""


_LISTEN_REASONS = {
    errno.EADDRINUSE: "address already in use",
    errno.EADDRNOTAVAIL: "no interface of this machine has that address",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
}


def listen_socket(host: str, port: int, backlog: int = 100) -> socket.socket:
    """A listening TCP socket on ``host:port``, made the way Hypercorn makes its own (IPv6
    when the host holds a ``:``, ``SO_REUSEADDR``, ``TCP_NODELAY``, non-blocking).

    Binding here, before Hypercorn starts, turns a port in use, an unknown host or a missing
    permission into one :class:`ListenError` instead of nested exception groups.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        found = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ListenError(
            f"cannot listen on {where}: cannot resolve host {host} ({exc.strerror})"
        ) from exc
    except (UnicodeError, OverflowError, ValueError) as exc:
        raise ListenError(f"cannot listen on {where}: invalid host {host!r}") from exc
    family, kind, proto, _, address = found[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        reason = _LISTEN_REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
        raise ListenError(f"cannot listen on {where}: {reason}") from exc
    sock.setblocking(False)
    return sock


def _all_interfaces(sock: socket.socket) -> bool:
    """Whether ``sock`` is bound to the unspecified address (every interface)."""
    return ipaddress.ip_address(sock.getsockname()[0]).is_unspecified


@attrs.frozen
class Running:
    """What a started server tells its starter: where it listens and the dev user, if any."""

    url: str
    server: Server
    dev_user_id: str | None


async def run_server(
    config: Config,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    handle_signals: bool = False,
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled (or ``shutdown_trigger`` returns); reports a :class:`Running`.

    When ``shutdown_trigger`` returns, open realtime sockets are closed with 1001 "server
    shutting down" at once, then Hypercorn lets in-flight requests finish (up to 5 s).
    ``handle_signals`` makes SIGINT/SIGTERM that trigger (a second signal stops at once).

    The address is bound first (:class:`~clickclack_server.config.ConfigError` for a
    malformed one, :class:`ListenError` when it cannot be listened on), then the database
    is opened. The log names the address actually bound; ``Running.url`` is one to connect
    to (loopback for a server listening on every interface).
    """
    host, port = config.host_port
    hconfig = HypercornConfig()
    listener = listen_socket(host, port, hconfig.backlog)
    try:
        server, boot = open_server(config)
    except BaseException:
        listener.close()
        raise
    hconfig.accesslog = None
    hconfig.errorlog = logging.getLogger("hypercorn.error")
    hconfig.keep_alive_timeout = 75
    hconfig.graceful_timeout = 5
    app = create_app(server)
    trigger = shutdown_trigger or (_signalled if handle_signals else None)

    async def shut_down_when_triggered() -> None:
        if trigger is None:
            await trio.sleep_forever()
        else:
            await trigger()
        server.hub.close_all(SHUTTING_DOWN)

    try:
        async with (
            server.hub.open_service(),
            deliveries.install(server).open_service(),
            trio.open_nursery() as nursery,
        ):
            binds: list[str] = await nursery.start(
                lambda task_status: worker_serve(
                    wrap_app(app, hconfig.wsgi_max_body_size, None),
                    hconfig,
                    sockets=Sockets([], [listener], []),
                    shutdown_trigger=shut_down_when_triggered,
                    task_status=task_status,
                )
            )
            everywhere = _all_interfaces(listener)
            log.info("listening on %s%s", binds[0], " (all interfaces)" if everywhere else "")
            url = binds[0].replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]")
            if boot is not None:
                log.info("dev auth enabled for local requests; dev user %s", boot.user_id)
            task_status.started(
                Running(url=url, server=server, dev_user_id=boot.user_id if boot else None)
            )
    finally:
        listener.close()
        server.db.close()


async def _signalled() -> None:
    """Return on the first SIGINT or SIGTERM (the default handlers come back afterwards)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("%s: shutting down", signal.Signals(signum).name)
            return
