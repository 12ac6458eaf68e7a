"""Long chaos campaign: ≥ 200 seeded runs of `mmtrio chaos`, JSON summary written to a file.

Each run starts the simulated venue and the bot as subprocesses, applies its seeded fault
schedule and checks the invariants (see mmtrio.chaos). Runs are sequential (each one owns
real sockets and a real bot process); 200 runs of 30 s take about two hours.

Usage: .venv/bin/python benchmarks/chaos_campaign.py [--runs 200] [--seed 1] [--duration 30]
       [--out chaos-campaign] [--summary chaos-campaign/summary.json]
Exit code: 0 clean, 4 violations (the summary names the first failing seed), 1 harness errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
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
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = Path(args.summary) if args.summary else out / "summary.json"
    results: list[RunResult] = []
    t0 = time.monotonic()
    for i in range(args.runs):
        result = Harness(run_seed(args.seed, i), args.duration, out).run()
        results.append(result)
        status = "ok" if result.ok else f"FAIL ({len(result.violations)} violations)"
        print(f"run {i + 1}/{args.runs} seed {result.seed}: {status}", flush=True)
        # rewritten after every run: a campaign stopped early still leaves its evidence
        doc = summary(results, args.seed) | {"wall_s": round(time.monotonic() - t0, 1)}
        target.write_text(json.dumps(doc, indent=1))
    print(format_table(results))
    print(f"summary: {target}")
    if any(r.violations for r in results):
        return 4
    return 1 if any(r.error is not None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
