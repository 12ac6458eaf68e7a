"""A paper bot whose venue.symbol is not the recording's: `mmtrio run` and `mmtrio config
check` refuse it with the same message (one function), naming the config key, not a flag run
does not have."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtrio.cli import EXIT_USAGE, main
from mmtrio.errors import ConfigError
from mmtrio.packaged import DEFAULT_CONFIG, SAMPLE_RECORDING
from mmtrio.sim.paper import PaperSpec, build_paper_venue


def sol_config(tmp_path: Path) -> Path:
    """The packaged paper config with venue.symbol SOLUSDT and no data_files: the packaged
    BTCUSDT sample would be replayed."""
    text = DEFAULT_CONFIG.read_text()
    old = '# symbol = "BTCUSDT"         #'
    assert old in text
    path = tmp_path / "config.toml"
    path.write_text(text.replace(old, 'symbol = "SOLUSDT"           #'))
    return path


def test_run_names_venue_symbol_not_a_symbol_flag() -> None:
    with pytest.raises(ConfigError) as err:
        build_paper_venue("binance", PaperSpec(data_files=(SAMPLE_RECORDING,)), "SOLUSDT")
    text = str(err.value)
    assert text.startswith("venue.symbol SOLUSDT does not match the recording, which holds BTCUSDT")
    assert "--symbol" not in text
    assert "--set venue.symbol=" in text and SAMPLE_RECORDING.name in text


def test_sim_still_names_its_symbol_flag() -> None:
    with pytest.raises(ConfigError, match="drop --symbol"):
        build_paper_venue(
            "binance", PaperSpec(data_files=(SAMPLE_RECORDING,)), "SOLUSDT", "--symbol"
        )


def test_config_check_refuses_what_run_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(sol_config(tmp_path))]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "venue.symbol SOLUSDT does not match the recording, which holds BTCUSDT" in err


def test_config_check_accepts_the_recordings_symbol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sol_config(tmp_path)
    path.write_text(path.read_text().replace('symbol = "SOLUSDT"', 'symbol = "BTCUSDT"'))
    assert main(["config", "check", str(path)]) == 0
    assert capsys.readouterr().out.startswith("ok:")
