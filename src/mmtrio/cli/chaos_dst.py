"""`mmtrio chaos --deterministic`: the campaign in the deterministic simulation.

Prints one line per run (seed, verdict, faults, fills, trace hash, virtual and wall
seconds) and a total with runs/hour and virtual seconds simulated per wall second; or, with
--json, one JSON document. Exit codes as the process campaign: 0 clean, 4 a violation, 1 a
run the harness could not complete, or (--replay-check) a seed whose two runs differ.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _line(doc: dict[str, Any]) -> str:
    if doc.get("error"):
        verdict = "ERROR " + str(doc["error"])[:120]
    elif doc["violations"]:
        v = doc["violations"][0]
        verdict = f"VIOLATION #{v['invariant']}: {v['message'][:120]}"
    else:
        verdict = "ok"
    faults = sum(doc.get("faults", {}).values())
    trace = (doc.get("trace_hash") or "-")[:16]
    return (
        f"seed {doc['seed']:>6}  faults {faults:>3}  fills {doc.get('fills', 0):>4}  "
        f"restarts {doc.get('restarts', 0)}  end {doc.get('end', '-'):<7}  trace {trace}  "
        f"virtual {doc.get('virtual_s', 0):.1f} s  wall {doc.get('wall_s', 0):.2f} s  {verdict}"
    )


def summarize(docs: list[dict[str, Any]], wall_s: float, jobs: int) -> dict[str, Any]:
    virtual = sum(float(d.get("virtual_s", 0.0)) for d in docs)
    return {
        "runs": len(docs),
        "clean": sum(1 for d in docs if not d["violations"] and not d.get("error")),
        "violations": sum(1 for d in docs if d["violations"]),
        "errors": sum(1 for d in docs if d.get("error")),
        "violating_seeds": [d["seed"] for d in docs if d["violations"]],
        "jobs": jobs,
        "wall_s": round(wall_s, 3),
        "runs_per_hour": round(len(docs) / wall_s * 3600, 1) if wall_s > 0 else None,
        "virtual_s_per_wall_s": round(virtual / wall_s, 2) if wall_s > 0 else None,
    }


def _replay_check(args: argparse.Namespace) -> int:
    from mmtrio.chaos.dst import first_divergence, run_one
    from mmtrio.chaos.schedule import run_seed
    from mmtrio.cli import EXIT_FAILED, EXIT_OK

    code = EXIT_OK
    for i in range(args.runs):
        seed = run_seed(args.seed, i)
        with (
            tempfile.TemporaryDirectory(prefix="mmdst-") as a,
            tempfile.TemporaryDirectory(prefix="mmdst-") as b,
        ):
            first, again = (
                run_one(seed, args.duration, Path(a)),
                run_one(seed, args.duration, Path(b)),
            )
        diff = first_divergence(first.trace, again.trace)
        same = diff is None and first.trace_hash == again.trace_hash
        print(f"seed {seed}: trace {first.trace_hash} {'reproduced' if same else 'DIVERGED'}")
        if not same:
            print(f"  first divergence: {diff or 'hashes differ'}")
            code = EXIT_FAILED
    return code


def _shrink(seed: int, duration_s: float, out: Path) -> dict[str, Any]:
    """Shrink a violating seed's schedule; print and return the minimal faults."""
    from mmtrio.chaos.dst import run_schedule
    from mmtrio.chaos.dst_shrink import shrink
    from mmtrio.chaos.schedule import make_schedule

    schedule = make_schedule(seed, int(duration_s * 1000))
    with tempfile.TemporaryDirectory(prefix="mmdst-") as scratch:
        first = run_schedule(schedule, Path(scratch))
    if first.result.ok:
        return {"seed": seed, "shrunk": None, "note": "the seed did not violate on replay"}
    done = shrink(schedule, first)
    faults = [[a.to_json() for a in fault] for fault in done.faults]
    doc = {
        "seed": seed,
        "faults_before": sum(1 for a in schedule.actions if a.counted),
        "faults_after": len(done.faults),
        "runs": done.runs,
        "violations": [v.to_json() for v in done.result.result.violations],
        "trace_hash": done.result.trace_hash,
        "faults": faults,
    }
    target = out / f"seed-{seed}"
    target.mkdir(parents=True, exist_ok=True)
    (target / "shrunk.json").write_text(json.dumps(doc, indent=1))
    return doc


def run_deterministic(args: argparse.Namespace) -> int:
    from mmtrio.chaos.dst_campaign import HASH_SEED, campaign, ensure_hash_seed
    from mmtrio.chaos.stop import StopRequest
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_VIOLATIONS

    if os.environ.get("PYTHONHASHSEED") != HASH_SEED and sys.argv[1:2] == ["chaos"]:
        ensure_hash_seed(sys.argv[1:])  # replaces this process (see dst_campaign)
    if args.replay_check:
        return _replay_check(args)
    started = time.perf_counter()
    docs: list[dict[str, Any]] = []
    with StopRequest() as stop:
        for doc in campaign(
            args.seed,
            args.runs,
            args.duration,
            Path(args.out),
            jobs=args.jobs,
            keep_all=args.keep,
            stop=stop,
        ):
            docs.append(doc)
            if not args.json:
                print(_line(doc), flush=True)
    summary = summarize(docs, time.perf_counter() - started, args.jobs)
    if stop.requested:
        summary["stopped_by"] = stop.signal
        print(
            f"mmtrio chaos: {stop.signal} received: stopped after {len(docs)} of {args.runs} "
            "runs (the runs under way finished; the figures below cover those only)",
            file=sys.stderr,
            flush=True,
        )
    if args.shrink:
        summary["shrunk"] = [
            _shrink(seed, args.duration, Path(args.out)) for seed in summary["violating_seeds"]
        ]
        if not args.json:
            for doc in summary["shrunk"]:
                kinds = [fault[0]["kind"] for fault in doc.get("faults", [])]
                print(
                    f"seed {doc['seed']} shrunk to {doc.get('faults_after')} fault(s) "
                    f"{kinds} in {doc.get('runs')} runs; {doc.get('violations', [''])[0]}"
                )
    if args.json:
        print(json.dumps({"runs": docs, "summary": summary}))
    else:
        print(
            f"{summary['runs']} runs: {summary['clean']} clean, {summary['violations']} with "
            f"violations, {summary['errors']} harness errors; {summary['runs_per_hour']} "
            f"runs/hour, {summary['virtual_s_per_wall_s']} virtual s per wall s "
            f"({args.jobs} job(s))"
        )
    if summary["violations"]:
        return EXIT_VIOLATIONS
    # a campaign stopped early has no verdict on the runs it did not make
    return EXIT_FAILED if summary["errors"] or stop.requested else EXIT_OK
