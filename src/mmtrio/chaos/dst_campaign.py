"""A campaign of deterministic runs (`mmtrio chaos --deterministic`): seeds S, S+1, …, on a
process pool, each run's evidence kept under ``--out/seed-<seed>/`` when it failed.

Every run works in a fresh directory on a memory file system when there is one
(``/dev/shm``: the journal's fsyncs then cost nothing) and is copied to ``--out`` only when it
violated an invariant or could not complete (or always, with ``keep_all``): a campaign of
thousands of clean runs leaves nothing behind.

Reproducibility across processes needs one fixed ``PYTHONHASHSEED`` (the iteration order of
a set of strings is part of what the bot does); :func:`ensure_hash_seed` re-executes the
command with ``PYTHONHASHSEED=0`` when it is not set so. Pool workers are forked from the
parent and share its hash seed.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path
from typing import Any

from mmtrio.chaos.report import RunResult
from mmtrio.chaos.schedule import run_seed
from mmtrio.chaos.stop import StopRequest

HASH_SEED = "0"


def ensure_hash_seed(argv: list[str]) -> None:
    """Re-execute this command with ``PYTHONHASHSEED=0`` unless it already runs with it."""
    if os.environ.get("PYTHONHASHSEED") == HASH_SEED:
        return
    env = dict(os.environ, PYTHONHASHSEED=HASH_SEED)
    os.execve(sys.executable, [sys.executable, "-m", "mmtrio", *argv], env)


def campaign_seeds(first_seed: int, runs: int) -> list[int]:
    """The seeds of a campaign, in run order."""
    return [run_seed(first_seed, i) for i in range(runs)]


def error_doc(seed: int, out_dir: str, error: str) -> dict[str, Any]:
    """The JSON summary of a run the harness could not complete (no verdict, no trace)."""
    result = RunResult(seed, out_dir)
    result.error = error
    return {**result.to_json(), "trace_hash": None}


def describe(exc: BaseException) -> str:
    """``Type: message`` of the first exception a (nested) exception group carries."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def _scratch_root() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def load_simulation(venue_name: str = "binance") -> None:
    """Import the simulation (the bot, the venue, the judge): about a second of CPU time
    (more when Python may not cache bytecode), most of a short campaign's start-up. A
    campaign does it once, before it forks its workers, which then start with every module
    loaded instead of each importing them. Nothing of one run is kept for the next.

    What is loaded then lives as long as the process: ``gc.freeze`` (after a collection, so
    that no garbage is frozen with it) takes it out of the collector's sight. A full
    collection (about one every three runs) then walks the objects of the runs only, not the
    ~70,000 of the loaded modules (measured: 70 ms a time), and forked workers do not copy
    the memory pages a collection would otherwise write to."""
    from mmtrio.chaos.dst_run import DstRun  # noqa: F401 - dst, dst_bot, the engine, the venue
    from mmtrio.sim import frontends
    from mmtrio.venues.registry import venue

    venue(venue_name)  # the venue packages a run loads on its first use (dst_run)
    frontends.factory(venue_name)
    gc.collect()
    gc.freeze()


def one(
    seed: int, duration_s: float, out_root: str, keep_all: bool, venue: str = "binance"
) -> dict[str, Any]:
    """Run ``seed`` on ``venue`` in a scratch directory; keep its evidence under ``out_root``
    if asked or if it failed. Returns the run's JSON summary (what crosses the process
    pool)."""
    from mmtrio.chaos.dst import run_one

    scratch = Path(tempfile.mkdtemp(prefix="mmdst-", dir=_scratch_root()))
    try:
        try:
            outcome = run_one(seed, duration_s, scratch, venue)
            doc = outcome.to_json()
            failed = not outcome.result.ok
        except Exception as exc:
            doc = error_doc(seed, str(scratch / f"seed-{seed}"), describe(exc))
            failed = True
        run_dir = scratch / f"seed-{seed}"
        if (failed or keep_all) and run_dir.exists():
            target = Path(out_root) / f"seed-{seed}"
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(run_dir, target)
            (target / "result.json").write_text(json.dumps(doc, indent=1))
            doc["out_dir"] = str(target)
        return doc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _worker_init() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)


def campaign(
    first_seed: int,
    runs: int,
    duration_s: float,
    out_root: Path,
    *,
    jobs: int = 1,
    keep_all: bool = False,
    stop: StopRequest | None = None,
    skip: frozenset[int] = frozenset(),
    venue: str = "binance",
) -> Iterator[dict[str, Any]]:
    """Each run's summary on ``venue``, in seed order, as the runs complete (``jobs``
    processes); the seeds in ``skip`` (judged before: a resumed campaign) are not run.

    With ``stop``, no run starts once it is requested; the runs under way finish and are
    yielded (in seed order, up to the first one that never started)."""
    out_root = out_root.resolve()
    out_root.mkdir(parents=True, exist_ok=True)
    seeds = [s for s in campaign_seeds(first_seed, runs) if s not in skip]
    load_simulation(venue)  # once, here, not in every worker
    if jobs <= 1:
        for s in seeds:
            if stop is not None and stop.requested:
                return
            yield one(s, duration_s, str(out_root), keep_all, venue)
        return
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init) as pool:
        futures = [pool.submit(one, s, duration_s, str(out_root), keep_all, venue) for s in seeds]
        for f in futures:
            while stop is not None and not stop.requested:
                try:
                    f.result(timeout=0.25)  # wakes to see a stop while workers go on
                    break
                except FuturesTimeout:
                    continue
            if stop is not None and stop.requested:
                for pending in futures:
                    pending.cancel()  # only runs not started yet: the others finish
            if f.cancelled():
                return
            yield f.result()
