"""Start the server: data directories, database, bootstrap, and Hypercorn's Trio worker."""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

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
    """
    server, boot = open_server(config)
    host, port = config.host_port
    hconfig = HypercornConfig()
    hconfig.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
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
                lambda task_status: hypercorn_serve(
                    app, hconfig, shutdown_trigger=shut_down_when_triggered, task_status=task_status
                )
            )
            url = binds[0].replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]")
            log.info("listening on %s", url)
            if boot is not None:
                log.info("dev auth enabled for local requests; dev user %s", boot.user_id)
            task_status.started(
                Running(url=url, server=server, dev_user_id=boot.user_id if boot else None)
            )
    finally:
        server.db.close()


async def _signalled() -> None:
    """Return on the first SIGINT or SIGTERM (the default handlers come back afterwards)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("%s: shutting down", signal.Signals(signum).name)
            return
