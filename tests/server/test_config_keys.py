"""The server config file: every key must be a setting; a typo is refused, not ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clickclack_sdk.cli import main
from clickclack_server.config import Config, ConfigError, load_config

SETTINGS = sorted(field.name for field in Config.__attrs_attrs__)


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "server.json"
    path.write_text(json.dumps(document))
    return path


def test_a_misspelt_key_is_refused_with_the_close_match(tmp_path: Path) -> None:
    path = write(tmp_path, {"adress": ":9000", "data": "d"})
    with pytest.raises(ConfigError) as refused:
        load_config(env={}, config_file=path)
    assert str(refused.value) == f"{path}: unknown key 'adress' (did you mean 'addr'?)"


def test_an_unknown_key_without_a_close_match_lists_the_settings(tmp_path: Path) -> None:
    path = write(tmp_path, {"zzz": 1})
    with pytest.raises(ConfigError) as refused:
        load_config(env={}, config_file=path)
    assert str(refused.value) == (
        f"{path}: unknown key 'zzz'; the settings are " + ", ".join(SETTINGS)
    )


def test_every_setting_is_accepted_with_dashes_or_underscores(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"dev-bootstrap": True, "public_url": "http://x", "allow-private-callbacks": False},
    )
    config = load_config(env={}, config_file=path)
    assert config.dev_bootstrap is True and config.public_url == "http://x"
    assert config.allow_private_callbacks is False


@given(st.text(min_size=1).filter(lambda key: key.replace("-", "_") not in SETTINGS))
def test_no_unknown_key_is_ever_ignored(key: str) -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        from clickclack_server.config import check_keys

        check_keys({key: ""}, "server.json")


def test_the_cli_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLICKCLACK_CONFIG", raising=False)
    path = write(tmp_path, {"adress": ":9000"})
    with pytest.raises(SystemExit) as exited:
        main(["migrate", "--config", str(path), "--data", str(tmp_path / "data")])
    assert exited.value.code == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == f"clickclack: {path}: unknown key 'adress' (did you mean 'addr'?)\n"
    assert not (tmp_path / "data").exists()
