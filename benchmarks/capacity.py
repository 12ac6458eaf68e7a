"""Capacity: the highest depth-message rate the bot sustains with the queue wait p99 under 1 ms
(issue 15), and the same on a Raspberry Pi-like layout (the bot pinned to one core, the sim to
the other). Prints JSON; asserts nothing.

The pipeline is `benchmarks/latency.py`'s, unchanged (the Binance market stream, the one inbox
with its conflating market lane, the trading loop deciding once per batch, the SQLite journal,
execution, order entry over the WebSocket API), against `mmtrio sim --synthetic` in its own
process. The synthetic market sends one depth diff per 100 ms of market time, so `--speed` S
offers 10·S depth messages a second (plus trades and mark prices). The benchmark steps the
offered rate up, one fresh sim and bot per step, and measures each for `--seconds` of wall
time after a warm-up:

- ``depth_msgs_per_s``: depth diffs decoded per second (what the bot actually took in). The
  venue also publishes the changes the bot's own orders make to the book, as a live venue
  does, so this is more than the market's own ``offered_depth_msgs_per_s`` (10·S);
- ``queue_wait``: for **every** depth diff, from its hand-off to the inbox (decoded, checked
  by the sequencer) to the start of the trading-loop batch that applied it. This is the wait
  the issue bounds; under load the loop takes several diffs per batch (conflation), and the
  wait grows with the batch before;
- ``conflated``: depth diffs applied without a decision of their own;
- tick-to-order and CPU per market message, as `latency.py` reports them.

A step is **sustained** when the bot took in at least 95 % of the market's own depth rate
(a bot that falls behind reads less than the venue sends) and the queue wait p99 is under
1 ms. ``capacity_depth_msgs_per_s`` is the highest sustained step's measured rate (null
when none is); ``capacity_every_lower_step_sustained`` the highest step below which every
step was sustained too (the conservative reading when the steps are not monotonic). The
target is ≥ 2,000. ``queue_wait_tail`` splits the waits of 1 ms or more: the part spent
behind the loop's own previous batch, and the rest (other tasks on the event loop: execution
sending orders, the streams decoding, the journal; and the scheduler); with ``--attribute``,
``by_task_instrumented`` shares that time among the Trio tasks whose steps ran during those
waits (timed by a ``trio.abc.Instrument``, which adds its own cost to every task step), and
``gc`` counts Python's garbage collections in the window per generation (total and longest
pause) and the share of the long waits they account for (``gc.callbacks``, always on: they
run only when a collection does).

``--pin`` runs the steps a second time with the bot's process on CPU 0 and the sim on CPU 1
(``sched_setaffinity`` on every thread of the bot's process, ``taskset`` for the sim): one
core each, as on a Raspberry Pi with a co-located feed handler. The figures are the Pi-like
layout's on this machine's cores (not a Pi's slower ones).

Usage: .venv/bin/python benchmarks/capacity.py [--speeds 20,50,100,200] [--seconds 10]
       [--warmup 200] [--pin]
"""

from __future__ import annotations

import argparse
import bisect
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency import dist, machine, run_pipeline, start_sim_process
from mmtrio.core.events import BookDelta
from mmtrio.runtime.probe import LatencyProbe

QUEUE_P99_LIMIT_US = 1_000.0
SUSTAINED_SHARE = 0.95
DEPTH_MSGS_PER_MARKET_S = 10  # the synthetic market: one depth diff per 100 ms step


