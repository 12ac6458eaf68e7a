"""`mmtrio config check`: what the summary says about the venue, and TOML duplicate keys
(issue #20, finding 8).

The summary used to say "Binance LIVE (real money)" for a config pointing at a simulated
venue on 127.0.0.1 (the venue seam now refuses loopback URLs in live mode, and calls a
loopback test venue a testnet); and a key written twice was reported by line and column
only ("Cannot overwrite a value (at line 4, column 4)"): now by the key and both lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtrio.cli import EXIT_OK, EXIT_USAGE, main
from tests.unit.test_config import shipped_text_elsewhere


def _binance(tmp_path: Path, mode: str, rest: str, ws: str) -> Path:
    text = shipped_text_elsewhere().replace(
        '\nmode = "paper"',
        f'\nmode = "{mode}"\nsymbol = "BTCUSDT"\nrest_url = "{rest}"\n'
        f'market_ws_url = "{ws}"\nprivate_ws_url = "{ws}"',
    )
    text = text[: text.index("[sim]")] + text[text.index("[quoting]") :]
    path = tmp_path / "venue.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("host", ["127.0.0.1:8123", "localhost:9000", "[::1]:8000"])
def test_a_loopback_venue_is_never_called_live_money(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    # live mode on loopback is refused, naming the fix ...
    live = _binance(tmp_path, "live", f"http://{host}", f"ws://{host}")
    assert main(["config", "check", str(live)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "loopback" in err and "mode = 'paper'" in err
    # ... and a test venue on loopback (an external sim) is what it is: a testnet
    test = _binance(tmp_path, "testnet", f"http://{host}", f"ws://{host}")
    assert main(["config", "check", str(test)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "LIVE" not in out and "real money" not in out and "testnet" in out


def test_production_binance_is_live(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _binance(tmp_path, "live", "https://fapi.binance.com", "wss://fstream.binance.com")
    assert main(["config", "check", str(path)]) == EXIT_OK
    assert "LIVE (real money" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        # a key written twice in one table
        ("[quoting]\ngamma = 0.1\nkappa = 2\ngamma = 0.2\n", ["quoting.gamma", "line 4", "line 2"]),
        # a top-level key written twice
        ('title = "a"\ntitle = "b"\n', ["'title'", "line 2", "line 1"]),
        # a table declared twice
        ("[risk]\nmax_position = 1\n[risk]\nkill_file = 'x'\n", ["[risk]", "line 3", "line 1"]),
    ],
)
def test_duplicate_key_names_the_key_and_both_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needles: list[str]
) -> None:
    path = tmp_path / "dup.toml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "not valid TOML" in err and "twice" in err, err
    for needle in needles:
        assert needle in err, (needle, err)
