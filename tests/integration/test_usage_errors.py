"""Usage mistakes an operator makes on a box with several bots end in one clear line and
exit 2, never a traceback: a busy metrics port, a bad data file, a second bot on the same state
directory. And `mmtrio status --all` finds every running bot under the state root.

Each case runs the real command in a subprocess (`python -m mmtrio`), as an operator would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.test_run_engine import write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXIT_USAGE = 2


def mmtrio(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmtrio", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def environ(tmp: Path) -> dict[str, str]:
    return {**os.environ, "MMTRIO_STATE_ROOT": str(tmp / "root")}


def bot_config(tmp: Path, name: str) -> Path:
    """A fast paper config with the default state dir (<root>/<name>) and no metrics."""
    d = tmp / name
    d.mkdir()
    path = write_config(d)
    text = path.read_text()
    start = text.index('state_dir = "state"')  # write_config's: back to the default
    text = text[:start] + text[text.index("\n", start) + 1 :]
    text = text.replace("[runtime]", f'[runtime]\nname = "{name}"', 1)
    path.write_text(text)
    return path


@contextmanager
def running_bot(cfg: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A headless bot; yields once its control socket answers; SIGTERM at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmtrio", "run", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            status = mmtrio("status", "--config", str(cfg), env=env, timeout=20)
            if status.returncode == 0:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, status.stderr
            time.sleep(0.3)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def test_bad_data_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "noise.gz"
    bad.write_bytes(os.urandom(4096))
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace(
        cfg.read_text().split("data_files = ", 1)[1].split("\n", 1)[0], f'["{bad}"]'
    ))  # fmt: skip
    result = mmtrio("run", "--config", str(cfg), env=environ(tmp_path))
    assert result.returncode == EXIT_USAGE, result.stderr
    assert f"recording {bad} is not a gzip file" in result.stderr
    assert "Traceback" not in result.stderr


def test_busy_metrics_port_names_the_port_and_the_key(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        cfg = write_config(tmp_path)
        text = cfg.read_text().replace("enabled = false ", "enabled = true ", 1)
        cfg.write_text(text.replace("port = 9464 ", f"port = {port} "))
        result = mmtrio("run", "--config", str(cfg), env=environ(tmp_path))
    assert result.returncode == EXIT_USAGE, result.stderr
    assert f"metrics port 127.0.0.1:{port} is already in use" in result.stderr
    assert f"set [metrics] port in {cfg}" in result.stderr
    assert "Traceback" not in result.stderr


def test_second_bot_on_a_state_dir_names_the_first_and_status_all_lists_the_fleet(
    tmp_path: Path,
) -> None:
    env = environ(tmp_path)
    a, b = bot_config(tmp_path, "btc-a"), bot_config(tmp_path, "btc-b")
    with running_bot(a, env) as first, running_bot(b, env):
        again = mmtrio("run", "--config", str(a), env=env)
        assert again.returncode == EXIT_USAGE, again.stderr
        assert f"another mmtrio bot (pid {first.pid}) is running" in again.stderr
        assert "Traceback" not in again.stderr

        listed = mmtrio("status", "--all", env=env)
        assert listed.returncode == 0, listed.stderr
        doc = json.loads(listed.stdout)
        assert doc["state_root"] == str(tmp_path / "root")
        bots = {x["bot"]: x for x in doc["bots"]}
        assert set(bots) == {"btc-a", "btc-b"}
        assert all(x["running"] for x in bots.values())
        assert bots["btc-a"]["status"]["pid"] == first.pid
        assert bots["btc-b"]["status"]["bot"] == "btc-b"
        text = mmtrio("status", "--all", "--text", env=env)
        assert text.stdout.count("(BTCUSDT)") == 2
    # Stopped: still listed (their state directories remain), as not running.
    doc = json.loads(mmtrio("status", "--all", env=env).stdout)
    assert [x["running"] for x in doc["bots"]] == [False, False]


def test_second_bot_on_a_control_socket_is_a_usage_error_naming_the_first(
    tmp_path: Path,
) -> None:
    """Its own state directory, the first bot's socket: one line, exit 2 (systemd does not
    restart it: RestartPreventExitStatus=2 3), not a crash after the sim started (exit 1)."""
    env = environ(tmp_path)
    a, b = bot_config(tmp_path, "btc-a"), bot_config(tmp_path, "btc-b")
    sock = tmp_path / "root" / "btc-a" / "control.sock"
    with running_bot(a, env) as first:
        second = mmtrio(
            "run", "--config", str(b), "--set", f"runtime.control_socket={sock}", env=env
        )
        assert second.returncode == EXIT_USAGE, second.stderr
        err = second.stderr.strip().splitlines()
        assert len(err) == 1, second.stderr
        assert f"another bot (btc-a, pid {first.pid}) holds the control socket {sock}" in err[0]
        assert not (tmp_path / "root" / "btc-b" / "lock").exists()  # refused before starting


def test_a_control_socket_claimed_by_a_bot_still_starting_is_refused_the_same_way(
    tmp_path: Path,
) -> None:
    """The race: the first bot has claimed the path but not bound the socket yet (it binds
    once the venue is reached). The second used to pass the check and fail later (exit 1);
    now it is refused at once, exit 2, naming the path and the first bot."""
    from mmtrio.runtime.control_claim import claim_control_socket

    env = environ(tmp_path)
    sock = tmp_path / "root" / "btc-a" / "control.sock"
    claim = claim_control_socket(sock, "btc-a")  # this test process is the starting bot
    try:
        assert not sock.exists()
        second = mmtrio(
            "run",
            "--config",
            str(bot_config(tmp_path, "btc-b")),
            "--set",
            f"runtime.control_socket={sock}",
            env=env,
        )
    finally:
        claim.release()
    assert second.returncode == EXIT_USAGE, second.stderr
    err = second.stderr.strip().splitlines()
    assert len(err) == 1, second.stderr
    assert f"another bot (btc-a, pid {os.getpid()}) holds the control socket {sock}" in err[0]
    assert not (tmp_path / "root" / "btc-b" / "lock").exists()  # refused before starting


def test_a_journal_of_another_venue_or_mode_is_refused(tmp_path: Path) -> None:
    """A state directory whose journal a live (or other-venue) bot wrote is never adopted by
    this one: its positions and trade ids belong to that account."""
    from mmtrio.runtime.journal import Journal
    from mmtrio.runtime.journal_schema import Kind, Record

    cfg = write_config(tmp_path)
    journal = Journal.open(tmp_path / "state")
    try:
        journal.write_batch(
            [Record(Kind.START, 1, {"venue": "binance", "mode": "live", "symbol": "BTCUSDT"})]
        )
    finally:
        journal.close()
    result = mmtrio("run", "--config", str(cfg), env=environ(tmp_path))
    assert result.returncode == EXIT_USAGE, result.stderr
    assert "belongs to a binance live bot, and this one is binance paper" in result.stderr
    assert "[runtime] state_dir" in result.stderr and "Traceback" not in result.stderr


def test_set_applies_before_the_defaults_that_depend_on_it(tmp_path: Path) -> None:
    """`--set venue.symbol=...` names the bot (and so its state directory) as the same line
    in the file would; a relative path on the command line is the working directory's."""
    from mmtrio.cli.common import load_command_config

    (tmp_path / "x.gz").write_bytes(b"")  # checked to exist at load, read at start
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        config, _ = load_command_config(
            None, overrides=["venue.symbol=ethusdt", 'sim.data_files=["x.gz"]']
        )
    finally:
        os.chdir(here)
    assert config.runtime.name == "binance-paper-ethusdt"
    assert config.runtime.state_dir.name == "binance-paper-ethusdt"
    assert config.sim is not None and config.sim.data_files == [tmp_path / "x.gz"]
