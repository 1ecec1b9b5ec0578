"""Server configuration: defaults < ``CLICKCLACK_*`` environment < JSON config file < flags."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names it."""


DEFAULT_ADDR = "127.0.0.1:8080"
"""Loopback: a server is reachable from other machines only when an address says so."""


@attrs.frozen(kw_only=True)
class Config:
    addr: str = DEFAULT_ADDR
    data: str = "./data"
    db: str = ""
    uploads: str = ""
    environment: str = ""
    dev_bootstrap: bool = False
    public_url: str = ""
    frontend_url: str = ""
    access_log: str = "errors"
    allow_private_callbacks: bool | None = None

    @property
    def data_dir(self) -> Path:
        return Path(self.data)

    @property
    def db_path(self) -> Path:
        """The SQLite file behind ``db`` (``sqlite://PATH``; empty = ``<data>/clickclack.db``)."""
        if not self.db:
            return self.data_dir / "clickclack.db"
        if self.db.startswith("sqlite://"):
            return Path(self.db.removeprefix("sqlite://"))
        if self.db.startswith(("postgres://", "postgresql://")):
            raise ConfigError("postgres is not supported by this server yet; use sqlite://PATH")
        raise ConfigError(f"unsupported --db {self.db!r}; expected sqlite://PATH")

    @property
    def uploads_dir(self) -> Path:
        if not self.uploads:
            return self.data_dir / "uploads"
        if self.uploads.startswith("file://"):
            return Path(self.uploads.removeprefix("file://"))
        raise ConfigError(f"unsupported --uploads {self.uploads!r}; expected file://PATH")

    @property
    def host_port(self) -> tuple[str, int]:
        """``--addr`` as (host, port). The default is loopback (``127.0.0.1:8080``); an
        explicit ``:8080`` listens on all interfaces like Go's net/http."""
        host, sep, port = self.addr.rpartition(":")
        if not sep or not (port.isascii() and port.isdigit()):
            raise ConfigError(f"invalid --addr {self.addr!r}; expected HOST:PORT or :PORT")
        if int(port) > 65535:
            raise ConfigError(f"invalid --addr {self.addr!r}: the port must be 0-65535")
        host = host.strip("[]") or "0.0.0.0"
        return host, int(port)

    @property
    def callbacks_may_target_private(self) -> bool:
        """Whether slash/subscription callbacks may reach loopback and private addresses."""
        if self.allow_private_callbacks is not None:
            return self.allow_private_callbacks
        return self.dev_bootstrap


_FIELDS = {field.name: field for field in attrs.fields(Config)}


def _coerce(name: str, value: Any, source: str) -> Any:
    field_type = str(_FIELDS[name].type)
    if field_type in ("bool", "bool | None"):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{source}: {name} must be a boolean, got {value!r}")
    if not isinstance(value, str):
        raise ConfigError(f"{source}: {name} must be a string, got {value!r}")
    return value


def check_keys(document: Mapping[str, Any], source: str) -> None:
    """Refuse a config file key that is no setting (a typo would otherwise be ignored)."""
    for key in document:
        if key.replace("-", "_") in _FIELDS:
            continue
        close = difflib.get_close_matches(key.replace("-", "_"), list(_FIELDS), n=1)
        if close:
            raise ConfigError(f"{source}: unknown key {key!r} (did you mean {close[0]!r}?)")
        settings = ", ".join(sorted(_FIELDS))
        raise ConfigError(f"{source}: unknown key {key!r}; the settings are {settings}")


def load_config(
    *,
    env: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Config:
    """Layer the sources; ``flags`` holds only flags the user set explicitly."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for name in _FIELDS:
        key = "CLICKCLACK_" + name.upper()
        if key in env:
            values[name] = _coerce(name, env[key], key)
    config_file = config_file or env.get("CLICKCLACK_CONFIG") or None
    if config_file:
        path = Path(config_file)
        try:
            loaded = json.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a JSON object")
        check_keys(loaded, str(path))
        for key, value in loaded.items():
            name = key.replace("-", "_")
            values[name] = _coerce(name, value, str(path))
    for name, value in (flags or {}).items():
        if value is not None:
            values[name] = _coerce(name, value, "--" + name.replace("_", "-"))
    return Config(**values)
