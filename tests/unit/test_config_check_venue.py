"""`mmtrio config check`: what the summary says about the venue, and TOML duplicate keys
(issue #20, finding 8).

The summary used to say "Binance LIVE (real money)" for any kind = "binance" config without
testnet = true, even one pointing at a simulated venue on 127.0.0.1; and a key written twice
was reported by line and column only ("Cannot overwrite a value (at line 4, column 4)").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtrio.cli import EXIT_OK, EXIT_USAGE, main
from tests.unit.test_config import shipped_text_elsewhere


def _binance(tmp_path: Path, rest: str, ws: str, *, testnet: bool = False) -> Path:
    text = shipped_text_elsewhere().replace(
        '\nkind = "sim"',
        f'\nkind = "binance"\nrest_url = "{rest}"\nmarket_ws_url = "{ws}"\nprivate_ws_url = "{ws}"',
    )
    if testnet:
        text = text.replace("\ntestnet = false", "\ntestnet = true")
    path = tmp_path / "venue.toml"
    path.write_text(text)
    return path


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["config", "check", str(path)]) == EXIT_OK
    return capsys.readouterr().out


@pytest.mark.parametrize("host", ["127.0.0.1:8123", "localhost:9000", "[::1]:8000"])
def test_loopback_venue_is_not_called_live_money(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    out = _check(_binance(tmp_path, f"http://{host}", f"ws://{host}"), capsys)
    assert "LIVE" not in out and "real money" not in out
    assert "local" in out and host in out


def test_production_binance_is_live(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _binance(tmp_path, "https://fapi.binance.com", "wss://fstream.binance.com")
    assert "Binance LIVE (real money)" in _check(path, capsys)


def test_testnet_is_testnet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _binance(
        tmp_path,
        "https://testnet.binancefuture.com",
        "wss://fstream.binancefuture.com",
        testnet=True,
    )
    out = _check(path, capsys)
    assert "Binance testnet" in out and "LIVE" not in out


def test_unknown_host_is_named_not_called_binance_live(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _binance(tmp_path, "https://venue.example.org", "wss://venue.example.org")
    out = _check(path, capsys)
    assert "venue.example.org" in out and "LIVE (real money)" not in out


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
