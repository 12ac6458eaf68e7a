"""Do the two chaos harnesses agree? The same seeds run both ways, verdicts compared, as JSON.

Each seed runs once in the process harness (`mmtrio chaos`: the simulated venue, the fault
proxy and the bot as processes on loopback, wall time) and once in the deterministic
simulation (`mmtrio chaos --deterministic`: both in one Trio run, virtual time). The two
harnesses draw the same fault schedule from a seed and feed the same judge, but they are not
expected to replay the same *run*: the process harness's timing is the machine's, so its
fills, and sometimes the faults that apply (a kill that finds the bot still starting), differ.
What must agree is the verdict: clean, or the same invariants violated. The JSON lists each
seed's verdicts both ways, the fills and faults each run applied, and the agreement rate.

Usage: .venv/bin/python benchmarks/dst_agreement.py [--runs 10] [--seed 1] [--duration 12]
       [--out dst-agreement]
Exit code 0 whatever the verdicts (it measures); 1 when a harness could not complete a run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _chaos(args: list[str], out: Path) -> dict[int, dict[str, Any]]:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", *args, "--json", "--out", str(out)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode not in (0, 4):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    doc = json.loads(proc.stdout)
    # the process harness's summary lists its runs under "results", the simulation's "runs"
    runs = doc["runs"] if isinstance(doc["runs"], list) else doc["results"]
    return {int(r["seed"]): r for r in runs}


def _verdict(run: dict[str, Any]) -> list[int] | str:
    if run.get("error"):
        return f"error: {run['error']}"
    return sorted({int(v["invariant"]) for v in run["violations"]})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--out", default="dst-agreement")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    common = ["--runs", str(args.runs), "--seed", str(args.seed), "--duration", str(args.duration)]
    t0 = time.perf_counter()
    process = _chaos(common, out / "process")
    t1 = time.perf_counter()
    simulated = _chaos([*common, "--deterministic"], out / "deterministic")
    t2 = time.perf_counter()
    seeds = []
    for seed in sorted(process):
        p, d = process[seed], simulated[seed]
        seeds.append(
            {
                "seed": seed,
                "process": _verdict(p),
                "deterministic": _verdict(d),
                "agree": _verdict(p) == _verdict(d),
                "fills": [p["fills"], d["fills"]],
                "faults_applied": [sum(p["faults"].values()), sum(d["faults"].values())],
            }
        )
    agree = sum(1 for s in seeds if s["agree"])
    errors = sum(1 for s in seeds for v in (s["process"], s["deterministic"]) if isinstance(v, str))
    print(
        json.dumps(
            {
                "benchmark": "dst_agreement",
                "runs": len(seeds),
                "duration_s": args.duration,
                "agree": agree,
                "agreement": round(agree / len(seeds), 3) if seeds else None,
                "wall_s": {"process": round(t1 - t0, 1), "deterministic": round(t2 - t1, 1)},
                "load_average": round(os.getloadavg()[0], 2),
                "seeds": seeds,
            }
        )
    )
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
