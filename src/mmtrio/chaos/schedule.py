"""Seeded, reproducible fault schedules for a chaos run.

A schedule is a list of :class:`FaultAction` sorted by time (ms after the bot started). The
same ``(seed, duration_ms)`` always yields the same schedule: generation uses only a private
``random.Random(seed)``, never the global RNG or the clock, so a violating seed replays the
same faults in the same order.

Each action names a *chaos kind* (what the report counts) and how it is executed:

- ``admin``: a ``POST /admin/fault`` body for the simulated venue (kinds of
  :data:`mmtrio.sim.faults.FAULT_KINDS`);
- ``signal``: ``SIGKILL`` (the harness restarts the bot after ``restart_after_ms``),
  ``SIGHUP`` (after the harness wrote the config variant named by ``config``);
- ``foreign_order``: the harness places an order with a client id the bot never issued.

Helper actions (ending a clock skew, restoring a valid config) have ``counted=False``: they
are part of one fault and are not counted twice.

Decisions where the issue is silent:

- Faults start after ``warmup_ms`` (the bot must be quoting to be hurt) and stop
  ``tail_ms`` before the end, so every run ends with a quiet window in which the bot must
  converge (position and orders agree with the venue) before the final SIGTERM / SIGKILL.
- Roughly one run in five ends with a SIGKILL and no restart (the dead-man countdown must
  then clear the venue); the others end with SIGTERM (the shutdown deadline must).
- A full disk comes in two kinds. ``disk_full``: a SIGHUP raises ``journal.disk_halt_free_mb``
  above the free space (the disk guard must stop quoting, then recover on the next SIGHUP,
  11-14 s later: the guard polls every 10 s; a run shorter than that clips the window at the
  quiet tail). ``journal_full``: the harness lowers the bot process's RLIMIT_FSIZE to 4 KiB
  with ``prlimit`` (Linux), so the kernel refuses every write the bot makes past the first
  4 KiB of any file — the journal's next commit fails as on a full disk, without the
  privileges that filling a real file system would need. Like a full disk it still allows
  rewriting a small file in place (its first block is allocated; the persisted rate-limit
  back-off lives in one); unlike one, it would also let a new file of under 4 KiB be written
  (the bot creates none while running). The bot must stop by itself (exit 1, zero open
  orders); the harness restarts it with writes allowed, and recovery must book what the
  failed batch lost.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from mmtrio.chaos.layers import LAYER_KINDS, layer_actions
from mmtrio.errors import ParameterError
from mmtrio.sim.faults import FAULT_KINDS

Executor = Literal[
    "admin", "signal", "foreign_order", "control", "fsize", "proxy", "cpu", "early_kill"
]

# the bot's supervised tasks (runtime/engine.py) a child_crash fault may hit
SUPERVISED_CHILDREN = ("market-feed", "user-stream", "deadman", "reconciler")

# chaos kind -> description (the report's columns; `mmtrio chaos --help` lists them)
CHAOS_KINDS: dict[str, str] = {
    "ws_drop_market": "market websocket closed by the venue",
    "ws_drop_user": "user-data websocket closed by the venue",
    "ws_drop_orders": "order-entry websocket (WebSocket API) closed by the venue",
    "ws_storm": "several websocket drops within a few seconds",
    "missed_pongs": "the venue stops answering pings for a few seconds",
    "depth_gap": "depth diffs dropped (the bot must see the pu gap and resync)",
    "depth_duplicate": "depth diffs sent twice",
    "depth_reorder": "depth diffs swapped in pairs",
    "user_duplicate": "user-stream events sent twice",
    "user_reorder": "user-stream events reordered",
    "listenkey_expire": "listen key expired by the venue",
    "http_429": "a burst of 429 answers with Retry-After",
    "order_5xx": "order accepted by the venue, then answered 503",
    "order_drop": "order accepted by the venue, then never answered",
    "cancel_race": "orders cancelled by the venue while responses lag (-2011 races)",
    "venue_cancel": "all open orders cancelled by the venue",
    "venue_expire": "all open orders expired by the venue",
    "latency_spike": "REST responses delayed",
    "clock_skew": "the venue clock shifted beyond recvWindow (-1021), then restored",
    "sigkill_restart": "SIGKILL of the bot, restarted shortly after",
    "sighup_valid": "SIGHUP with a valid reloadable config change",
    "sighup_invalid": "SIGHUP with an invalid config (must be refused, nothing applied)",
    "disk_full": "journal disk reported full (disk guard threshold), then recovered",
    "journal_full": (
        "the kernel refuses the bot's file writes past 4 KiB (RLIMIT_FSIZE): its journal "
        "fails, it must stop cleanly (exit 1, no order left); restarted, it recovers"
    ),
    "foreign_order": "an order the bot never placed appears at the venue",
    "child_crash": (
        "one supervised task (feed, user stream, dead-man, reconciler) crashes on purpose "
        "(control socket, runtime.fault_injection): restarted with backoff, never a violation"
    ),
    "unknown_error": (
        "the venue answers the next 1-3 requests -1000 / HTTP 500: the bot task that made them "
        "absorbs it, or fails and its supervisor restarts it (counted as a child restart)"
    ),
    **LAYER_KINDS,  # issue #20: link, CPU, reconciliation and early-kill faults (layers.py)
}

# relative weights of the kinds a schedule draws from
_WEIGHTS: dict[str, int] = {
    "ws_drop_market": 3,
    "ws_drop_user": 3,
    "ws_storm": 1,
    "missed_pongs": 1,
    "depth_gap": 3,
    "depth_duplicate": 2,
    "depth_reorder": 1,
    "user_duplicate": 3,
    "user_reorder": 3,
    "listenkey_expire": 1,
    "http_429": 2,
    "order_5xx": 3,
    "order_drop": 2,
    "cancel_race": 2,
    "venue_cancel": 2,
    "venue_expire": 1,
    "latency_spike": 2,
    "clock_skew": 1,
    "sigkill_restart": 1,
    "sighup_valid": 1,
    "sighup_invalid": 1,
    "disk_full": 1,
    "foreign_order": 1,
}

EndKind = Literal["sigterm", "sigkill"]


@dataclass(frozen=True, slots=True)
class FaultAction:
    """One thing the harness does at ``at_ms`` after the bot started."""

    at_ms: int
    kind: str  # a key of CHAOS_KINDS
    executor: Executor
    params: dict[str, Any] = field(default_factory=dict)
    counted: bool = True

    def to_json(self) -> dict[str, Any]:
        """A plain dict (for the run's evidence file and the JSON summary)."""
        return {
            "at_ms": self.at_ms,
            "kind": self.kind,
            "executor": self.executor,
            "params": dict(self.params),
            "counted": self.counted,
        }


@dataclass(frozen=True, slots=True)
class Schedule:
    """A run's faults (sorted by time) and how the run ends."""

    seed: int
    duration_ms: int
    actions: tuple[FaultAction, ...]
    end: EndKind

    def counts(self) -> dict[str, int]:
        """Faults per chaos kind (helper actions not counted)."""
        out: dict[str, int] = {}
        for act in self.actions:
            if act.counted:
                out[act.kind] = out.get(act.kind, 0) + 1
        return out


def run_seed(campaign_seed: int, run_index: int) -> int:
    """The seed of run ``run_index`` of a campaign: consecutive, so that a failing run's
    seed ``S`` is replayed alone by ``mmtrio chaos --runs 1 --seed S``."""
    return (campaign_seed + run_index) % (2**32)


WARMUP_MS = 4_000  # no fault before the bot quotes
TAIL_MS = 6_000  # no fault in the quiet end a run is judged over


def check_duration(duration_ms: int, *, warmup_ms: int = WARMUP_MS, tail_ms: int = TAIL_MS) -> None:
    """Raise :class:`ParameterError` when a run of ``duration_ms`` leaves no fault window
    (the CLI checks ``--duration`` with it before any run starts)."""
    if duration_ms <= warmup_ms + tail_ms:
        raise ParameterError(
            f"chaos run duration {duration_ms} ms leaves no fault window after the "
            f"{warmup_ms} ms warm-up and before the {tail_ms} ms quiet tail; use a --duration "
            f"of more than {(warmup_ms + tail_ms) / 1000:g} s"
        )


def make_schedule(
    seed: int,
    duration_ms: int,
    *,
    warmup_ms: int = WARMUP_MS,
    tail_ms: int = TAIL_MS,
    mean_gap_ms: int = 1_500,
) -> Schedule:
    """Draw a schedule for one run. Same arguments, same schedule (pure, seeded).

    Raises :class:`ParameterError` when the duration leaves no fault window.
    """
    check_duration(duration_ms, warmup_ms=warmup_ms, tail_ms=tail_ms)
    if mean_gap_ms <= 0:
        raise ParameterError(f"mean_gap_ms must be positive, got {mean_gap_ms}")
    rng = random.Random(seed)
    kinds = list(_WEIGHTS)
    weights = [_WEIGHTS[k] for k in kinds]
    last = duration_ms - tail_ms
    actions: list[FaultAction] = []
    t = warmup_ms + int(rng.expovariate(1.0 / mean_gap_ms))
    foreign_n = 0
    while t < last:
        kind = rng.choices(kinds, weights)[0]
        if kind == "foreign_order":
            foreign_n += 1
        actions.extend(_expand(rng, kind, t, last, foreign_n))
        t += 200 + int(rng.expovariate(1.0 / mean_gap_ms))
    actions.sort(key=lambda a: a.at_ms)  # stable: helper actions keep their order
    end: EndKind = "sigkill" if rng.random() < 0.2 else "sigterm"
    # Layers added later draw from their own streams, so they never change the base
    # schedule of a seed (regression seeds keep replaying the same faults).
    layer = random.Random(f"unknown_error:{seed}")
    if layer.random() < 0.5:
        at = layer.randint(warmup_ms, last)
        actions.append(
            _admin(
                at,
                "unknown_error",
                sim="error_code",
                code=-1000,
                msg="An unknown error occurred while processing the request.",
                status=500,
                count=layer.randint(1, 3),
            )
        )
        actions.sort(key=lambda a: a.at_ms)
    crash_layer = random.Random(f"child_crash:{seed}")
    if crash_layer.random() < 0.5:
        at = crash_layer.randint(warmup_ms, last)
        child = crash_layer.choice(SUPERVISED_CHILDREN)
        actions.append(FaultAction(at, "child_crash", "control", {"cmd": "crash", "child": child}))
        actions.sort(key=lambda a: a.at_ms)
    disk_layer = random.Random(f"journal_full:{seed}")
    if disk_layer.random() < 0.2 and last - warmup_ms > 3_000:
        # early enough that the restarted bot is judged at a quiet point before the end
        at = disk_layer.randint(warmup_ms, last - 3_000)
        restart = disk_layer.randint(300, 2_000)
        actions.append(FaultAction(at, "journal_full", "fsize", {"restart_after_ms": restart}))
        actions.sort(key=lambda a: a.at_ms)
    # Its own stream of draws (issue 15), so the schedules of the regression seeds are unchanged.
    orders_layer = random.Random(f"ws_drop_orders:{seed}")
    for _ in range(2):
        if orders_layer.random() < 0.4:
            at = orders_layer.randint(warmup_ms, last)
            actions.append(_admin(at, "ws_drop_orders", sim="ws_close", target="orders"))
    actions.extend(layer_actions(seed, warmup_ms, last))
    actions.sort(key=lambda a: a.at_ms)
    return Schedule(seed=seed, duration_ms=duration_ms, actions=tuple(actions), end=end)


def _admin(t: int, kind: str, counted: bool = True, *, sim: str, **params: Any) -> FaultAction:
    """An admin-port fault: ``params`` plus ``kind=sim`` is the POST /admin/fault body."""
    if sim not in FAULT_KINDS:  # guards a typo here against the sim's own list
        raise ParameterError(f"unknown sim fault kind {sim!r}")
    return FaultAction(t, kind, "admin", {"kind": sim, **params}, counted)


def _expand(rng: random.Random, kind: str, t: int, last: int, n: int) -> list[FaultAction]:
    """The concrete actions of one fault of ``kind`` starting at ``t`` (helpers end ≤ last)."""
    if kind in ("ws_drop_market", "ws_drop_user"):
        return [_admin(t, kind, sim="ws_close", target=kind.removeprefix("ws_drop_"))]
    if kind == "ws_storm":
        out, at = [], t
        for i in range(rng.randint(3, 5)):
            target = rng.choice(["market", "user", "all"])
            out.append(_admin(at, kind, i == 0, sim="ws_close", target=target))
            at = min(last, at + rng.randint(150, 900))
        return out
    if kind == "missed_pongs":
        end = min(last, t + rng.randint(2_000, 5_000))
        return [
            _admin(t, kind, sim="ws_no_pong", on=True),
            _admin(end, kind, False, sim="ws_no_pong", on=False),
        ]
    simple_counts = {
        "depth_gap": ("depth_skip", 1, 3),
        "depth_duplicate": ("depth_duplicate", 1, 5),
        "depth_reorder": ("depth_reorder", 1, 2),
        "user_duplicate": ("user_duplicate", 1, 4),
        "user_reorder": ("user_reorder", 1, 3),
        "order_5xx": ("order_5xx", 1, 2),
        "order_drop": ("order_drop", 1, 1),
    }
    if kind in simple_counts:
        sim_kind, lo, hi = simple_counts[kind]
        return [_admin(t, kind, sim=sim_kind, count=rng.randint(lo, hi))]
    if kind == "http_429":
        return [
            _admin(t, kind, sim="http_429", count=rng.randint(1, 3), retry_after=rng.randint(1, 2))
        ]
    if kind == "listenkey_expire":
        return [_admin(t, kind, sim="user_session_expire")]
    if kind == "cancel_race":
        # responses lag so the bot's cancel/amend is in flight when the venue closes the
        # order: the bot then gets -2011 (unknown order) for an order it believed open.
        return [
            _admin(t, kind, sim="delay", count=rng.randint(2, 5), ms=rng.randint(100, 400)),
            _admin(t + 50, kind, False, sim="venue_cancel"),
        ]
    if kind in ("venue_cancel", "venue_expire"):
        return [_admin(t, kind, sim=kind)]
    if kind == "latency_spike":
        return [_admin(t, kind, sim="delay", count=rng.randint(2, 8), ms=rng.randint(200, 1_500))]
    if kind == "clock_skew":
        ms = rng.choice([-1, 1]) * rng.randint(6_000, 20_000)
        end = min(last, t + rng.randint(1_000, 4_000))
        return [
            _admin(t, kind, sim="clock_skew", ms=ms),
            _admin(end, kind, False, sim="clock_skew", ms=0),
        ]
    if kind == "sigkill_restart":
        return [
            FaultAction(
                t, kind, "signal", {"signal": "KILL", "restart_after_ms": rng.randint(300, 2_000)}
            )
        ]
    if kind == "sighup_valid":
        gamma = rng.choice([0.05, 0.1, 0.2, 0.3])
        return [
            FaultAction(t, kind, "signal", {"signal": "HUP", "config": "valid", "gamma": gamma})
        ]
    if kind == "sighup_invalid":
        return [
            FaultAction(t, kind, "signal", {"signal": "HUP", "config": "invalid"}),
            FaultAction(
                min(last, t + 1_000), kind, "signal", {"signal": "HUP", "config": "valid"}, False
            ),
        ]
    if kind == "disk_full":
        # the bot's disk guard polls every 10 s: the "full" window must outlast one poll
        end = min(last, t + rng.randint(11_000, 14_000))
        return [
            FaultAction(t, kind, "signal", {"signal": "HUP", "config": "disk_full"}),
            FaultAction(end, kind, "signal", {"signal": "HUP", "config": "valid"}, False),
        ]
    if kind == "foreign_order":
        side = rng.choice(["BUY", "SELL"])
        return [
            FaultAction(t, kind, "foreign_order", {"client_id": f"chaos-foreign-{n}", "side": side})
        ]
    raise ParameterError(f"unknown chaos kind {kind!r}")
