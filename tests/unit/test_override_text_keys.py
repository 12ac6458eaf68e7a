"""`--set` on a key that holds text keeps the text as typed when TOML would read a number.

QA (Hyperliquid): `mmtrio run --set venue.name=hyperliquid --set venue.account=0x1125…`
was refused with "venue.account = 97880582543779545094639983586022397162369332413: Input
should be a valid string": TOML reads 0x… as a hexadecimal integer, and an address (or an
Extended vault number) is text in the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmtrio.config import load_config
from mmtrio.errors import ConfigError
from mmtrio.packaged import DEFAULT_CONFIG

ADDRESS = "0x11251dfb96a928a539bf4b81bc1298b30d4834bd"


@pytest.fixture(autouse=True)
def _state_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMTRIO_STATE_ROOT", str(tmp_path))


@pytest.mark.parametrize("typed", [ADDRESS, "12345", "1e3", "true"])
def test_a_text_key_keeps_what_was_typed(typed: str) -> None:
    cfg = load_config(DEFAULT_CONFIG, overrides=[f"venue.account={typed}"])
    assert cfg.venue.account == typed


def test_a_quoted_value_and_the_other_keys_read_as_before() -> None:
    keys = [f'venue.account="{ADDRESS}"', "quoting.min_half_spread_ticks=8", "runtime.name=0x10"]
    cfg = load_config(DEFAULT_CONFIG, overrides=keys)
    assert cfg.venue.account == ADDRESS and cfg.quoting.min_half_spread_ticks == 8
    assert cfg.runtime.name == "0x10"
    assert cfg.runtime.state_dir == Path(os.environ["MMTRIO_STATE_ROOT"]) / "0x10"
    with pytest.raises(ConfigError, match="min_half_spread_ticks"):
        load_config(DEFAULT_CONFIG, overrides=["quoting.min_half_spread_ticks=abc"])