class TaskSteps(trio.abc.Instrument):
    """Trio's instrumentation: when each task step ran, and which task it was (``--attribute``)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.names: list[str] = []
        self._t0 = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._t0 = time.perf_counter_ns()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        self.starts.append(self._t0)
        self.ends.append(time.perf_counter_ns())
        self.names.append(".".join(task.name.split(".")[-2:]))  # Class.method or module.fn

    def attribute(self, spans: list[tuple[int, int]]) -> dict[str, float]:
        """Shares of the time inside ``spans`` that each task's steps took; the rest (no task
        step running: Trio's scheduler and I/O wait, or the OS running something else) is
        ``(between task steps)``."""
        spent: dict[str, int] = {}
        total = 0
        for lo, hi in spans:
            total += hi - lo
            i = max(0, bisect.bisect_left(self.ends, lo))
            while i < len(self.starts) and self.starts[i] < hi:
                overlap = min(hi, self.ends[i]) - max(lo, self.starts[i])
                if overlap > 0:
                    spent[self.names[i]] = spent.get(self.names[i], 0) + overlap
                i += 1
        if not total:
            return {}
        shares = {k: v / total for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}
        shares["(between task steps)"] = 1 - sum(shares.values())
        return {k: round(v, 3) for k, v in shares.items() if v >= 0.005}


class GcPauses:
    """Python's cyclic garbage collections during the window (``gc.callbacks``: called only
    when a collection runs, so it costs nothing between them): count and longest pause per
    generation, and how much of the long waits they account for."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int, int]] = []  # (start ns, end ns, generation)
        self._t0 = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter_ns()
        if phase == "start":
            self._t0 = now
        elif self._t0:
            self.spans.append((self._t0, now, info["generation"]))

    def start(self) -> None:
        self.spans.clear()
        gc.callbacks.append(self)

    def stop(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)

    def summary(self, long_spans: list[tuple[int, int]]) -> dict[str, Any]:
        by_gen: dict[str, Any] = {}
        for gen in (0, 1, 2):
            pauses = [hi - lo for lo, hi, g in self.spans if g == gen]
            by_gen[f"gen{gen}"] = {
                "collections": len(pauses),
                "total_ms": round(sum(pauses) / 1e6, 2),
                "max_us": round(max(pauses) / 1e3, 1) if pauses else None,
            }
        total = sum(hi - lo for lo, hi in long_spans)
        inside = 0
        ends = [hi for _, hi, _ in self.spans]  # in time order: collections do not overlap
        for lo, hi in long_spans:
            i = bisect.bisect_left(ends, lo)
            while i < len(self.spans) and self.spans[i][0] < hi:
                inside += max(0, min(hi, self.spans[i][1]) - max(lo, self.spans[i][0]))
                i += 1
        return {
            **by_gen,
            "share_of_long_waits_in_gc": round(inside / total, 3) if total else None,
        }


