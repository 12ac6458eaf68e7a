"""`mmtrio chaos`: its arguments checked before any run starts.

A bad argument is one line on stderr and exit 2, never a traceback, a run recorded as a
harness error, or an option silently ignored: every option that only means something in one
mode is refused in the other, and the duration is checked against the schedule's own
minimum (:func:`mmtrio.chaos.schedule.check_duration`).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

DST_ONLY = ("resume", "shrink", "replay_check", "keep")


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _out_error(out: str) -> str | None:
    """Why ``--out`` cannot be the evidence directory (it, or the nearest ancestor that
    exists, is not a directory), or None."""
    path = Path(out).absolute()
    for cand in (path, *path.parents):
        if cand.exists():
            if cand.is_dir():
                return None
            if cand == path:
                return f"--out {out} exists and is not a directory"
            return f"--out {out}: {cand} is not a directory"
    return None


def _duration_error(duration_s: float) -> str | None:
    from mmtrio.chaos.schedule import check_duration
    from mmtrio.errors import ParameterError

    if not math.isfinite(duration_s):
        return f"--duration must be a finite number of seconds, got {duration_s}"
    try:
        check_duration(int(duration_s * 1000))
    except ParameterError as exc:
        return f"--duration {duration_s:g}: {exc}"
    return None


def _mode_error(args: argparse.Namespace) -> str | None:
    """An option of the other mode, or a combination the mode does not run."""
    if not args.deterministic:
        for dest in DST_ONLY:
            if getattr(args, dest):
                extra = (
                    "; the process campaign's is benchmarks/chaos_campaign.py --resume"
                    if dest == "resume"
                    else ""
                )
                return f"{_flag(dest)} is for --deterministic campaigns{extra}"
        if args.engine != "local" or args.address:
            return "--engine and --address are for --deterministic"
        return None
    if args.address and args.engine != "ray":
        return "--address needs --engine ray"
    if args.replay_check:
        for dest in ("resume", "shrink", "keep"):
            if getattr(args, dest):
                return (
                    f"--replay-check runs each seed twice in temporary directories and "
                    f"records nothing: {_flag(dest)} does not apply to it"
                )
        if args.engine != "local":
            return "--replay-check runs locally: --engine ray does not apply to it"
    return None


def usage_error(args: argparse.Namespace) -> str | None:
    """The first thing wrong with the arguments of `mmtrio chaos` (one line), or None."""
    if args.runs < 1:
        return f"--runs must be at least 1, got {args.runs}"
    if not 0 <= args.seed < 2**32:
        return f"--seed must be in 0..4294967295, got {args.seed}"
    if args.jobs < 1:
        return f"--jobs must be at least 1, got {args.jobs}"
    return _mode_error(args) or _duration_error(args.duration) or _out_error(args.out)


__all__ = ["usage_error"]
