"""The ``clickclack`` command line: server commands and the agent-friendly client.

Heavy imports (the server, httpx) happen inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import sys

import typer

from clickclack_sdk.cli._app import app
from clickclack_sdk.cli._common import EXIT_FAILURE, EXIT_USAGE, CliError
from clickclack_sdk.cli._config import split_client_args
from clickclack_sdk.cli._output import one_line

__all__ = ["app", "main"]

_BOOL_FLAGS = ("--dev-bootstrap",)


def _normalise_argv(argv: list[str]) -> list[str]:
    """Accept Go-style ``--flag=true|false`` for boolean flags, as the reference CLI does."""
    out: list[str] = []
    for arg in argv:
        name, sep, value = arg.partition("=")
        if sep and name in _BOOL_FLAGS:
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                out.append(name)
                continue
            if lowered in ("0", "false", "no", "off"):
                out.append("--no-" + name.removeprefix("--"))
                continue
        out.append(arg)
    return out


def _usage_line(exc: typer.TyperException) -> str:
    """A command-line error as one line, with where to find help."""
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    message = " ".join(str(message).split()).rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message += f" (see: {ctx.command_path} --help)"
    return f"clickclack: {one_line(message)}"


def main(argv: list[str] | None = None) -> None:
    """Run the command line; exits 0 on success, 2 on usage errors, 3 when the server refuses
    the credential, 4 when something named does not exist, 5 when the server cannot be reached
    and 1 on any other failure.

    Client commands take the global client flags anywhere on the line; they are taken off here
    and handed to the commands as the context object.
    """
    args = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    try:
        client = split_client_args(args)
    except CliError as exc:
        print(f"clickclack: {one_line(exc.message)}", file=sys.stderr)
        sys.exit(exc.code)
    flags = None
    if client is not None:
        flags, args = client
    elif not args or (args[0].startswith("--") and args[0] not in ("--help", "--version")):
        args = ["serve", *args]
    try:
        code = app(args=args, prog_name="clickclack", standalone_mode=False, obj=flags)
    except typer.TyperException as exc:  # bad flags, missing options, unknown commands
        print(_usage_line(exc), file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", EXIT_USAGE))
    except typer.Abort:
        print("clickclack: aborted", file=sys.stderr)
        sys.exit(EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)
