"""Typer application and the server-side commands.

Help is plain text (no rich panels): it is stable to read, to diff against docs/cli.md and to
parse by agents, and ``clickclack --help`` never imports rich or the server.
"""

from __future__ import annotations

import logging
import sys
from functools import partial
from typing import Annotated

import typer

from clickclack_sdk.cli._admin import admin_app
from clickclack_sdk.cli._admin_credentials import sessions_app
from clickclack_sdk.cli._admin_hooks import slash_command_app
from clickclack_sdk.cli._bot_cmds import bot_app
from clickclack_sdk.cli._client_cmds import register as register_client_commands
from clickclack_sdk.cli._common import (
    EXIT_USAGE,
    ConfigOpt,
    DataOpt,
    DbOpt,
    Progress,
    existing_database_path,
    fail,
    load_server_config,
    opening_database,
    reported_errors,
    server_missing_hint,
)

__all__ = ["app", "fail", "load_server_config"]

app = typer.Typer(
    name="clickclack",
    help="ClickClack: self-hosted team chat for humans and agents. No command runs `serve`.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(admin_app, name="admin")
admin_app.add_typer(slash_command_app, name="slash-command")
admin_app.add_typer(sessions_app, name="sessions")
app.add_typer(bot_app, name="bot")


def _print_version(value: bool) -> None:
    if value:
        from clickclack_sdk import __version__

        typer.echo(f"clickclack {__version__} (python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """ClickClack: self-hosted team chat for humans and agents. No command runs `serve`."""


@app.command()
def serve(
    addr: Annotated[
        str | None,
        typer.Option(
            help="Listen address HOST:PORT, or :PORT for every interface (default "
            "127.0.0.1:8080, this machine only)."
        ),
    ] = None,
    data: DataOpt = None,
    db: DbOpt = None,
    uploads: Annotated[
        str | None, typer.Option(help="Upload storage, file://PATH (default <data>/uploads).")
    ] = None,
    environment: Annotated[str | None, typer.Option(help="Deployment environment label.")] = None,
    config: ConfigOpt = None,
    dev_bootstrap: Annotated[
        bool | None,
        typer.Option(
            "--dev-bootstrap/--no-dev-bootstrap",
            help="Create the Local Captain user, ClickClack workspace and #general on an empty "
            "database, and allow loopback-only dev auth.",
        ),
    ] = None,
    public_url: Annotated[
        str | None, typer.Option(help="Public URL of this server (for origins).")
    ] = None,
) -> None:
    """Run the HTTP/WebSocket server (the default command)."""
    cfg = load_server_config(
        addr=addr,
        data=data,
        db=db,
        uploads=uploads,
        environment=environment,
        config=config,
        dev_bootstrap=dev_bootstrap,
        public_url=public_url,
    )
    from clickclack_server.config import ConfigError

    try:
        _ = cfg.host_port  # a malformed --addr is a usage error, before anything starts
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # callbacks: no line per request
    import trio

    try:
        from clickclack_server.runner import ListenError, run_server
    except ImportError as exc:  # a broken install (require_server found the modules)
        fail(server_missing_hint(str(exc.name).partition(".")[0]))
    # Start-up failures (before anything is served) come out of trio.run unwrapped.
    with opening_database(cfg.db_path):
        try:
            trio.run(partial(run_server, cfg, handle_signals=True))
        except KeyboardInterrupt:  # a second Ctrl-C during the graceful shutdown
            pass
        except ListenError as exc:
            fail(str(exc))
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
        except OSError as exc:  # e.g. the data directory cannot be created
            detail = exc.strerror or str(exc)
            fail(f"{detail}: {exc.filename}" if exc.filename else detail)


@app.command()
def migrate(data: DataOpt = None, db: DbOpt = None, config: ConfigOpt = None) -> None:
    """Apply the embedded SQL migrations (idempotent)."""
    cfg = load_server_config(data=data, db=db, config=config)
    from clickclack_server.db import Database
    from clickclack_server.runner import prepare_data

    with opening_database(cfg.db_path):
        database = Database(prepare_data(cfg))
        try:
            applied = database.migrate()
        finally:
            database.close()
    for name in applied:
        typer.echo(f"applied {name}")
    typer.echo(f"migrations up to date ({cfg.db_path})")


@app.command()
def backup(
    out: Annotated[str, typer.Option(help="Path of the backup file to write.")],
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write a hot SQLite backup of the database.

    Safe while serve is running: uses SQLite's online backup API from one read snapshot,
    writes a temp file next to --out, verifies it and renames it into place. Refuses to replace
    an existing file without --force. Prints nothing on success.
    """
    with reported_errors():
        source = existing_database_path(data, db, config)
        from clickclack_sdk.cli._dump import backup_database

        progress = Progress("backup")
        try:
            size = backup_database(source, out, force=force, progress=progress)
        except BaseException:
            progress.finish()
            raise
        progress.finish(f"wrote {out} ({size} bytes)")


@app.command()
def export(
    out: Annotated[str, typer.Option(help="JSON file to write, or - for stdout.")] = "-",
    data: DataOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write a JSON dump of the chat data to a file or stdout.

    Users, workspaces and members, channels, messages, threads, reactions, upload metadata and
    DMs, from one consistent snapshot (safe while serve is running). Never includes secrets or
    their hashes. A file is written to a temp file and renamed over --out when complete.
    """
    with reported_errors():
        source = existing_database_path(data, db, config)
        from clickclack_sdk.cli._dump import export_database

        progress = Progress("export")
        if out == "-" and sys.stdout.isatty():
            progress.enabled = False  # the JSON itself is on this terminal
        try:
            rows = export_database(source, out, progress=progress)
        except BrokenPipeError:
            # The reader went away (e.g. `| head`): stop quietly, like other Unix tools.
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(1) from None
        except BaseException:
            progress.finish()
            raise
        progress.finish(f"exported {rows} rows" + ("" if out == "-" else f" to {out}"))


@app.command()
def version() -> None:
    """Print the version."""
    from clickclack_sdk import __version__

    typer.echo(f"clickclack {__version__} (python {sys.version.split()[0]})")


register_client_commands(app)
