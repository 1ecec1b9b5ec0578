"""``clickclack bot run``: run a bot (``module:bot``) or a multi-account config file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, cast

import typer

if TYPE_CHECKING:
    from clickclack_bots import StartFrom

bot_app = typer.Typer(help="Run bots built with clickclack_bots.", no_args_is_help=True)


@bot_app.command("run")
def run(
    target: Annotated[
        str | None, typer.Argument(help="The bot to run, as module:attribute (e.g. mybot:bot).")
    ] = None,
    server: Annotated[str | None, typer.Option(help="Server URL [env CLICKCLACK_SERVER].")] = None,
    token: Annotated[str | None, typer.Option(help="Bot token (ccb_...).")] = None,
    token_env: Annotated[
        str | None, typer.Option(help="Read the token from this environment variable.")
    ] = None,
    token_file: Annotated[str | None, typer.Option(help="Read the token from this file.")] = None,
    workspace: Annotated[
        str | None, typer.Option(help="Workspace id or slug [default: the token's].")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="First run only: 'now' (new events) or 'beginning' (replay the log)."),
    ] = None,
    state_dir: Annotated[str | None, typer.Option(help="Where cursors are kept.")] = None,
    name: Annotated[str | None, typer.Option(help="Account name (cursor file name).")] = None,
    config: Annotated[
        str | None, typer.Option(help="A JSON/TOML accounts file to run several bots at once.")
    ] = None,
    grace: Annotated[
        float | None, typer.Option(help="Seconds to drain handlers on shutdown.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "INFO",
    callback_addr: Annotated[
        str | None,
        typer.Option(help="Serve slash-command/delivery callbacks on HOST:PORT (e.g. :8787)."),
    ] = None,
    callback_path: Annotated[
        str | None, typer.Option(help="Path of the callback URL [default: /clickclack].")
    ] = None,
    callback_secret_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the signing secrets, comma-separated "
            "[default: CLICKCLACK_CALLBACK_SECRET]."
        ),
    ] = None,
    callback_secret_file: Annotated[
        str | None, typer.Option(help="File holding the signing secrets.")
    ] = None,
) -> None:
    """Run a bot until SIGINT/SIGTERM (drains in-flight handlers, then saves the cursor).

    A bot with slash-command or delivery handlers serves their signed callbacks on
    --callback-addr: register http://HOST:PORT/clickclack as their callback URL and pass their
    signing secrets through CLICKCLACK_CALLBACK_SECRET (or --callback-secret-env/-file).
    """
    from clickclack_bots import run_from_cli

    if start not in (None, "now", "beginning"):
        typer.echo("clickclack: --start must be 'now' or 'beginning'", err=True)
        raise typer.Exit(2)
    code = run_from_cli(
        target,
        server=server,
        token=token,
        token_env=token_env,
        token_file=token_file,
        workspace=workspace,
        start=cast("StartFrom | None", start),
        state_dir=state_dir,
        name=name,
        config=config,
        grace=grace,
        log_level=log_level,
        callback_addr=callback_addr,
        callback_path=callback_path,
        callback_secret_env=callback_secret_env,
        callback_secret_file=callback_secret_file,
    )
    raise typer.Exit(code)
