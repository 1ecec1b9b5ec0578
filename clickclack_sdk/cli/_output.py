"""How client commands print: human (tab-separated), ``--plain`` (one field) or ``--json``.

Human lines keep one record per line: tabs and newlines inside a field are written as ``\\t``
and ``\\n`` so ``cut -f`` and ``while read`` keep working.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import typer


def field(value: object) -> str:
    """One tab-separated field: ``None`` as "", control whitespace escaped."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def row(*values: object) -> str:
    """A human output line of tab-separated fields."""
    return "\t".join(field(value) for value in values)


def json_text(data: Any) -> str:
    """Pretty JSON (2-space indent, UTF-8 kept) of wire objects or plain data."""
    from clickclack_sdk._convert import to_data

    return json.dumps(to_data(data), indent=2, ensure_ascii=False)


def emit(output: str, *, human: Iterable[str], plain: Iterable[str], data: Any) -> None:
    """Print the result in the selected ``output`` mode."""
    if output == "json":
        typer.echo(json_text(data))
        return
    lines = plain if output == "plain" else human
    text = "".join(line + "\n" for line in lines)
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


def ndjson(data: Any) -> None:
    """One compact JSON line (streaming output), flushed at once."""
    from clickclack_sdk._convert import to_data

    sys.stdout.write(json.dumps(to_data(data), ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()
