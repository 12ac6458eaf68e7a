"""Deterministic simulation: the real bot and the real simulated venue in **one**
``trio.run`` on a virtual clock, the process harness's seeded fault schedule applied, the same
judge over the same kinds of evidence, and a trace hash that the same seed reproduces.

What runs: the simulated venue's shared engine with one venue's front end (the synthetic
market, as `mmtrio sim --synthetic --venue V` serves it; Binance, OKX, Hyperliquid or
Extended, their terms in :mod:`mmtrio.chaos.dst_venues`) and the bot's
:class:`~mmtrio.runtime.engine.Engine` with that venue's connector, unchanged, reaching each
other through :mod:`mmtrio.chaos.memlinks` (REST through an httpx transport calling the front
end's ASGI app, websockets over in-memory streams). Nothing opens a socket, starts a process,
or reads the wall clock: the venue's clock is :class:`~mmtrio.sim.clock.TrioClock`, the bot's
is :mod:`mmtrio.determinism` (virtual wall time, seeded RNGs, blocking work inline), Trio's
own scheduler is seeded from the run's seed (it otherwise reverses a batch of ready tasks at
random), and ``trio.run`` runs on a ``MockClock`` that jumps to the next deadline whenever
every task waits (its loop spared the I/O polls that cannot find anything:
:mod:`mmtrio.chaos.dst_loop`).

Faults are the process harness's schedule (:func:`mmtrio.chaos.schedule.make_schedule`, the
same seed gives the same schedule), executed here (:mod:`mmtrio.chaos.dst_faults`). The
judge is :func:`mmtrio.chaos.invariants.check_all`, fed as the process harness feeds it:
venue snapshots every 0.3 s, the final ground truth, the journal file, each incarnation's
log and how it ended.

The trace is every executed fault, every venue snapshot, every incarnation's start and end,
the venue's fills and orders at the end and every journal record; its SHA-256 is the run's
**trace hash**. Two runs of a seed give the same hash, in one process or two (the CLI fixes
``PYTHONHASHSEED``: the order of a set of strings is part of the schedule), and
:func:`first_divergence` names the first entry where two traces differ.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
import trio.testing
from loguru import logger

from mmtrio import determinism
from mmtrio.chaos.botconfig import (
    CANCEL_DEADLINE_MS,
    DEADMAN_MS,
    DEADMAN_REFRESH_MS,
    FOREIGN_QTY_LOTS,
    MAX_POSITION_LOTS,
    SHUTDOWN_DEADLINE_S,
    SYMBOL,
    bot_config,
)
from mmtrio.chaos.dst_bot import DstBot
from mmtrio.chaos.dst_loop import cheap_loop
from mmtrio.chaos.dst_sched import seeded_scheduler
from mmtrio.chaos.dst_venues import BINANCE, DstVenue
from mmtrio.chaos.evidence import (
    Evidence,
    JournalRecord,
    Limits,
    ProcessRecord,
    Snapshot,
    StopCheck,
)
from mmtrio.chaos.invariants import check_all
from mmtrio.chaos.logs import log_entries, supervised_restarts
from mmtrio.chaos.memlinks import Link
from mmtrio.chaos.report import RunResult
from mmtrio.chaos.schedule import Schedule, make_schedule
from mmtrio.sim.binance.wsapi import PATH as ORDER_WS_PATH

EPOCH_MS = 1_700_000_000_000  # the wall time virtual time 0 stands for (2023-11-14)
POLL_S = 0.3  # venue snapshots, as the process harness polls
URLS = {"rest": "http://127.0.0.1:1", "ws": "ws://127.0.0.1:1"}  # never dialled: in memory
# The bot's endpoints by the names a venue package reads, the order socket (Binance's ws-fapi
# path on the websocket URL) among them: the bot places orders over it, as process chaos bots
# and paper bots do.
URLS_BY_NAME = {
    "rest": URLS["rest"],
    "market_ws": URLS["ws"],
    "private_ws": URLS["ws"],
    "order_ws": URLS["ws"] + ORDER_WS_PATH,
}


@dataclass
class DstResult:
    """One deterministic run: the judge's verdict, its trace and the trace's hash."""

    result: RunResult
    trace_hash: str
    trace: list[Any]
    virtual_s: float
    wall_s: float
    run_dir: str = ""  # the run's directory, replaced by <run> in the trace hash

    def to_json(self) -> dict[str, Any]:
        return {
            **self.result.to_json(),
            "trace_hash": self.trace_hash,
            "trace_entries": len(self.trace),
            "virtual_s": round(self.virtual_s, 3),
            "wall_s": round(self.wall_s, 3),
        }


@dataclass
class _State:
    bots: list[DstBot] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    trace: list[Any] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    gamma: float = 0.1
    foreign: set[str] = field(default_factory=set)
    foreign_at: dict[str, int] = field(default_factory=dict)  # virtual wall ms each was placed
    self_stops: list[StopCheck] = field(default_factory=list)
    gap_faults: list[int] = field(default_factory=list)
    link_silent: list[tuple[int, int]] = field(default_factory=list)
    restart_at: float | None = None  # Trio time of a scheduled restart
    restart_after_exit: float | None = None  # s after the bot's own stop (journal_full)


RUN_PLACEHOLDER = "<run>"  # a run's own directory, in the trace as the hash reads it
WINDOW = 60  # characters either side of a divergence, in its report


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def normalised(trace: list[Any], run_dir: str = "") -> list[str]:
    """The trace as its hash reads it: each entry's canonical JSON, the run's directory
    (``run_dir``: a temporary directory differs from one run of a seed to the next) replaced
    by ``<run>``. The hash and :func:`first_divergence` compare this form, and only this."""
    entries = [canonical(entry) for entry in trace]
    if not run_dir:
        return entries
    return [entry.replace(run_dir, RUN_PLACEHOLDER) for entry in entries]


def trace_hash(trace: list[Any], run_dir: str = "") -> str:
    """SHA-256 of the normalised trace (the canonical JSON of the whole list)."""
    text = "[" + ",".join(normalised(trace, run_dir)) + "]"
    return hashlib.sha256(text.encode()).hexdigest()


def _kind(entry: Any) -> str:
    if isinstance(entry, list | tuple) and entry and isinstance(entry[0], str):
        return entry[0]
    return type(entry).__name__


def _window(text: str, at: int) -> str:
    start, end = max(0, at - WINDOW), at + WINDOW
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def first_divergence(a: list[Any], b: list[Any], run_a: str = "", run_b: str = "") -> str | None:
    """Where two traces of one seed first differ (None when identical), compared as the
    trace hash reads them (:func:`normalised`; ``run_a``/``run_b``: each run's directory).

    Names the entry's index and kind, the first differing character and a window of each
    side's text around it: an entry may be a journal of a hundred thousand characters."""
    for i, (x, y) in enumerate(zip(normalised(a, run_a), normalised(b, run_b), strict=False)):
        if x != y:
            at = next((k for k, (p, q) in enumerate(zip(x, y, strict=False)) if p != q), None)
            at = min(len(x), len(y)) if at is None else at
            return (
                f"trace entry {i} ({_kind(a[i])}) differs at character {at} "
                f"(of {len(x)} / {len(y)}): {_window(x, at)} != {_window(y, at)}"
            )
    if len(a) != len(b):
        return f"trace lengths differ: {len(a)} != {len(b)} entries"
    return None


def run_one(seed: int, duration_s: float, workdir: Path, venue: str = BINANCE) -> DstResult:
    """One deterministic run of ``seed`` on ``venue`` in its own ``trio.run`` (see the
    module docstring)."""
    return run_schedule(make_schedule(seed, int(duration_s * 1000)), workdir, venue=venue)


def traced_run(seed: int, duration_s: float, venue: str = BINANCE) -> tuple[str, list[Any], str]:
    """``seed`` run once in a temporary directory: its trace hash, trace and run directory.

    Top-level, so that a process pool started with "spawn" (a fresh interpreter) can run it:
    the replay check's second run of each seed."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mmdst-") as scratch:
        done = run_one(seed, duration_s, Path(scratch), venue)
    return done.trace_hash, done.trace, done.run_dir


def run_schedule(
    schedule: Schedule, workdir: Path, name: str | None = None, venue: str = BINANCE
) -> DstResult:
    """One deterministic run of ``schedule`` (its seed seeds everything) on ``venue``'s
    front end and connector, under ``workdir``."""
    from mmtrio.chaos.dst_run import DstRun

    # The bot's records go to its incarnation's log only (dst_run); a terminal handler
    # would print every record of every run, and cost most of the run's time.
    logger.remove()
    run = DstRun(schedule, workdir.resolve() / (name or f"seed-{schedule.seed}"), venue)
    started = time.perf_counter()
    clock = trio.testing.MockClock(autojump_threshold=0)
    # task order a function of the seed (dst_sched); a loop that skips what finds nothing
    # and reads the clock cheaply (dst_loop)
    with seeded_scheduler(schedule.seed), cheap_loop():
        result = trio.run(run.main, clock=clock)
    wall = time.perf_counter() - started
    trace, run_dir = run.state.trace, str(run.out)
    return DstResult(result, trace_hash(trace, run_dir), trace, clock.current_time(), wall, run_dir)


def read_journal(path: Path, symbol: str = SYMBOL) -> tuple[list[int], list[JournalRecord]]:
    """The `fills` table's trade ids of ``symbol`` (as the venue names it) and every record,
    as the process harness reads them."""
    if not path.exists():
        return [], []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT trade_id FROM fills WHERE symbol = ?", (symbol,))
        ids = [int(r[0]) for r in rows]
        recs = [
            JournalRecord(int(seq), str(kind), int(ts), json.loads(payload))
            for seq, kind, ts, payload in conn.execute(
                "SELECT seq, kind, local_ts_ms, payload FROM records ORDER BY seq"
            )
        ]
    finally:
        conn.close()
    return ids, recs


def judge(  # noqa: PLR0917 - the evidence, each piece once
    schedule: Schedule,
    state: _State,
    truth: dict[str, Any],
    records: tuple[list[int], list[JournalRecord]],
    stop: StopCheck | None,
    cutoff: int | None,
    out: Path,
    venue: DstVenue,
) -> RunResult:
    """The process harness's judgement over this run's evidence (``venue``: its reconcile
    interval and dead-man countdown)."""
    trade_ids, recs = records
    procs = [
        ProcessRecord(b.index, b.start_ms, b.end_ms, b.exit_code, b.signal_sent, b.log_text)
        for b in state.bots
    ]
    ev = Evidence(
        final_truth=truth,
        snapshots=state.snapshots,
        journal_trade_ids=trade_ids,
        records=recs,
        processes=procs,
        stop=stop,
        limits=Limits(
            # each of the harness's foreign orders counts at the venue's accepts while it is
            # open (DST seed 201385: three foreign sells of 2 lots open at once)
            max_position_lots=MAX_POSITION_LOTS + FOREIGN_QTY_LOTS * len(state.foreign),
            reconcile_interval_ms=int(venue.reconcile_s * 1000),
            cancel_deadline_ms=CANCEL_DEADLINE_MS,
            deadman_countdown_ms=venue.deadman_ms,
            deadman_refresh_ms=DEADMAN_REFRESH_MS,
        ),
        foreign_ids=frozenset(state.foreign),
        self_stops=list(state.self_stops),
        fill_cutoff=cutoff,
        final_position_check=schedule.end == "sigterm",
        link_silent=list(state.link_silent),
        gap_faults=list(state.gap_faults),
    )
    logs = [log_entries(b.log_text) for b in state.bots]
    result = RunResult(schedule.seed, str(out), end=schedule.end)
    result.violations = check_all(ev, logs)
    result.child_restarts = sum(supervised_restarts(lines) for lines in logs)
    result.fills = len(truth["fills"])
    result.fills_checked = result.fills if cutoff is None else min(cutoff, result.fills)
    result.final_position = int(truth["position"]["lots"])
    result.faults = dict(state.faults)
    result.restarts = state.restarts
    return result


def write_config(out: Path, state_dir: Path, gamma: float, variant: str, venue: DstVenue) -> Path:
    """The bot's config file (the process harness's, pointed at the in-memory venue)."""
    path = out / "config.toml"
    text = bot_config(
        venue.urls, state_dir, out / "c.sock", gamma=gamma, variant=variant, deterministic=True,
        **venue.config_terms(),
    )  # fmt: skip
    path.write_text(text)
    return path


def new_determinism(seed: int, index: int, epoch_ms: int = EPOCH_MS) -> determinism.Determinism:
    """Incarnation ``index``'s view of the world: the run's epoch, its own seeded streams."""
    return determinism.Determinism(seed=seed * 1000 + index, epoch_ms=epoch_ms, pid=4242 + index)


def new_link(rest_app: Any, serve_ws: Any, nursery: trio.Nursery) -> Link:
    return Link(rest_app, serve_ws, nursery)


__all__ = [
    "DEADMAN_MS",
    "SHUTDOWN_DEADLINE_S",
    "DstResult",
    "first_divergence",
    "normalised",
    "run_one",
    "trace_hash",
]
