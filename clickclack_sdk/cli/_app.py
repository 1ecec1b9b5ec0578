"""Typer application and the server-side commands."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

app = typer.Typer(
    name="clickclack",
    help="ClickClack: self-hosted team chat for humans and agents. No command runs `serve`.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DataOpt = Annotated[
    str | None, typer.Option("--data", help="Data directory [env CLICKCLACK_DATA; default ./data].")
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL, sqlite://PATH [default sqlite://<data>/clickclack.db]."
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="JSON config file layered over the environment.")
]


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and a non-zero exit."""
    typer.echo(f"clickclack: {message}", err=True)
    raise typer.Exit(code)


def _server_modules() -> Any:
    try:
        import clickclack_server.config as config_module
    except ImportError as exc:  # the [server] extra is missing
        fail(f"the server is not installed ({exc.name}); run: pip install 'clickclack[server]'")
    return config_module


def load_server_config(**flags: Any) -> Any:
    config_module = _server_modules()
    config_file = flags.pop("config", None)
    try:
        return config_module.load_config(config_file=config_file, flags=flags)
    except config_module.ConfigError as exc:
        fail(str(exc), 2)


@app.command()
def serve(
    addr: Annotated[
        str | None, typer.Option(help="Listen address HOST:PORT or :PORT [default :8080].")
    ] = None,
    data: DataOpt = None,
    db: DbOpt = None,
    uploads: Annotated[
        str | None, typer.Option(help="Upload storage, file://PATH [default <data>/uploads].")
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
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    import trio

    from clickclack_server.config import ConfigError
    from clickclack_server.runner import run_server

    try:
        trio.run(run_server, cfg)
    except KeyboardInterrupt:
        pass
    except (ConfigError, OSError) as exc:
        fail(str(exc))


@app.command()
def migrate(data: DataOpt = None, db: DbOpt = None, config: ConfigOpt = None) -> None:
    """Apply the embedded SQL migrations (idempotent)."""
    cfg = load_server_config(data=data, db=db, config=config)
    from clickclack_server.db import Database
    from clickclack_server.runner import prepare_data

    database = Database(prepare_data(cfg))
    try:
        applied = database.migrate()
    finally:
        database.close()
    for name in applied:
        typer.echo(f"applied {name}")
    typer.echo(f"migrations up to date ({cfg.db_path})")


@app.command()
def version() -> None:
    """Print the version."""
    from clickclack_sdk import __version__

    typer.echo(f"clickclack {__version__} (python {sys.version.split()[0]})")
