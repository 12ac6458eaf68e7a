"""Chaos campaign: `mmtrio sim` and `mmtrio run` as real subprocesses, seeded faults, checked.

Each run starts the simulated venue and the bot on loopback, applies a reproducible random
fault schedule (websocket drops and storms, missed pongs, depth gaps and duplicates, user
events duplicated and reordered, listen-key expiry, 429 bursts, 5xx and dropped responses
after an accept, cancel races, venue cancels and expiries, latency spikes, clock skew,
SIGKILL + restart, SIGHUP with a valid / invalid config, a full journal disk (the disk
guard's threshold, and on Linux the bot's file writes past 4 KiB refused by the kernel
through RLIMIT_FSIZE), foreign orders, unknown venue errors that may crash a bot task, a crashing
supervised task; and, through a TCP fault proxy between the bot and the venue, half-open
links and connection resets on REST and websockets; CPU starvation (the bot pinned to a core
shared with busy processes); fills made during a REST recovery, fills replayed across a
restart, a position change no fill explains, orders dropped at start-up, and a kill -9
moments after the first quote with fills made while the bot is down)
and checks the invariants against the venue's ground truth and the bot's journal and logs.
``--out`` may be relative (to the working directory) or absolute. A bot that refuses to
start (exit 2: the config or keys the harness gave it) is a harness error, never a bot
violation.

Prints a table (per run and total). Exit 0 when every run is clean, 4 on any violation (the
seed and the first violating event are named; evidence is kept under --out/seed-<seed>/),
1 when the harness itself could not complete a run. Run i of a campaign uses seed S+i, so
`mmtrio chaos --runs 1 --seed <failing seed>` replays the same fault schedule.

With --deterministic the same schedules run in a deterministic simulation instead
(:mod:`mmtrio.chaos.dst`): the real bot and the real simulated venue in one Trio run on a
virtual clock, connected in memory, judged by the same code; each run prints its trace hash,
and the same seed gives the same hash. --jobs spreads runs over processes; --replay-check
runs every seed twice, here and in a fresh interpreter (--jobs of them), and names the first
divergence of the two traces (exit 1) if any. It runs every venue the process harness runs
(--venue binance, okx, hyperliquid, extended: that venue's connector against its own
simulated front end).
SIGTERM or Ctrl-C stops a deterministic campaign: the runs under way finish, no other
starts, the figures cover the runs made, and the exit is 1 (4 if one of them violated).
A deterministic campaign records each run as it is judged in --out/runs.jsonl and its
totals in --out/campaign.json (rewritten after every run); the same command with --resume
carries a stopped campaign on, skipping the seeds already judged.
SIGTERM stops a process-level campaign the same way (its run under way finishes and its
processes are stopped); Ctrl-C reaches every process of the group and ends it at once.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

NAME = "chaos"
HELP = "run seeded fault-injection runs against the sim and check the bot's invariants"
EPILOG = """\
examples:
  mmtrio chaos --runs 3 --seed 1
  mmtrio chaos --runs 1 --seed 42 --json       # replay one failing seed
  mmtrio chaos --venue hyperliquid --runs 3    # the same faults on the Hyperliquid sim and bot
  mmtrio chaos --venue okx --runs 3            # the OKX connector against the simulated OKX venue
  mmtrio chaos --deterministic --runs 500 --seed 1 --duration 60 --jobs 2
  mmtrio chaos --deterministic --runs 1 --seed 139 --replay-check   # same trace twice?
  mmtrio chaos --deterministic --venue okx --runs 200 --seed 1 --duration 60 --jobs 2
  mmtrio chaos --venue extended --runs 3       # on Extended's protocol (Stark-signed orders)

exit codes: 0 every run clean; 1 the harness could not complete a run, or the campaign
was stopped (SIGTERM; Ctrl-C for --deterministic) before its last run; 2 bad arguments;
4 an invariant was violated

Arguments are checked before any run starts (exit 2, one line): --resume, --shrink,
--replay-check, --keep, --engine and --address need --deterministic; --replay-check records
nothing (no --resume, --shrink, --keep or --engine ray with it); --resume needs the record's
--seed, --duration and --venue and at least as many --runs as the record holds. The bot's
base config is always the packaged default, never a ./config.toml of the working directory.
"""


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=3, help="number of runs (default 3)")
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the first run; run i uses seed+i (default 1)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=30.0,
        help="seconds per run (sim time = wall time: the sim runs at speed 1; "
        "--deterministic: virtual seconds); more than 10 (4 s warm-up, 6 s quiet tail); "
        "default 30",
    )
    parser.add_argument(
        "--venue",
        choices=("binance", "extended", "hyperliquid", "okx"),
        default="binance",
        help="the venue's simulated front end and connector to run (default binance; "
        "--deterministic runs each of them too)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="run in the deterministic simulation (bot and venue in one process on virtual "
        "time, in-memory links): each run reproducible by its seed and trace hash",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="--deterministic: runs in parallel processes (default 1)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="--deterministic: keep every run's evidence under --out (default: failing runs only)",
    )
    parser.add_argument(
        "--shrink",
        action="store_true",
        help="--deterministic: shrink each violating seed's schedule to a minimal set of "
        "faults that still violates (written to --out/seed-<seed>/shrunk.json)",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="--deterministic: where runs go: a local process pool of --jobs processes "
        "(default), or Ray (a local Ray runtime of --jobs CPUs, or the cluster at --address)",
    )
    parser.add_argument(
        "--address",
        help="--deterministic --engine ray: the Ray cluster to join (auto, ray://host:10001); "
        "default: a local Ray runtime",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="--deterministic: carry on the campaign recorded in --out (runs.jsonl, "
        "campaign.json): the seeds already judged are skipped",
    )
    parser.add_argument(
        "--replay-check",
        action="store_true",
        help="--deterministic: run each seed twice (here and in a fresh process) and report "
        "the first divergence of the traces",
    )
    parser.add_argument(
        "--out",
        default="chaos-out",
        help="evidence directory, relative to the working directory or absolute; made if "
        "missing, refused if it is a file (default ./chaos-out)",
    )


def run(args: argparse.Namespace) -> int:
    from mmtrio.chaos.harness import run_campaign
    from mmtrio.chaos.report import format_table, summary
    from mmtrio.chaos.stop import StopRequest
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS
    from mmtrio.cli.chaos_args import usage_error
    from mmtrio.errors import MmtrioError

    problem = usage_error(args)
    if problem is not None:
        print(f"mmtrio chaos: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.deterministic:
        from mmtrio.cli.chaos_dst import run_deterministic

        return run_deterministic(args)
    try:
        with StopRequest([signal.SIGTERM]) as stop:  # Ctrl-C: see chaos/stop.py
            results = run_campaign(
                args.seed, args.runs, args.duration, Path(args.out), args.venue, stop=stop
            )
    except MmtrioError as exc:  # a campaign the harness cannot set up
        print(f"mmtrio chaos: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if stop.requested:
        print(
            f"mmtrio chaos: {stop.signal} received: stopped after {len(results)} of "
            f"{args.runs} runs (the run under way finished; the figures below cover those only)",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(summary(results, args.seed)))
    else:
        print(format_table(results))
    if any(r.violations for r in results):
        return EXIT_VIOLATIONS
    if any(r.error is not None for r in results) or stop.requested:
        return EXIT_FAILED
    return EXIT_OK
