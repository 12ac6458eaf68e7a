"""`mmtrio chaos` as documented, from any directory (issue #20, finding 3).

With the default ``--out`` (relative) the harness handed the bot a relative config path but
started it in another directory: every bot exited 2, and the judge reported *bot* violations
(invariants 10 and 5) instead of a harness error. CI always passed absolute paths.

- From an empty working directory, the default ``--out`` works and the run is clean; a
  ``./config.toml`` there (garbage, or a live config) is never the chaos bot's base: the
  packaged default is, in both harnesses.
- A bot that refuses its own start (exit 2: bad usage or config, which the harness wrote) is
  a harness error, exit 1 with the cause: never a violation of the bot's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mmtrio.chaos import harness as harness_mod
from mmtrio.chaos.botconfig import bot_config
from mmtrio.chaos.harness import Harness

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_relative_out_becomes_absolute_for_every_path_the_bot_gets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    h = Harness(3, 12.0, Path("rel-out"))
    try:
        assert h.out == tmp_path / "rel-out" / "seed-3"
        h.r.urls = {"rest": "http://127.0.0.1:1", "ws": "ws://127.0.0.1:2"}
        doc = tomllib.loads(h._write_config("valid").read_text())
        for key in ("state_dir", "control_socket"):
            assert Path(doc["runtime"][key]).is_absolute(), doc["runtime"][key]
        assert Path(doc["risk"]["kill_file"]).is_absolute()
    finally:
        h.http.close()
        h.sock_dir.rmdir()


def test_a_seed_run_again_into_the_same_out_starts_from_nothing(tmp_path: Path) -> None:
    # The replay of a seed into the same --out found the last run's journal in its state
    # directory: its bot started on another venue's trade ids (false invariant-1 violations).
    stale = tmp_path / "seed-3" / "state"
    stale.mkdir(parents=True)
    (stale / "journal.sqlite3").write_bytes(b"the last run's journal")
    h = Harness(3, 12.0, tmp_path)
    try:
        assert h.out.is_dir() and list(h.out.iterdir()) == []
    finally:
        h.http.close()
        h.sock_dir.rmdir()


DECOY = "not [toml at all\n[venue]\nmode = 'live'\n"  # a ./config.toml the chaos bot never reads


def _decoy_cwd(tmp_path: Path) -> Path:
    cwd = tmp_path / "empty"
    cwd.mkdir()
    (cwd / "config.toml").write_text(DECOY)
    return cwd


def test_chaos_from_an_empty_directory_with_the_default_out(tmp_path: Path) -> None:
    cwd = _decoy_cwd(tmp_path)  # its config.toml is garbage: the packaged default is the base
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--runs", "1", "--seed", "5"]
    done = subprocess.run(
        [*cmd, "--duration", "12", "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["harness_errors"] == 0, (summary["first_failure"], done.stderr[-2000:])
    assert summary["violations"] == 0, summary["first_failure"]
    assert done.returncode == 0
    run_dir = cwd / "chaos-out" / "seed-5"  # the documented default, under the cwd
    assert (run_dir / "evidence.json").is_file()
    # the last bot (an earlier one may have been killed by a fault) stopped cleanly
    last = max(run_dir.glob("bot-*.log"), key=lambda p: int(p.stem.split("-")[1]))
    assert "zero open orders confirmed" in last.read_text()


def test_deterministic_chaos_from_a_directory_with_a_decoy_config(tmp_path: Path) -> None:
    cwd = _decoy_cwd(tmp_path)
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--deterministic", "--runs", "1"]
    done = subprocess.run(
        [*cmd, "--duration", "20", "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads(done.stdout)
    assert doc["summary"]["clean"] == 1 and doc["runs"][0]["fills"] > 0
    assert (cwd / "config.toml").read_text() == DECOY
    assert (cwd / "chaos-out" / "runs.jsonl").is_file()


def test_a_bot_that_refuses_its_config_is_a_harness_error_not_a_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bot_config  # the function the harness imported, replaced there below

    def broken(*args: object, **kwargs: object) -> str:
        return real(*args, **kwargs) + "\n[quoting]\nno_such_key = 1\n"  # type: ignore[arg-type]

    monkeypatch.setattr(harness_mod, "bot_config", broken)
    result = Harness(8, 12.0, tmp_path).run()
    assert result.violations == [], result.violations
    assert result.error is not None and "exit 2" in result.error, result.error
    assert "config" in result.error
