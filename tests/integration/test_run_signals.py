"""`mmtrio run` as a real subprocess: SIGTERM/SIGINT stop it with zero open orders at the venue
(the sim's ground truth dumped at exit), SIGHUP applies a changed spread/gamma and refuses a
changed symbol (the old config stays and the bot keeps quoting)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_run_engine import write_config

MMTRIO = [sys.executable, "-m", "mmtrio"]


def _start(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*MMTRIO, "run", "--config", str(cfg)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cfg.parent,
            umask=0o022,  # an operator's shell, not systemd's UMask=0077
        )


def _wait_log(log: Path, needle: str, timeout_s: float, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if needle in text:
            return text
        if proc.poll() is not None:
            break
        time.sleep(0.1)  # a real process: real time is the only clock it has
    raise AssertionError(f"{needle!r} not in the log:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_with_zero_open_orders(tmp_path: Path, sig: signal.Signals) -> None:
    cfg = write_config(tmp_path)
    log = tmp_path / "run.log"
    # What an older version left: the sim's dump and the log readable by group and others.
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    for name in ("sim_final.json", "mmtrio.log"):
        (state / name).write_text("")
        (state / name).chmod(0o644)
    proc = _start(cfg, log)
    try:
        _wait_log(log, "now mode 0600: mmtrio.log (was 0644), sim_final.json (was 0644)", 60, proc)
        _wait_log(log, "SELL", 60, proc)  # an order was placed
        _wait_log(log, "| quotes BUY ", 60, proc)  # and a bid rests (status line)
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "zero open orders confirmed" in text
    truth = json.loads((tmp_path / "state" / "sim_final.json").read_text())
    assert truth["open_orders"] == []
    assert truth["orders"], "the venue saw orders"
    # Every file the bot wrote in its state directory is its own (sim_final.json included).
    modes = {
        p.name: oct(p.stat().st_mode & 0o777)
        for p in state.iterdir()
        if p.is_file() and not p.is_symlink()
    }
    assert "sim_final.json" in modes and "journal.sqlite3" in modes
    assert set(modes.values()) == {"0o600"}, modes


def test_sighup_applies_gamma_and_refuses_symbol(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    log = tmp_path / "run.log"
    proc = _start(cfg, log)
    try:
        _wait_log(log, "| quotes ", 60, proc)
        text = cfg.read_text()
        cfg.write_text(
            text.replace("gamma = 10.0 ", "gamma = 0.2 ").replace(
                "min_half_spread_ticks = 16 ", "min_half_spread_ticks = 3 "
            )
        )
        proc.send_signal(signal.SIGHUP)
        out = _wait_log(log, "config reload: ", 20, proc)
        assert "quoting.gamma: 10.0 → 0.2" in out
        assert "quoting.min_half_spread_ticks: 16 → 3" in out
        cfg.write_text(
            cfg.read_text().replace('\nmode = "paper"', '\nmode = "paper"\nsymbol = "ETHUSDT"')
        )
        proc.send_signal(signal.SIGHUP)
        out = _wait_log(log, "config reload refused", 20, proc)
        assert "venue.symbol" in out
        # Still trading BTCUSDT: a later status line still names it and shows the bot alive.
        mark = len(out)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "(BTCUSDT) ACTIVE" not in log.read_text()[mark:]:
            time.sleep(0.2)
        assert "(BTCUSDT) ACTIVE" in log.read_text()[mark:]
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0
    assert json.loads((tmp_path / "state" / "sim_final.json").read_text())["open_orders"] == []
    assert os.path.exists(tmp_path / "state" / "journal.sqlite3")


def test_sighup_keeps_the_command_line_overrides_and_survives_the_start(tmp_path: Path) -> None:
    """A reload reads the file as the command did (``--set`` included): an unchanged file is
    "no change", not a revert of the override. A SIGHUP while the bot is still starting does
    not end it (Python's default action would): it is noted, or applied if the receiver runs."""
    cfg = write_config(tmp_path)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*MMTRIO, "run", "--config", str(cfg), "--set", "quoting.gamma=0.3"],
            stdout=out, stderr=subprocess.STDOUT, cwd=cfg.parent,
        )  # fmt: skip
    try:
        _wait_log(log, "bot ", 60, proc)  # `run` is past its first step: SIGHUP is noted
        proc.send_signal(signal.SIGHUP)
        _wait_log(log, "| quotes ", 60, proc)
        early = log.read_text()
        assert proc.poll() is None, early[-3000:]
        assert "SIGHUP received while the bot was starting" in early or "config reload" in early, (
            early[-3000:]
        )
        mark = len(early)
        proc.send_signal(signal.SIGHUP)  # the file is unchanged
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "config reload" not in log.read_text()[mark:]:
            time.sleep(0.1)  # a real process: real time is the only clock it has
        later = log.read_text()[mark:]
        assert "config reload: no change" in later, later[-3000:]
        assert "gamma" not in later
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, log.read_text()[-3000:]


def test_sigterm_while_starting_is_a_clean_stop(tmp_path: Path) -> None:
    """SIGTERM in the seconds `run` needs to start (here: right after its first log line, while
    the paper venue starts) is the ordinary stop, not Python's default death (exit -15)."""
    cfg = write_config(tmp_path)
    log = tmp_path / "run.log"
    proc = _start(cfg, log)
    try:
        _wait_log(log, "bot ", 60, proc)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "SIGTERM received" in text, text[-3000:]
