"""Hyperliquid with real processes: the dead-man after a SIGKILL, a restart that reconciles,
and a clean stop.

``mmtrio sim --venue hyperliquid`` is the venue; ``mmtrio run`` (``mode = "testnet"`` with
loopback URLs, the paper agent key in ``MMTRIO_PRIVATE_KEY`` and the paper account in
``[venue] account``) quotes on it. The bot is SIGKILLed while quoting: no cleanup runs, so
its orders rest until the venue's ``scheduleCancel`` time passes (countdown 6 s, refreshed
every 2 s): the venue then cancels them (``scheduledCancel``, one trigger of the day). A new
bot on the same state directory recovers from the journal, reconciles (every venue fill
journaled once, the position the venue's) and quotes with new cloids; SIGTERM stops it with
zero open orders and the dead-man disarmed.
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_crash_recovery import MMTRIO, _journal, _start_sim, _text, _truth, _wait
from tests.integration.test_run_engine import write_config

pytestmark = pytest.mark.integration
COUNTDOWN_MS = 6_000


def _config(tmp: Path, urls: dict[str, Any]) -> Path:
    path = write_config(tmp, speed=4.0)
    text = path.read_text()
    creds = urls["credentials"]
    text = text.replace('name = "binance"', 'name = "hyperliquid"', 1)
    text = re.sub(
        r'^mode = "paper".*$',
        f'mode = "testnet"\nsymbol = "BTC"\naccount = "{creds["account"]}"\n'
        f'rest_url = "{urls["rest"]}"\nmarket_ws_url = "{urls["ws"]}"\n'
        f'private_ws_url = "{urls["ws"]}"',
        text,
        count=1,
        flags=re.M,
    )
    text = text.replace("deadman_countdown_ms = 30000", f"deadman_countdown_ms = {COUNTDOWN_MS}")
    text = text.replace("deadman_refresh_ms = 10000", "deadman_refresh_ms = 2000")
    text = text[: text.index("[sim]")] + text[text.index("[quoting]") :]
    path.write_text(text)
    return path


def _start_bot(cfg: Path, log: Path, key: str) -> subprocess.Popen[bytes]:
    import os

    with log.open("wb") as out:
        return subprocess.Popen(
            [*MMTRIO, "run", "--config", str(cfg)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cfg.parent,
            env={**os.environ, "MMTRIO_PRIVATE_KEY": key},
        )


def test_dead_man_fires_after_a_kill_and_a_restart_reconciles(tmp_path: Path) -> None:
    sim, urls = _start_sim_hl(tmp_path)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        cfg = _config(tmp_path, urls)
        assert f"deadman_countdown_ms = {COUNTDOWN_MS}" in cfg.read_text()
        admin, key = urls["admin"], urls["credentials"]["private_key"]
        first = _start_bot(cfg, tmp_path / "run1.log", key)
        procs.append(first)
        _wait(lambda: len(_truth(admin)["open_orders"]) >= 1, 60, "a quote resting")
        _wait(lambda: _truth(admin)["countdown_ms"] > 0, 10, "the dead-man armed")
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        # An order of "another client" of the account, far from the market: it will still
        # rest when the time passes (the bot's own quotes may fill first).
        book = httpx.post(f"{urls['rest']}/info", json={"type": "l2Book", "coin": "BTC"}).json()
        far = str(int(float(book["levels"][0][0]["px"]) * 0.9))
        placed = httpx.post(
            f"{admin}/admin/order", json={"b": "true", "p": far, "s": "0.002", "tif": "Alo"}
        ).json()
        assert "resting" in placed, placed
        resting = set(_truth(admin)["open_orders"])
        # Nobody refreshes the time any more: the venue cancels everything when it passes.
        _wait(lambda: not _truth(admin)["open_orders"], 20, "the scheduled cancel")
        truth = _truth(admin)
        assert truth["countdown_fired"] and truth["countdown_fired"][0]["cancelled"] >= 1
        words = {
            httpx.post(
                f"{urls['rest']}/info",
                json={"type": "orderStatus", "user": truth_account(urls), "oid": cid},
            ).json()["order"]["status"]
            for cid in resting
        }
        # each resting quote was cancelled by the dead-man (or filled before it fired)
        assert "scheduledCancel" in words and words <= {"scheduledCancel", "filled"}

        second = _start_bot(cfg, tmp_path / "run2.log", key)
        procs.append(second)
        log2 = tmp_path / "run2.log"
        _wait(lambda: "reconcile (start)" in _text(log2), 60, "the restart's recovery")
        _wait(lambda: len(_truth(admin)["open_orders"]) >= 1, 60, "a quote after the restart")
        assert not set(_truth(admin)["open_orders"]) & resting  # new epoch, new cloids
        second.send_signal(signal.SIGTERM)
        code = second.wait(timeout=30)
        text = _text(log2)
        assert code in (0, 3), text[-3000:]
        assert "zero open orders confirmed" in text, text[-3000:]
        truth = _truth(admin)
        assert truth["open_orders"] == [] and truth["countdown_ms"] == 0  # disarmed at the stop
        ids, lots, recs, _, _ = _journal_hl(tmp_path / "state")
        assert ids == {f["trade_id"] for f in truth["fills"]}  # every venue fill, once
        assert lots == truth["position"]["lots"]
        starts = [r for r in recs if r["phase"] == "start"]
        assert all(r["position_gap_lots"] == 0 for r in starts), starts
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()


def truth_account(urls: dict[str, Any]) -> str:
    return str(urls["credentials"]["account"])


def _start_sim_hl(tmp: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    return _start_sim(tmp, "--venue", "hyperliquid", "--speed", "1")  # the last --speed wins


def _journal_hl(state: Path) -> tuple[set[int], int, list[dict[str, object]], list[int], list[str]]:
    return _journal(state, symbol="BTC")
