"""The ``clickclack`` command line: server commands and (later) the agent-friendly client.

Heavy imports (the server, httpx) happen inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import sys

from clickclack_sdk.cli._app import app

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


def main(argv: list[str] | None = None) -> None:
    args = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    if not args or (args[0].startswith("--") and args[0] not in ("--help", "--version")):
        args = ["serve", *args]
    app(args=args, prog_name="clickclack")
