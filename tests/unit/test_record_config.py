"""`mmtrio record` checks its config as `mmtrio run` does, every problem at once
(cli/checkup.py), for what a recording needs: the file, the venue and its URLs, the recording a
paper venue replays, the API keys of a testnet/live session, and a venue with a recording
format. Not the Telegram token: a recording sends no message. It used to stop at the first
stage that failed (the file, then the venue, then the keys)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmtrio.cli import EXIT_USAGE, main
from mmtrio.cli.record import check_record_config
from tests.unit.test_config import shipped_text_elsewhere
from tests.unit.test_config_check_all import TELEGRAM_ON, _config


@pytest.fixture(autouse=True)
def _no_secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MMTRIO_TELEGRAM_TOKEN", "MMTRIO_API_KEY", "MMTRIO_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MMTRIO_PASSPHRASE", raising=False)


def _live(tmp_path: Path, venue: str = "binance") -> Path:
    text = shipped_text_elsewhere().replace(
        '\nmode = "paper"', '\nmode = "live"\nsymbol = "BTCUSDT"'
    )
    text = text.replace('\nname = "binance"', f'\nname = "{venue}"')
    text = text.replace("gamma = 10.0 ", "gamma = 99.0 ")  # a problem of the file itself
    missing = tmp_path / "telegram_token"
    return _config(tmp_path, text, TELEGRAM_ON + f'token_file = "{missing}"\n')


def _record(path: Path, tmp_path: Path) -> list[str]:
    return ["record", "--config", str(path), "--out", str(tmp_path / "rec"), "--duration", "1"]


def test_record_lists_the_file_and_the_keys_at_once_and_not_the_telegram_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_record(_live(tmp_path), tmp_path)) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("mmtrio record: ")
    assert "3 configuration problems" in err, err
    assert "quoting.gamma = 99.0" in err
    assert "no API key: set $MMTRIO_API_KEY" in err and "no API secret" in err
    assert "telegram" not in err.lower()
    assert not (tmp_path / "rec").exists()  # refused before anything was recorded


def test_every_venue_is_checked_as_any_other_and_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OKX (and Hyperliquid, Extended) used to be refused: "no recording format yet"."""
    assert main(_record(_live(tmp_path, "okx"), tmp_path)) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "quoting.gamma = 99.0" in err and "no API key" in err, err
    assert "recording format" not in err
    for name in ("okx", "hyperliquid", "extended"):
        path = tmp_path / f"{name}.toml"
        text = shipped_text_elsewhere().replace('\nname = "binance"', f'\nname = "{name}"', 1)
        path.write_text(text)
        checked = check_record_config(str(path), environ={})
        assert checked.config.venue.name == name and checked.config.venue.mode == "paper"


def test_a_paper_config_with_telegram_on_records_without_its_token(tmp_path: Path) -> None:
    missing = tmp_path / "telegram_token"
    text = shipped_text_elsewhere()
    path = _config(tmp_path, text, TELEGRAM_ON + f'token_file = "{missing}"\n')
    checked = check_record_config(str(path), environ={})
    assert checked.config.venue.mode == "paper" and checked.credentials is None
    assert checked.factory.name == "binance"


def test_the_text_summary_names_events_in_words_not_type_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It printed "BTCUSDT: BookDelta 215, BookSnapshot 1, BookTicker 252, MarkPrice 4, Trade 120".
    import mmtrio.cli.record as record

    counts = {"BookDelta": 215, "BookSnapshot": 1, "BookTicker": 252, "MarkPrice": 1}
    counts |= {"Trade": 1_120, "BookInvalid": 2}
    got: dict[str, object] = {"symbol": "BTCUSDT", "files": [str(tmp_path / "f.gz")]}
    got |= {"events": counts, "dropped": 0, "overflows": 0}

    async def fake_record(*_args: object) -> dict[str, object]:
        return got

    monkeypatch.setattr(record, "check_record_config", lambda _flag: None)
    monkeypatch.setattr(record, "_record", fake_record)
    assert main(["record", "--out", str(tmp_path), "--duration", "1"]) == 0
    cap = capsys.readouterr()
    assert cap.err == ""  # nothing dropped: no word of it
    out = cap.out.splitlines()
    assert out[0] == str(tmp_path / "f.gz")
    assert out[1] == (
        "BTCUSDT: 1 book snapshot, 215 book updates, 1,120 trades, 252 best bid/ask quotes, "
        "1 mark price, 2 book resyncs (no line written)"
    )
    assert main(["record", "--out", str(tmp_path), "--duration", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == counts  # JSON keys as before
    got |= {"dropped": 1_500, "overflows": 2}
    assert main(["record", "--out", str(tmp_path), "--duration", "1"]) == 0
    err = capsys.readouterr().err
    assert "1,500 event(s) dropped in 2 overflow(s)" in err
    assert "resynced from a fresh snapshot" in err
    assert record.event_words({"FundingRate": 3}) == "3 funding rate events"
    assert record.event_words({}) == "no market data received"
