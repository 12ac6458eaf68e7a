"""Secrets never reach a log, the journal or the status screen (DESIGN §4).

A full paper-trading session against an external `mmtrio sim` that accepts only a known fake
key and secret, with ``venue.mode = "testnet"`` on loopback and the credentials in
``MMTRIO_API_KEY`` / ``MMTRIO_API_SECRET`` — the way a live bot gets them. The session quotes
and fills (every order is signed with the secret), answers a status request, and stops on
Ctrl-C / SIGTERM. Then every byte it wrote is searched for the key and the secret: the terminal
output (log lines and the live screen), the rendered screen, headless stdout/stderr (JSON
logs), the status snapshot, and the raw bytes of every file in the state directory (the SQLite
journal, its WAL, the lock).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmtrio.runtime.control import control_request
from tests.integration.test_run_engine import DATA, write_config
from tests.integration.test_run_screen import Terminal, has_quote_and_fill

API_KEY = "fAkEkEy" + "k3y0" * 14  # 63 characters, the shape of a real one
API_SECRET = "fAkEsEcReT" + "s3cr3t" * 9  # never to be seen outside the process


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An external simulated venue that accepts only API_KEY/API_SECRET."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "mmtrio", "sim", "--json", "--speed", "3"),
            *("--data", str(DATA), "--api-key", API_KEY, "--api-secret", API_SECRET),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the sim prints its URLs once it listens
        urls: dict[str, str] = json.loads(line)
        yield urls
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def binance_config(tmp: Path, urls: dict[str, str]) -> Path:
    cfg = write_config(tmp)
    text = cfg.read_text()
    # The external sim is a test venue on loopback: testnet mode (live refuses loopback).
    venue = (
        'mode = "testnet"\n'
        'symbol = "BTCUSDT"\n'
        f'rest_url = "{urls["rest"]}"\n'
        f'market_ws_url = "{urls["ws"]}"\n'
        f'private_ws_url = "{urls["ws"]}"\n'
    )
    old = 'mode = "paper" '
    if old not in text:
        raise AssertionError("config.toml changed: venue.mode line not found")
    cfg.write_text(text.replace(old, venue + "# was: " + old, 1))
    return cfg


def leaks(data: bytes) -> list[str]:
    """Which of the credentials occur in ``data``."""
    return [
        name
        for name, value in (("api key", API_KEY), ("api secret", API_SECRET))
        if value.encode() in data
    ]


def state_files(state: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(state.rglob("*")) if p.is_file()}


def _status(cfg_dir: Path) -> dict[str, object]:
    answer = control_request(cfg_dir / "state" / "control.sock", {"cmd": "status"})
    assert answer.get("ok"), answer
    return answer


def test_no_secret_in_screen_logs_status_or_journal(tmp_path: Path, venue: dict[str, str]) -> None:
    cfg = binance_config(tmp_path, venue)
    env = {"MMTRIO_API_KEY": API_KEY, "MMTRIO_API_SECRET": API_SECRET}
    term = Terminal([sys.executable, "-m", "mmtrio", "run", "--config", str(cfg)], tmp_path, env)
    wal_seen: dict[str, bytes] = {}
    try:
        term.wait_until(has_quote_and_fill, 120, "a quote and a fill on the screen")
        status = json.dumps(_status(tmp_path)).encode()
        # The WAL is checkpointed away at close: read it while the bot runs, too.
        wal_seen = state_files(tmp_path / "state")
        screen = "\n".join(term.lines()).encode()
        code = term.stop()
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
    out = bytes(term.raw)
    assert code == 0, out[-3000:].decode(errors="replace")
    assert b"zero open orders confirmed at the venue" in out  # a full session, stopped clean
    files = {
        **wal_seen,
        **{f"{k} (after stop)": v for k, v in state_files(tmp_path / "state").items()},
    }
    assert any(name.endswith("journal.sqlite3") for name in files), sorted(files)
    assert any("-wal" in name for name in files), sorted(files)
    found = {
        "terminal output": leaks(out),
        "screen": leaks(screen),
        "status": leaks(status),
        **{name: leaks(data) for name, data in files.items()},
    }
    assert all(not v for v in found.values()), {k: v for k, v in found.items() if v}


def test_no_secret_in_headless_json_logs(tmp_path: Path, venue: dict[str, str]) -> None:
    cfg = binance_config(tmp_path, venue)
    env = {**os.environ, "MMTRIO_API_KEY": API_KEY, "MMTRIO_API_SECRET": API_SECRET}
    out_path, err_path = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mmtrio", "run", "--config", str(cfg), "--log-level", "DEBUG"],
            stdout=out,
            stderr=err,
            cwd=tmp_path,
            env=env,
        )
    status = b""
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (tmp_path / "state" / "control.sock").exists():
                answer = _status(tmp_path)
                if answer["status"]["strategy"]["ledger"]["fills"] >= 1:  # type: ignore[index]
                    status = json.dumps(answer).encode()
                    break
            time.sleep(0.2)  # a real process: real time is the only clock it has
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stdout, stderr = out_path.read_bytes(), err_path.read_bytes()
    assert code == 0, stdout[-3000:].decode(errors="replace")
    assert status, "no fill within the time limit"
    for line in stdout.splitlines():
        json.loads(line)  # headless: every line is one JSON record
    found = {
        "stdout": leaks(stdout),
        "stderr": leaks(stderr),
        "status": leaks(status),
        **{name: leaks(data) for name, data in state_files(tmp_path / "state").items()},
    }
    assert all(not v for v in found.values()), {k: v for k, v in found.items() if v}
