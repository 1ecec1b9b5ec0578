"""Commands: argument parsing from a handler's type hints, usage lines and the generated help.

A command handler is ``async def deploy(ctx: CommandContext, service: str, env: Env = Env.prod,
*, force: bool = False) -> None``. The parameters after the context become the command line:

- positional parameters are positional arguments (a default makes one optional) and may also
  be given as ``--name value``; keyword-only parameters are ``--name value`` options only;
- ``bool`` parameters are flags: ``--force`` sets True, ``--no-force`` sets False;
- ``*rest`` collects the remaining positional words (converted to its annotation);
- ``str``, ``int``, ``float``, ``Enum`` subclasses (by name or value, case-insensitive),
  ``Literal[...]`` choices and ``X | None`` (default ``None``) are understood.

Words are split like a shell (``"two words"`` is one argument). Anything the parser cannot use
raises :class:`UsageError`, which the runtime answers with the message and the usage line.
"""

from __future__ import annotations

import enum
import inspect
import re
import shlex
import types
from collections.abc import Callable, Sequence
from typing import Any, Literal, Union, get_args, get_origin

import attrs

COMMAND_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
"""What the server accepts in a command menu (after its ``/``), so every command can be listed."""

_MISSING: Any = inspect.Parameter.empty


class UsageError(Exception):
    """The command line does not fit the command: the message says why, for the user."""


@attrs.frozen(kw_only=True)
class Param:
    """One command-line parameter derived from a handler parameter."""

    name: str
    kind: Literal["positional", "option", "flag", "rest"]
    convert: Callable[[str], Any]
    type_name: str
    default: Any = _MISSING
    choices: tuple[str, ...] = ()
    keyword_only: bool = False

    @property
    def required(self) -> bool:
        return self.kind == "positional" and self.default is _MISSING

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def usage(self) -> str:
        if self.kind == "flag":
            return f"[{self.option}]"
        if self.kind == "option":
            return f"[{self.option} {self.name.upper()}]"
        if self.kind == "rest":
            return f"[{self.name}...]"
        return f"<{self.name}>" if self.required else f"[{self.name}]"

    def describe(self) -> str:
        text = f"{self.usage()}: {self.type_name}"
        if self.choices:
            text += " (one of " + ", ".join(self.choices) + ")"
        if self.kind != "flag" and self.default is not _MISSING and self.default is not None:
            shown = self.default.name if isinstance(self.default, enum.Enum) else self.default
            text += f", default {shown}"
        return text


def _scalar(annotation: Any, name: str) -> tuple[Callable[[str], Any], str, tuple[str, ...]]:
    """The converter, type name and choices for one (non-optional) annotation."""
    if annotation is str or annotation is _MISSING or annotation is Any:
        return str, "text", ()
    if annotation is int:
        return _number(int, "a whole number", name), "whole number", ()
    if annotation is float:
        return _number(float, "a number", name), "number", ()
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum(annotation, name), "choice", tuple(m.name for m in annotation)
    if get_origin(annotation) is Literal:
        values = get_args(annotation)
        if all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            return _literal(values, name), "choice", tuple(str(v) for v in values)
    raise TypeError(f"command parameter {name!r}: unsupported type {annotation!r}")


