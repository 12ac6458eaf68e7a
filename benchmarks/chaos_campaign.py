"""Long chaos campaign: ≥ 200 seeded runs of `mmtrio chaos`, JSON summary written to a file.

Each run starts the simulated venue and the bot as subprocesses, applies its seeded fault
schedule and checks the invariants (see mmtrio.chaos). Runs share nothing (each has its own
sim on ephemeral ports, its own bot, state directory and evidence), so ``--jobs`` runs
several at a time; a run is two lightly loaded processes (about a quarter of one core), and
200 runs of 30 s take about two hours one at a time.

Usage: .venv/bin/python benchmarks/chaos_campaign.py [--runs 200] [--seed 1] [--duration 30]
       [--jobs 1] [--out chaos-campaign] [--summary chaos-campaign/summary.json]
Exit code: 0 clean, 4 violations (the summary names the first failing seed), 1 harness errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mmtrio.chaos.harness import Harness
from mmtrio.chaos.report import RunResult, format_table, summary
from mmtrio.chaos.schedule import run_seed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    parser.add_argument("--out", default="chaos-campaign")
    parser.add_argument("--summary", help="JSON summary path (default <out>/summary.json)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    parser.add_argument("--venue", choices=("binance", "hyperliquid"), default="binance")
    args = parser.parse_args()
    if args.runs < 1 or args.jobs < 1:
        parser.error("--runs and --jobs must be at least 1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = Path(args.summary) if args.summary else out / "summary.json"
    done: dict[int, RunResult] = {}
    lock = threading.Lock()
    t0 = time.monotonic()

    def one(i: int) -> None:
        result = Harness(run_seed(args.seed, i), args.duration, out, args.venue).run()
        with lock:
            done[i] = result
            status = "ok" if result.ok else f"FAIL ({len(result.violations)} violations)"
            print(f"run {len(done)}/{args.runs} seed {result.seed}: {status}", flush=True)
            # rewritten after every run: a campaign stopped early still leaves its evidence
            ordered = [done[k] for k in sorted(done)]
            doc = summary(ordered, args.seed) | {
                "wall_s": round(time.monotonic() - t0, 1),
                "jobs": args.jobs,
                "duration_s": args.duration,
                "venue": args.venue,
            }
            target.write_text(json.dumps(doc, indent=1))

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in [pool.submit(one, i) for i in range(args.runs)]:
            future.result()  # a harness bug surfaces here, not silently
    results = [done[k] for k in sorted(done)]
    print(format_table(results))
    print(f"summary: {target}")
    if any(r.violations for r in results):
        return 4
    return 1 if any(r.error is not None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
