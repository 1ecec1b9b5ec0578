"""How client commands print: human (tab-separated), ``--plain`` (one field) or ``--json``.

Human lines keep one record per line: tabs and newlines inside a field are written as ``\\t``
and ``\\n`` so ``cut -f`` and ``while read`` keep working.

Terminal safety: text in human and ``--plain`` output comes from other people (message
bodies, display names, workspace names, server error texts). No control character of it
reaches the terminal: every C0 control, DEL and C1 control (U+0000-U+001F, U+007F-U+009F)
is written out as ``\\xNN`` (``\\t``, ``\\n``, ``\\r`` by name), so ``ESC ] 0 ; ... BEL``
can neither retitle nor clear the terminal, and it stays visible that something was there.
Multi-line text (a slash command's reply) keeps its newlines and tabs. ``--json`` keeps the
exact values: JSON escapes C0 controls itself, and DEL and C1 controls are written as
``\\u007f``-``\\u009f`` escapes, which every JSON parser decodes to the same string.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from typing import Any

import typer

_NAMED = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_CONTROLS = "\x00-\x1f\x7f-\x9f"
_SURROGATES = "\ud800-\udfff"  # lone surrogates cannot be encoded for the terminal at all
_FIELD = re.compile(f"[\\\\{_CONTROLS}{_SURROGATES}]")
_LINE = re.compile(f"[{_CONTROLS}{_SURROGATES}]")
_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_SURROGATES}]")
_JSON_RAW = re.compile("[\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def field(value: object) -> str:
    """One tab-separated field: ``None`` as "", backslash and control characters escaped
    (reversibly: ``\\\\``, ``\\t``, ``\\n``, ``\\r``, ``\\xNN``)."""
    text = "" if value is None else str(value)
    return _FIELD.sub(_escape, text)


def one_line(text: str) -> str:
    """Free text (an error, a notice) as one line with every control character written out;
    printable text, backslashes included, is unchanged."""
    return _LINE.sub(_escape, text)


def terminal_text(text: str) -> str:
    """Multi-line text for the terminal: newlines and tabs kept, every other control
    character written out; printable text is unchanged."""
    return _TEXT.sub(_escape, text)


def row(*values: object) -> str:
    """A human output line of tab-separated fields."""
    return "\t".join(field(value) for value in values)


def _json_safe(text: str) -> str:
    """``text`` (JSON with raw non-ASCII) with DEL and C1 controls as ``\\u`` escapes: they
    only occur inside strings, so the document decodes to the same values."""
    return _JSON_RAW.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def json_text(data: Any) -> str:
    """Pretty JSON (2-space indent, UTF-8 kept) of wire objects or plain data."""
    from clickclack_sdk._convert import to_data

    return _json_safe(json.dumps(to_data(data), indent=2, ensure_ascii=False))


def json_line(data: Any) -> str:
    """Compact one-line JSON (streaming output), terminal-safe like :func:`json_text`."""
    from clickclack_sdk._convert import to_data

    return _json_safe(json.dumps(to_data(data), ensure_ascii=False, separators=(",", ":")))


def emit(output: str, *, human: Iterable[str], plain: Iterable[str], data: Any) -> None:
    """Print the result in the selected ``output`` mode.

    Human and plain lines pass through :func:`terminal_text`, whatever built them, so no
    server-provided control character reaches the terminal; JSON is exact.
    """
    if output == "json":
        typer.echo(json_text(data))
        return
    lines = plain if output == "plain" else human
    text = "".join(terminal_text(line) + "\n" for line in lines)
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


def ndjson(data: Any) -> None:
    """One compact JSON line (streaming output), flushed at once."""
    sys.stdout.write(json_line(data) + "\n")
    sys.stdout.flush()
