"""`kill`, `status`, `resume` and `report` find a bot started with `mmtrio run --name BOT`
(the systemd template unit), and `kill` never reports success for a state directory no bot
ever ran with (it refuses, exit 2, listing the bots under the state root)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mmtrio.cli import main
from mmtrio.packaged import DEFAULT_CONFIG

CONFIG = DEFAULT_CONFIG.read_text()  # no [runtime] name, like bot1/config.toml


class FakeBot:
    """A control socket answering every request with ok (and remembering the requests)."""

    def __init__(self, path: Path) -> None:
        self.requests: list[dict[str, Any]] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                buf = b""
                while b"\n" not in buf:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                self.requests.append(json.loads(buf.split(b"\n")[0]))
                status = {"bot": "btc1", "symbol": "BTCUSDT", "phase": "running"}
                conn.sendall(json.dumps({"ok": True, "status": status}).encode() + b"\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "state"
    root.mkdir()
    monkeypatch.setenv("MMTRIO_STATE_ROOT", str(root))
    return root


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "bot1" / "config.toml"
    path.parent.mkdir()
    path.write_text(CONFIG)
    return path


@pytest.fixture
def btc1(root: Path) -> Iterator[FakeBot]:
    """`mmtrio run --config bot1/config.toml --name btc1`, running: <root>/btc1/."""
    state = root / "btc1"
    state.mkdir()
    (state / "lock").write_text("4242\n")
    bot = FakeBot(state / "control.sock")
    yield bot
    bot.close()


@pytest.mark.parametrize("command", ["kill", "status", "resume"])
def test_name_reaches_the_bot_run_with_that_name(
    command: str, config: Path, btc1: FakeBot, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--config", str(config), "--name", "btc1"]) == 0
    assert [r["cmd"] for r in btc1.requests] == [command]
    assert "btc1" in capsys.readouterr().out


def test_kill_without_the_name_refuses_instead_of_a_kill_file_nobody_reads(
    root: Path, config: Path, btc1: FakeBot, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kill", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "no bot ever ran with state directory" in err
    assert str(root / "binance-paper") in err
    assert "btc1" in err and "running" in err  # the bots under the state root are listed
    assert not (root / "binance-paper").exists()  # nothing written
    assert [r["cmd"] for r in btc1.requests] == ["status"]  # listed, never killed


def test_kill_refuses_an_existing_state_dir_no_bot_ran_with(
    tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "made-by-hand"
    empty.mkdir()
    assert main(["kill", "--state-dir", str(empty)]) == 2
    assert not (empty / "KILL").exists()
    err = capsys.readouterr().err
    assert "no bot ever ran" in err and f"no bots under the state root {root}" in err


def test_kill_with_the_name_of_a_stopped_bot_writes_its_kill_file(
    root: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = root / "btc1"  # btc1 ran once and is stopped: the kill file keeps it halted
    state.mkdir()
    (state / "journal.sqlite3").write_bytes(b"")
    (state / "lock").write_text("")
    assert main(["kill", "--config", str(config), "--name", "btc1", "--reason", "r"]) == 0
    assert (state / "KILL").read_text() == "r\n"
    assert "wrote the kill file" in capsys.readouterr().out


def test_name_that_contradicts_the_config_is_a_usage_error(
    tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "named.toml"
    cfg.write_text(CONFIG.replace('# name = "binance-paper"', 'name = "eth1"'))
    assert main(["kill", "--config", str(cfg), "--name", "btc1"]) == 2
    assert "--name is 'btc1'" in capsys.readouterr().err


def test_name_and_state_dir_together_are_refused(
    tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--name", "btc1", "--state-dir", str(tmp_path)]) == 2
    assert "pass one" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--name", "btc1"], ["--state-dir", "STATE/btc1"]])
def test_report_reads_the_journal_of_the_named_bot(
    flags: list[str], root: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = [f.replace("STATE", str(root)) for f in flags]
    assert main(["report", "--config", str(config), *flags]) == 2  # no journal there yet
    assert str(root / "btc1" / "journal.sqlite3") in capsys.readouterr().err


def test_status_of_a_bot_not_running_lists_the_bots_that_are(
    root: Path, config: Path, btc1: FakeBot, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA on Extended: `mmtrio run --set venue.name=extended` runs extended-paper, and a plain
    `mmtrio status` looks for binance-paper (the file's venue); it named only the missing
    socket. It now lists the bots under the state root, as `kill` does."""
    assert main(["status", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "binance-paper" in err and "no control socket" in err
    assert "btc1" in err and "running" in err


def test_kill_flatten_says_so_in_its_reason(config: Path, btc1: FakeBot) -> None:
    """QA on Extended: `kill --flatten` was logged, journaled and charted as "operator kill
    (mmtrio kill)", the same words as a kill that leaves the position open."""
    assert main(["kill", "--config", str(config), "--name", "btc1", "--flatten"]) == 0
    assert main(["kill", "--config", str(config), "--name", "btc1"]) == 0
    reasons = [(r["flatten"], r["reason"]) for r in btc1.requests]
    assert reasons == [
        (True, "operator kill and flatten (mmtrio kill --flatten)"),
        (False, "operator kill (mmtrio kill)"),
    ]