class CapacityProbe(LatencyProbe):
    """The latency probe, plus the queue wait of every depth diff (not only those that led
    to an order), counted from :meth:`start_window`."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[int] = []
        # per wait: the part spent behind the loop's own previous batch (it was still
        # applying and deciding), the rest is other tasks on the event loop (execution
        # sending orders, the streams decoding, the journal) or the scheduler
        self.behind_own: list[int] = []
        self.long_spans: list[tuple[int, int]] = []  # (handed to the inbox, batch start)
        self._last_end = 0
        self.depth = 0
        self.absorbed_depth = 0
        self._counting = False

    def start_window(self) -> None:
        self.waits.clear()
        self.behind_own.clear()
        self.long_spans.clear()
        self.depth = self.absorbed_depth = 0
        self._counting = True

    def parsed(self, records: list[Any], arrive_ns: int) -> None:
        if self._counting:
            self.depth += sum(1 for r in records if isinstance(r, BookDelta))
        super().parsed(records, arrive_ns)

    def _wait(self, event: object, t_ns: int) -> None:
        entry = self._by_record.get(id(event))
        if self._counting and entry is not None and entry[0] is event:
            wait = t_ns - entry[1].parsed
            self.waits.append(wait)
            self.behind_own.append(min(wait, max(0, self._last_end - entry[1].parsed)))
            if wait >= QUEUE_P99_LIMIT_US * 1000:
                self.long_spans.append((entry[1].parsed, t_ns))

    def absorbed(self, event: object, t_ns: int) -> None:
        self._wait(event, t_ns)
        if self._counting and isinstance(event, BookDelta):
            self.absorbed_depth += 1
        super().absorbed(event, t_ns)

    def step_begin(self, event: object, t_ns: int) -> None:
        self._wait(event, t_ns)
        super().step_begin(event, t_ns)

    def step_end(self, commands: list[Any], t_ns: int) -> None:
        self._last_end = t_ns
        super().step_end(commands, t_ns)

    def tail_split(self, limit_ns: int) -> dict[str, Any]:
        """The waits of ``limit_ns`` or more: how many, and where their time went."""
        tail = [(w, o) for w, o in zip(self.waits, self.behind_own, strict=True) if w >= limit_ns]
        total = sum(w for w, _ in tail)
        own = sum(o for _, o in tail)
        return {
            "waits_at_or_over_1ms": len(tail),
            "share_behind_the_loop_s_own_previous_batch": round(own / total, 3) if total else None,
            "share_other_tasks_and_scheduler": round(1 - own / total, 3) if total else None,
        }


async def one_step(speed: float, args: argparse.Namespace, pinned: bool) -> dict[str, Any]:
    """A fresh sim at ``speed`` and a fresh bot, measured for ``args.seconds``."""
    proc, info = await start_sim_process(speed, args.seed, {1} if pinned else None)
    probe = CapacityProbe()
    steps = TaskSteps() if args.attribute else None
    pauses = GcPauses()

    def window() -> None:
        probe.start_window()
        pauses.start()
        if steps is not None:
            trio.lowlevel.add_instrument(steps)

    try:
        run = await run_pipeline(
            info, args, "ws", probe=probe, seconds=args.seconds, on_window=window
        )
    finally:
        pauses.stop()
        if steps is not None:
            trio.lowlevel.remove_instrument(steps)
        proc.terminate()
        proc.wait(10)
    wall = run["run"]["wall_s"]
    offered = speed * DEPTH_MSGS_PER_MARKET_S
    taken = probe.depth / wall
    queue = dist(probe.waits)
    sustained = (
        taken >= SUSTAINED_SHARE * offered and bool(queue) and queue["p99_us"] < QUEUE_P99_LIMIT_US
    )
    tail = probe.tail_split(int(QUEUE_P99_LIMIT_US * 1000))
    if steps is not None:
        tail["by_task_instrumented"] = steps.attribute(probe.long_spans)
    tail["gc"] = pauses.summary(probe.long_spans)
    return {
        "speed": speed,
        "offered_depth_msgs_per_s": offered,
        "depth_msgs_per_s": round(taken, 1),
        "depth_msgs": probe.depth,
        "queue_wait": queue,
        "queue_waits_measured": len(probe.waits),
        "queue_wait_tail": tail,
        "conflated_depth_msgs": probe.absorbed_depth,
        "sustained": sustained,
        "tick_to_order": run["tick_to_order"],
        "repricing_events_per_s": run["run"]["repricing_events_per_s"],
        "cpu_us_per_market_event": run["run"]["cpu_us_per_market_event"],
        "bot_cpu_share_of_wall": run["run"]["cpu_share_of_wall"],
        "loop_batches": run["run"]["loop_batches"],
        "inbox_overflows": run["run"]["inbox_overflows"],
        "loadavg_end": run["run"]["loadavg_end"],
    }


async def sweep(args: argparse.Namespace, pinned: bool) -> dict[str, Any]:
    steps = []
    for speed in args.speeds:
        step = await one_step(speed, args, pinned)
        steps.append(step)
        print(json.dumps({"layout": "pinned" if pinned else "free", **step}), file=sys.stderr)
    sustained = [s for s in steps if s["sustained"]]
    best = max(sustained, key=lambda s: s["depth_msgs_per_s"]) if sustained else None
    # the conservative reading: every step up to it sustained as well
    ordered = sorted(steps, key=lambda s: s["speed"])
    upto = None
    for step in ordered:
        if not step["sustained"]:
            break
        upto = step
    return {
        "steps": steps,
        "capacity_depth_msgs_per_s": None if best is None else best["depth_msgs_per_s"],
        "capacity_every_lower_step_sustained": None if upto is None else upto["depth_msgs_per_s"],
        "target_depth_msgs_per_s": 2_000,
        "target_met": best is not None and best["depth_msgs_per_s"] >= 2_000,
    }


def pin_process(cpus: set[int]) -> None:
    """Every thread of this process onto ``cpus`` (threads started later inherit it)."""
    for tid in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(tid), cpus)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    load0 = os.getloadavg()
    started = time.perf_counter()
    layouts: dict[str, Any] = {"free": await sweep(args, pinned=False)}
    if args.pin:
        before = os.sched_getaffinity(0)
        pin_process({0})
        try:
            layouts["pinned_bot_cpu0_sim_cpu1"] = await sweep(args, pinned=True)
        finally:
            pin_process(before)
    return {
        "benchmark": "capacity",
        "definition": (
            "the highest offered depth rate at which the bot took in >= 95 % of the depth "
            "diffs and the queue wait (inbox hand-off -> start of the loop batch applying "
            "the diff, every diff) had p99 < 1 ms; WebSocket order entry"
        ),
        "layouts": layouts,
        "seconds_per_step": args.seconds,
        "warmup_repricing_events": args.warmup,
        "wall_s": round(time.perf_counter() - started, 1),
        "loadavg_start": [round(x, 2) for x in load0],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "machine": machine(),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speeds", default="20,50,100,200", help="synthetic market speeds")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured wall s per step")
    ap.add_argument("--warmup", type=int, default=200, help="repricing events before measuring")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pin", action="store_true", help="also run pinned: bot CPU 0, sim CPU 1")
    ap.add_argument(
        "--attribute",
        action="store_true",
        help="attribute the waits of 1 ms or more to the Trio tasks that ran meanwhile "
        "(a trio.abc.Instrument timing every task step: it adds its own cost)",
    )
    ns = ap.parse_args()
    try:
        ns.speeds = [float(x) for x in ns.speeds.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--speeds takes comma-separated numbers, got {ns.speeds!r}")
    if not ns.speeds or any(s <= 0 for s in ns.speeds):
        ap.error("--speeds needs at least one speed > 0")
    if ns.seconds <= 0:
        ap.error("--seconds must be > 0")
    if ns.pin and (os.cpu_count() or 1) < 2:
        ap.error("--pin needs two CPUs (the bot on CPU 0, the sim on CPU 1)")
    ns.events, ns.profile, ns.transports = 0, False, ["ws"]  # run_pipeline's other knobs
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")  # as latency.py: the forced repricing's warnings
    print(json.dumps(trio.run(main, ns), indent=1))
