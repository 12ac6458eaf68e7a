"""Throughput of the deterministic simulation (`mmtrio chaos --deterministic`), as JSON.

Runs ``--runs`` seeded runs of ``--duration`` virtual seconds on ``--jobs`` processes (the
campaign code the CLI uses: the real bot and the real simulated venue in one ``trio.run``
each) and prints one JSON object: runs/hour of wall time, virtual seconds simulated per wall
second, CPU seconds per run (the machine-independent cost: ``3600 / cpu_s_per_run`` runs an
hour per idle core), the one-off start-up CPU seconds (imports, before the campaign: not in
the per-run figures), the load average around the measurement (the machine is shared: a
loaded machine lowers the wall figures, not the CPU ones), and the judge's verdicts.

Usage: .venv/bin/python benchmarks/dst_throughput.py [--runs 40] [--duration 60] [--jobs 2]
       [--seed 1] [--out dst-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from mmtrio.chaos.dst_campaign import HASH_SEED, campaign, load_simulation


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="dst-bench")
    args = parser.parse_args()
    if os.environ.get("PYTHONHASHSEED") != HASH_SEED:  # as the CLI: reproducible traces
        env = dict(os.environ, PYTHONHASHSEED=HASH_SEED)
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    load_before = os.getloadavg()[0]
    # Start-up (importing the bot, the venue and the judge) is paid once per campaign, before
    # its workers fork: reported apart, so that the per-run figures are what each further run
    # costs (they included it before: about 0.25 s a run over 6 runs).
    cpu0 = _cpu_s()
    load_simulation()
    startup = _cpu_s() - cpu0
    cpu0, t0 = _cpu_s(), time.perf_counter()
    docs = list(campaign(args.seed, args.runs, args.duration, Path(args.out), jobs=args.jobs))
    wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    virtual = sum(float(d.get("virtual_s", 0.0)) for d in docs)
    print(
        json.dumps(
            {
                "benchmark": "dst_throughput",
                "runs": len(docs),
                "duration_s": args.duration,
                "jobs": args.jobs,
                "cores": os.cpu_count(),
                "startup_cpu_s": round(startup, 3),
                "wall_s": round(wall, 2),
                "runs_per_hour": round(len(docs) / wall * 3600, 1),
                "virtual_s_per_wall_s": round(virtual / wall, 2),
                "cpu_s_per_run": round(cpu / len(docs), 3),
                "runs_per_hour_per_idle_core": round(3600 * len(docs) / cpu, 1),
                "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "clean": sum(1 for d in docs if not d["violations"] and d["error"] is None),
                "violations": sum(1 for d in docs if d["violations"]),
                "errors": sum(1 for d in docs if d["error"] is not None),
                "violating_seeds": [d["seed"] for d in docs if d["violations"]],
                "error_seeds": [d["seed"] for d in docs if d["error"] is not None],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
