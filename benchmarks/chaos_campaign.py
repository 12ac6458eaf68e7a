"""Long chaos campaign: hundreds to thousands of seeded runs of `mmtrio chaos`, JSON summary.

Each run starts the simulated venue, the fault proxy and the bot as subprocesses, applies
its seeded fault schedule (every kind of ``mmtrio.chaos.schedule.CHAOS_KINDS``, including
the link, CPU-starvation, reconciliation and early-kill layers of issue #20) and checks the
invariants. Runs share nothing (each has its own sim on ephemeral ports, its own proxy, bot,
state directory and evidence), so ``--jobs`` runs several at a time; a run is a few lightly
loaded processes (CPU-starvation runs add a busy one), and a 25 s run takes about 30-40 s.

The summary (``<out>/summary.json``, rewritten after every run, so a campaign stopped early
still leaves its figures) has the per-fault-kind counts, violations, harness errors and the
venue fills checked against the journal. ``--resume`` skips the seeds the summary already
holds (a 1,000-run campaign survives a reboot); ``--keep failed`` deletes the evidence of
clean runs (about 0.2-0.6 MB each) once judged, keeping their ``evidence.json``.

Usage: .venv/bin/python benchmarks/chaos_campaign.py [--runs 1000] [--seed 1] [--duration 25]
       [--jobs 2] [--out chaos-campaign] [--summary chaos-campaign/summary.json] [--resume]
       [--keep all|failed]
Exit code: 0 clean, 4 violations (the summary names the first failing seed), 1 harness errors
or stopped by SIGTERM (the runs under way finish and are judged, no other starts).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mmtrio.chaos.harness import Harness
from mmtrio.chaos.report import RunResult, format_table, summary
from mmtrio.chaos.schedule import run_seed
from mmtrio.chaos.stop import StopRequest
from mmtrio.chaos.venues import VENUES


def _previous(target: Path) -> dict[int, RunResult]:
    """Results a resumed campaign already has, by run index (seed - campaign seed)."""
    if not target.is_file():
        return {}
    doc = json.loads(target.read_text())
    return {
        int(r["seed"]) - int(doc["campaign_seed"]): RunResult.from_json(r) for r in doc["results"]
    }


def _prune(result: RunResult) -> None:
    """--keep failed: a clean run keeps only its evidence.json."""
    run_dir = Path(result.out_dir)
    for item in run_dir.iterdir() if run_dir.is_dir() else ():
        if item.name == "evidence.json":
            continue
        if item.is_dir():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    parser.add_argument("--out", default="chaos-campaign")
    parser.add_argument("--summary", help="JSON summary path (default <out>/summary.json)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    parser.add_argument("--venue", choices=VENUES, default="binance")
    parser.add_argument("--resume", action="store_true", help="skip runs the summary holds")
    parser.add_argument(
        "--keep",
        choices=("all", "failed"),
        default="all",
        help="evidence to keep: every run's, or only failed runs' (default all)",
    )
    args = parser.parse_args()
    if args.runs < 1 or args.jobs < 1:
        parser.error("--runs and --jobs must be at least 1")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    target = Path(args.summary).resolve() if args.summary else out / "summary.json"
    done: dict[int, RunResult] = _previous(target) if args.resume else {}
    done = {i: r for i, r in done.items() if 0 <= i < args.runs}
    todo = [i for i in range(args.runs) if i not in done]
    lock = threading.Lock()
    t0 = time.monotonic()
    print(f"{len(done)} runs already judged, {len(todo)} to go", flush=True)

    def one(i: int) -> None:
        if stop.requested:
            return  # SIGTERM: the runs under way finish, no other starts
        result = Harness(run_seed(args.seed, i), args.duration, out, args.venue).run()
        if args.keep == "failed" and result.ok:
            _prune(result)
        with lock:
            done[i] = result
            status = "ok" if result.ok else f"FAIL ({len(result.violations)} violations)"
            if result.error is not None:
                status = f"HARNESS ERROR ({result.error[:120]})"
            print(f"run {len(done)}/{args.runs} seed {result.seed}: {status}", flush=True)
            ordered = [done[k] for k in sorted(done)]
            doc = summary(ordered, args.seed) | {
                "wall_s": round(time.monotonic() - t0, 1),
                "jobs": args.jobs,
                "duration_s": args.duration,
                "venue": args.venue,
            }
            tmp = target.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc, indent=1))
            tmp.replace(target)  # atomic: a resume never reads half a summary

    with StopRequest([signal.SIGTERM]) as stop, ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in [pool.submit(one, i) for i in todo]:
            future.result()  # a harness bug surfaces here, not silently
    results = [done[k] for k in sorted(done)]
    if stop.requested:
        print(f"{stop.signal} received: stopped after {len(results)} of {args.runs} runs")
    print(format_table(results))
    print(f"summary: {target}")
    if any(r.violations for r in results):
        return 4
    return 1 if any(r.error is not None for r in results) or stop.requested else 0


if __name__ == "__main__":
    sys.exit(main())
