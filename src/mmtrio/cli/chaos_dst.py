"""`mmtrio chaos --deterministic`: the campaign in the deterministic simulation.

Prints one line per run (seed, verdict, faults, fills, trace hash, virtual and wall
seconds) and a total with runs/hour and virtual seconds simulated per wall second; or, with
--json, one JSON document. Exit codes as the process campaign: 0 clean, 4 a violation, 1 a
run the harness could not complete, or (--replay-check) a seed whose two runs differ, 2 a
record in --out that --resume cannot carry on (named).

Every run is recorded as it is judged (:mod:`mmtrio.chaos.dst_record`: ``--out/runs.jsonl``
and ``--out/campaign.json``), so a long campaign can be watched and, with --resume, carried
on after a stop.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mmtrio.chaos.dst_record import Totals
    from mmtrio.chaos.stop import StopRequest


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


def summarize(
    totals: Totals, fresh: int, fresh_virtual_s: float, wall_s: float, jobs: int
) -> dict[str, Any]:
    """The campaign's totals; runs/hour and virtual s per wall s count only the ``fresh``
    runs of this invocation (a resumed campaign's earlier runs took other wall time)."""
    return {
        **totals.to_json(),
        "resumed": totals.runs - fresh,
        "jobs": jobs,
        "wall_s": round(wall_s, 3),
        "runs_per_hour": round(fresh / wall_s * 3600, 1) if wall_s > 0 else None,
        "virtual_s_per_wall_s": round(fresh_virtual_s / wall_s, 2) if wall_s > 0 else None,
    }


def _replay_check(args: argparse.Namespace) -> int:
    """Each seed run twice: here, and in a fresh interpreter (a "spawn" process pool of
    ``--jobs`` workers; both with the campaign's fixed ``PYTHONHASHSEED``, inherited), so
    that a trace depending on anything but the seed and that hash seed (state an earlier
    run left in the process, the wall clock, the pid) shows as a divergence. The pool's
    second runs go on while this process runs the first ones."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from mmtrio.chaos.dst import first_divergence, traced_run
    from mmtrio.chaos.schedule import run_seed
    from mmtrio.cli import EXIT_FAILED, EXIT_OK

    code = EXIT_OK
    seeds = [run_seed(args.seed, i) for i in range(args.runs)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=ctx) as pool:
        others = [pool.submit(traced_run, seed, args.duration, args.venue) for seed in seeds]
        for seed, other in zip(seeds, others, strict=True):
            first_hash, first_trace, first_dir = traced_run(seed, args.duration, args.venue)
            again_hash, again_trace, again_dir = other.result()
            # each run's directory is its own temporary one: compared as the hash reads them
            diff = first_divergence(first_trace, again_trace, first_dir, again_dir)
            same = diff is None and first_hash == again_hash
            state = "reproduced in another process" if same else "DIVERGED"
            print(f"seed {seed}: trace {first_hash} {state}", flush=True)
            if not same:
                print(f"  first divergence: {diff or 'hashes differ'}", flush=True)
                code = EXIT_FAILED
    return code


def _shrink(seed: int, duration_s: float, out: Path, venue: str) -> dict[str, Any]:
    """Shrink a violating seed's schedule on ``venue``; print and return the minimal faults."""
    from mmtrio.chaos.dst import run_schedule
    from mmtrio.chaos.dst_shrink import shrink
    from mmtrio.chaos.schedule import make_schedule

    schedule = make_schedule(seed, int(duration_s * 1000))
    with tempfile.TemporaryDirectory(prefix="mmdst-") as scratch:
        first = run_schedule(schedule, Path(scratch), venue=venue)
    if first.result.ok:
        return {"seed": seed, "shrunk": None, "note": "the seed did not violate on replay"}
    done = shrink(schedule, first, venue=venue)
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


def shrink_line(doc: dict[str, Any], out: Path) -> str:
    """One line for a shrunk seed: its minimal faults and the violation they reproduce."""
    if "faults" not in doc:
        return f"seed {doc['seed']} not shrunk: {doc.get('note', 'no result')}"
    kinds = ", ".join(fault[0]["kind"] for fault in doc["faults"])
    first = (doc.get("violations") or [{}])[0]
    verdict = f"#{first.get('invariant', '?')}: {first.get('message', '')}"[:160]
    return (
        f"seed {doc['seed']} shrunk from {doc['faults_before']} to {doc['faults_after']} "
        f"fault(s) [{kinds}] in {doc['runs']} runs, still {verdict}; "
        f"schedule: {out / ('seed-' + str(doc['seed'])) / 'shrunk.json'}"
    )


def _runs(
    args: argparse.Namespace, out: Path, stop: StopRequest, skip: frozenset[int]
) -> Iterator[dict[str, Any]]:
    """The runs of the campaign, on the engine asked for (see ``--engine``)."""
    from mmtrio.chaos.dst_campaign import campaign

    engine = campaign
    if args.engine == "ray":
        from mmtrio.chaos.dst_ray import ray_campaign

        engine = functools.partial(ray_campaign, address=args.address)
    return engine(
        args.seed,
        args.runs,
        args.duration,
        out,
        jobs=args.jobs,
        keep_all=args.keep,
        stop=stop,
        skip=skip,
        venue=args.venue,
    )


def run_deterministic(args: argparse.Namespace) -> int:
    from mmtrio.chaos.dst_campaign import HASH_SEED, campaign_seeds, ensure_hash_seed
    from mmtrio.chaos.dst_record import CampaignRecord, RecordError
    from mmtrio.chaos.stop import StopRequest
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS
    from mmtrio.errors import MmtrioError

    if os.environ.get("PYTHONHASHSEED") != HASH_SEED and sys.argv[1:2] == ["chaos"]:
        ensure_hash_seed(sys.argv[1:])  # replaces this process (see dst_campaign)
    if args.replay_check:
        return _replay_check(args)
    out = Path(args.out).resolve()
    seeds = campaign_seeds(args.seed, args.runs)
    record = CampaignRecord(out, args.seed, args.runs, args.duration, args.jobs, venue=args.venue)
    try:
        record.start(resume=args.resume, seeds=seeds)
    except (RecordError, OSError) as exc:
        print(f"mmtrio chaos: {exc}", file=sys.stderr)
        return EXIT_USAGE
    docs: dict[int, dict[str, Any]] = dict(record.previous)
    if args.resume and not args.json:
        print(f"{len(docs)} runs already judged in {out}, {len(seeds) - len(docs)} to go")
    started = time.perf_counter()
    fresh, fresh_virtual = 0, 0.0
    try:
        with StopRequest() as stop:
            for doc in _runs(args, out, stop, frozenset(docs)):
                record.add(doc)
                docs[doc["seed"]] = doc
                fresh += 1
                fresh_virtual += float(doc.get("virtual_s", 0.0))
                if not args.json:
                    print(_line(doc), flush=True)
    except MmtrioError as exc:  # e.g. --engine ray without Ray installed
        print(f"mmtrio chaos: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        record.close()
    summary = summarize(
        record.totals, fresh, fresh_virtual, time.perf_counter() - started, args.jobs
    )
    summary["record"] = str(record.runs_path)
    if stop.requested:
        summary["stopped_by"] = stop.signal
        print(
            f"mmtrio chaos: {stop.signal} received: stopped after {fresh} of "
            f"{len(seeds) - summary['resumed']} runs (the runs under way finished; the figures "
            f"below cover those only; --resume carries the campaign on)",
            file=sys.stderr,
            flush=True,
        )
    if args.shrink:
        summary["shrunk"] = [
            _shrink(seed, args.duration, out, args.venue) for seed in summary["violating_seeds"]
        ]
        if not args.json:
            for doc in summary["shrunk"]:
                print(shrink_line(doc, out))
    if args.json:
        ordered = [docs[s] for s in seeds if s in docs]
        print(json.dumps({"runs": ordered, "summary": summary}))
    else:
        resumed = f" ({summary['resumed']} of them from the record)" if summary["resumed"] else ""
        print(
            f"{summary['runs']} runs{resumed}: {summary['clean']} clean, "
            f"{summary['violations']} with violations, {summary['errors']} harness errors; "
            f"{summary['runs_per_hour']} runs/hour, {summary['virtual_s_per_wall_s']} virtual "
            f"s per wall s ({args.jobs} job(s)); record: {record.runs_path}"
        )
    if summary["violations"]:
        return EXIT_VIOLATIONS
    # a campaign stopped early has no verdict on the runs it did not make
    return EXIT_FAILED if summary["errors"] or stop.requested else EXIT_OK