def _number(cls: type[int] | type[float], what: str, name: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return cls(text)
        except ValueError:
            raise UsageError(f"{name} must be {what}, got {text!r}") from None

    return convert


def _enum(cls: type[enum.Enum], name: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        wanted = text.casefold()
        for member in cls:
            if member.name.casefold() == wanted or str(member.value).casefold() == wanted:
                return member
        choices = ", ".join(m.name for m in cls)
        raise UsageError(f"{name} must be one of {choices}, got {text!r}")

    return convert


def _literal(values: Sequence[Any], name: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        for value in values:
            if str(value).casefold() == text.casefold():
                return value
        choices = ", ".join(str(v) for v in values)
        raise UsageError(f"{name} must be one of {choices}, got {text!r}")

    return convert


def _unwrap_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def build_params(func: Callable[..., Any]) -> list[Param]:
    """The command-line parameters of ``func`` (every parameter after the context)."""
    try:
        signature = inspect.signature(func, eval_str=True)
    except NameError as exc:
        raise TypeError(
            f"cannot resolve the type hints of command {func.__qualname__}: {exc} "
            "(define the types at module level)"
        ) from exc
    parameters = list(signature.parameters.values())
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise TypeError(f"command {func.__qualname__} must take the context as first argument")
    result: list[Param] = []
    for parameter in parameters[1:]:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            raise TypeError(f"command {func.__qualname__}: **{parameter.name} is not supported")
        annotation = _unwrap_optional(parameter.annotation)
        default = parameter.default
        if annotation is not parameter.annotation and default is _MISSING:
            default = None
        if annotation is bool:
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                raise TypeError(f"command {func.__qualname__}: *{parameter.name} cannot be bool")
            result.append(
                Param(
                    name=parameter.name,
                    kind="flag",
                    convert=bool,
                    type_name="flag",
                    default=False if default is _MISSING else default,
                    keyword_only=parameter.kind is inspect.Parameter.KEYWORD_ONLY,
                )
            )
            continue
        convert, type_name, choices = _scalar(annotation, parameter.name)
        kind: Literal["positional", "option", "rest"]
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            kind, default = "rest", _MISSING
        elif parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kind = "option"
            if default is _MISSING:
                raise TypeError(
                    f"command {func.__qualname__}: keyword-only {parameter.name!r} needs a default"
                )
        else:
            kind = "positional"
        result.append(
            Param(
                name=parameter.name,
                kind=kind,
                convert=convert,
                type_name=type_name,
                default=default,
                choices=choices,
                keyword_only=kind == "option",
            )
        )
    return result


@attrs.frozen(kw_only=True)
class Invocation:
    """A parsed command line: what to call the handler with (after the context)."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def parse_arguments(params: Sequence[Param], text: str) -> Invocation:
    """Parse the words after the command name according to ``params``."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"cannot read the arguments: {exc}") from None
    by_option = {p.option: p for p in params if p.kind != "rest"}
    positional: list[str] = []
    named: dict[str, Any] = {}
    index = 0
    only_positional = False
    while index < len(words):
        word = words[index]
        index += 1
        if only_positional or not word.startswith("--") or word == "--":
            if word == "--" and not only_positional:
                only_positional = True
                continue
            positional.append(word)
            continue
        option, has_value, value = word.partition("=")
        param = by_option.get(option)
        if param is None and option.startswith("--no-"):
            negated = by_option.get("--" + option.removeprefix("--no-"))
            if negated is not None and negated.kind == "flag" and not has_value:
                named[negated.name] = False
                continue
        if param is None:
            raise UsageError(f"unknown option {option}")
        if param.name in named:
            raise UsageError(f"{option} given twice")
        if param.kind == "flag":
            if has_value:
                raise UsageError(f"{option} is a flag and takes no value")
            named[param.name] = True
            continue
        if not has_value:
            if index >= len(words):
                raise UsageError(f"{option} needs a value")
            value = words[index]
            index += 1
        named[param.name] = param.convert(value)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    queue = list(positional)
    for param in params:
        if param.kind == "rest":
            args.extend(param.convert(word) for word in queue)
            queue = []
            continue
        if param.name in named:
            value = named.pop(param.name)
        elif param.kind == "positional" and queue:
            value = param.convert(queue.pop(0))
        elif param.required:
            raise UsageError(f"missing argument <{param.name}>")
        else:
            value = param.default
        if param.keyword_only:
            kwargs[param.name] = value
        else:
            args.append(value)
    if queue:
        raise UsageError("too many arguments: " + " ".join(queue))
    return Invocation(args=tuple(args), kwargs=kwargs)


@attrs.frozen(kw_only=True)
class CommandSpec:
    """A registered command: its names, description and parameters."""

    name: str
    aliases: tuple[str, ...]
    description: str
    params: tuple[Param, ...]
    hidden: bool = False

    @property
    def args_hint(self) -> str:
        """The argument part of the usage line (the menu's ``args_hint``)."""
        return " ".join(p.usage() for p in self.params)

    def usage(self, prefix: str) -> str:
        hint = self.args_hint
        return f"{prefix}{self.name} {hint}".rstrip()

    def help(self, prefix: str) -> str:
        """The detailed help shown by ``help <command>``."""
        lines = [f"`{self.usage(prefix)}`", self.description]
        if self.aliases:
            lines.append("Also: " + ", ".join(prefix + alias for alias in self.aliases))
        for param in self.params:
            lines.append(f"- {param.describe()}")
        return "\n".join(line for line in lines if line)


def describe_function(func: Callable[..., Any]) -> str:
    """The first paragraph of ``func``'s docstring, on one line ("" when undocumented)."""
    doc = inspect.getdoc(func) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def split_command(text: str, prefixes: Sequence[str], handle: str | None) -> tuple[str, str] | None:
    """``(name, argument text)`` when ``text`` invokes a command: ``!name args`` with one of
    ``prefixes``, or ``@handle name args`` addressed to the bot. ``None`` otherwise."""
    stripped = text.strip()
    rest: str | None = None
    for prefix in prefixes:
        if prefix and stripped.startswith(prefix):
            rest = stripped[len(prefix) :]
            break
    if rest is None and handle:
        match = re.match(rf"@{re.escape(handle)}(?![\w-])[\s,:]*", stripped, re.IGNORECASE)
        if match:
            rest = stripped[match.end() :]
    if not rest or rest[0].isspace():
        return None
    name, _, arguments = rest.partition(" ")
    head, _, tail = name.partition("\n")
    if tail:
        arguments = tail + (" " + arguments if arguments else "")
    return head.lower(), arguments.strip()
