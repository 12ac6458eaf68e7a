"""The final stop of a process chaos run, as the Binance campaign of issue #20 (seed 100000,
287 runs at load 15-24) found it judged wrongly.

- Seeds 100070 (ends with SIGKILL) and 100172 (ends with SIGTERM): journal_full landed while
  the bot was still importing; its journal failed at start ("at start: nothing was sent to
  the venue", exit 1, as designed) moments before the final signal. The harness signalled the
  finished process and judged it as stopped by that signal: "exit code 1 after SIGKILL", and
  (100172) the harness's own foreign order, which no bot had ever seen, "still open 87 ms
  after SIGTERM". The bot here is a real process that ends the same way (seed 100172's log
  line, exit 1) and that the harness has not reaped yet.
- Seeds 100143 and 100231 (SIGKILL): no bot ever reached the venue (12-19 s spent importing),
  so no dead-man countdown was armed, and the foreign order had nothing that could cancel it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mmtrio.chaos import harness as harness_mod
from mmtrio.chaos.harness import Harness
from mmtrio.chaos.harness_base import _Bot
from mmtrio.chaos.invariants import ProcessRecord, StopCheck, check_processes, check_stop
from mmtrio.chaos.logs import BEFORE_VENUE

FOREIGN = "chaos-foreign-1"
FAILED_MS = 1_796_319_573_601  # seed 100172's "journal failed" line
FAILED_LINE = (
    "journal failed: journal state/journal.sqlite3: cannot open: SQLite says disk I/O error "
    f"(SQLITE_IOERR_SHMSIZE); check free disk space and permissions of state. {BEFORE_VENUE}"
)


def journal_failed_log() -> str:
    record = {
        "message": FAILED_LINE,
        "level": {"name": "ERROR"},
        "time": {"timestamp": FAILED_MS / 1000},
    }
    return json.dumps({"text": f"ERROR | {FAILED_LINE}\n", "record": record}) + "\n"


def venue_state(**extra: Any) -> dict[str, Any]:
    # the harness's foreign order rests; no bot order, no fill
    return {
        "wall_ms": FAILED_MS + 3_000,
        "open_orders": [FOREIGN],
        "position": {"lots": 0},
        "fills": [],
        **extra,
    }


def make_harness(seed: int, tmp_path: Path) -> Harness:
    h = Harness(seed, 20.0, tmp_path, venue="binance")
    h.r.urls = {"admin": "http://venue.test"}
    h.r.foreign.add(FOREIGN)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/admin/state":
            return httpx.Response(200, json=venue_state(countdown_armed=False))
        return httpx.Response(404, json={})

    h.http.close()
    h.http = httpx.Client(transport=httpx.MockTransport(handle))
    return h


def spawn_bot_whose_journal_failed(h: Harness, tmp_path: Path) -> _Bot:
    """A real process that writes seed 100172's journal failure and exits 1, marked FSIZE
    (journal_full applied), and that the harness has not reaped: it ended between two ticks."""
    text = tmp_path / "line.json"
    text.write_text(journal_failed_log())
    log_path = h.out / "bot-0.log"
    log = log_path.open("wb")
    code = "import sys; sys.stdout.write(open(sys.argv[1]).read()); sys.exit(1)"
    proc = subprocess.Popen([sys.executable, "-c", code, str(text)], stdout=subprocess.PIPE)
    relay = subprocess.Popen(["cat"], stdin=proc.stdout, stdout=log)
    assert proc.stdout is not None
    proc.stdout.close()
    bot = _Bot(0, proc, relay, log_path, log, FAILED_MS - 22_000, signal_sent="FSIZE")
    bot.fault_ms = FAILED_MS - 18_000
    h.r.bots.append(bot)
    # wait for the exit without reaping it (the harness's next poll does)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    relay.wait()
    return bot


@pytest.fixture
def tmp_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    h = make_harness(request.param, tmp_path)
    try:
        yield h
    finally:
        h.http.close()
        for b in h.r.bots:
            if not b.log.closed:
                b.log.close()
        h.sock_dir.rmdir()


@pytest.mark.parametrize("tmp_harness", [100070, 100172], indirect=True)
def test_a_bot_that_stopped_by_itself_before_the_final_signal_is_judged_as_that_stop(
    tmp_harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = tmp_harness
    # the harness's clock: the run's end, 3 s after the failure (seed 100172: 3.9 s)
    monkeypatch.setattr(harness_mod, "_now_ms", lambda: FAILED_MS + 3_000)
    bot = spawn_bot_whose_journal_failed(h, tmp_path)

    stop, _cutoff = h._stop()

    assert bot.proc.returncode == 1
    assert bot.signal_sent == "FSIZE"  # never re-marked by a signal it did not receive
    assert stop is None  # no stop by the final signal to judge
    (self_stop,) = h.r.self_stops
    assert self_stop.kind == "journal_full"
    assert self_stop.signal_ms == FAILED_MS
    assert self_stop.open_orders == ()  # it had sent nothing: the foreign order is not its
    assert check_stop(self_stop, foreign_ids=frozenset(h.r.foreign)) == []
    records = [
        ProcessRecord(
            b.index, b.start_ms, b.end_ms, b.proc.returncode, b.signal_sent, b.log_path.read_text()
        )
        for b in h.r.bots
    ]
    assert check_processes(records) == []


def test_a_foreign_order_left_after_a_sigkill_with_no_dead_man_armed_is_not_the_bots() -> None:
    # seeds 100143, 100231: nothing armed the countdown; the harness's order stays
    unarmed = StopCheck("sigkill", 0, 5_000, 6_231, (FOREIGN,), deadman_armed=False)
    assert check_stop(unarmed, foreign_ids=frozenset({FOREIGN})) == []


def test_an_armed_dead_man_must_clear_foreign_orders_too() -> None:
    # Binance's countdownCancelAll cancels every open order of the symbol, another client's too
    armed = StopCheck("sigkill", 0, 5_000, 6_231, (FOREIGN,), deadman_armed=True)
    (v,) = check_stop(armed, foreign_ids=frozenset({FOREIGN}))
    assert v.invariant == 4 and FOREIGN in v.message


def test_the_bots_own_orders_count_whether_or_not_a_dead_man_was_armed() -> None:
    # quoting without an armed dead-man is a defect the judge must still see
    unarmed = StopCheck("sigkill", 0, 5_000, 6_231, (FOREIGN, "mmt1-4"), deadman_armed=False)
    (v,) = check_stop(unarmed, foreign_ids=frozenset({FOREIGN}))
    assert "mmt1-4" in v.message and FOREIGN not in v.message


@pytest.mark.parametrize("tmp_harness", [100143], indirect=True)
def test_the_final_sigkill_records_whether_the_venue_had_a_dead_man_armed(
    tmp_harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seed 100143: a live bot (still importing: a real process that waits) killed with the
    venue's countdown unarmed; the check carries that, and the foreign order passes."""
    h = tmp_harness
    monkeypatch.setattr(type(h.venue), "deadman_ms", property(lambda self: 0))  # no wait
    log_path = h.out / "bot-0.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    relay = subprocess.Popen(["cat"], stdin=proc.stdout, stdout=log)
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.close()
    h.r.bots.append(_Bot(0, proc, relay, log_path, log, FAILED_MS))
    try:
        stop, _cutoff = h._stop()
    finally:
        proc.stdin.close()
    assert proc.returncode == -9
    assert stop is not None and stop.kind == "sigkill"
    assert stop.deadman_armed is False and stop.open_orders == (FOREIGN,)
    assert check_stop(stop, foreign_ids=frozenset(h.r.foreign)) == []


@pytest.mark.parametrize("tmp_harness", [26], indirect=True)
def test_a_self_stop_is_timed_to_when_the_harness_saw_the_process_end(
    tmp_harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Smoke seed 26 at load 15: the venue and log reads after the harness noticed the exit
    were counted as the bot's stop time (6566 ms for a stop the bot logged at 5.0 s)."""
    h = tmp_harness
    clock = {"ms": FAILED_MS + 5_100}  # the tick's poll sees the process gone
    monkeypatch.setattr(harness_mod, "_now_ms", lambda: clock["ms"])
    bot = spawn_bot_whose_journal_failed(h, tmp_path)
    assert h._reap() is bot
    clock["ms"] = FAILED_MS + 6_600  # the loaded harness's venue and log reads took 1.5 s
    h._self_stopped(bot)
    (stop,) = h.r.self_stops
    assert stop.checked_ms == bot.end_ms == FAILED_MS + 5_100
    assert check_stop(stop, grace_ms=1_500) == []
