"""Fault layers of issue #20: the link between bot and venue, CPU starvation, the
reconciliation bugs peers are known for, and a kill -9 in the first seconds.

Like every layer added after the base schedule, each draws from its own seeded stream
(``random.Random(f"<name>:{seed}")``), so a seed's base schedule never changes and a
regression seed keeps replaying the faults it was found with (plus these).

- **Link faults** (executor ``proxy``, the harness's TCP fault proxy between bot and venue,
  :mod:`mmtrio.chaos.proxy`): ``half_open`` (REST, websockets or both go silent for 2-12 s,
  then come back or turn out dead: a TCP reset), ``conn_kill`` (every current connection of
  a target reset at once).
- **CPU starvation** (executor ``cpu``): the bot's threads are pinned to one core shared with
  one or two busy-looping processes for 4-15 s (``cpu_starve``); and about one run in ten
  runs starved from start to end (``cpu_starved_run``: a loaded Raspberry Pi).
- **Reconciliation cases** (nautilus_trader's users keep reporting these):
  ``fill_during_recovery`` — fills made while a REST recovery is in flight (the responses
  held back so the recovery is slow): the start-up recovery of a restarted bot, or the pass a
  user-stream reconnect triggers; ``trade_replay`` — after a kill -9 and restart the venue
  sends the last fills' events again (duplicate trade ids across a restart);
  ``position_gap`` — while the bot is down the position changes without a trade of ours (a
  liquidation, an ADL, a transfer): no fill can reconstruct it, so the restarted bot must
  adopt it with an alert naming the gap; ``startup_orders_dropped`` — after a kill -9 the
  killed bot's orders vanish (cancelled by the venue) and the restarted bot's first order
  requests are accepted but never answered.
- **Early kill** (executor ``early_kill``, about one run in four): the first bot, on a new
  journal, is killed -9 moments after its first quote rests; each side's best quote is then
  filled while it is down (issue #20, finding 1), and it is restarted.
- **Quiet tail**: counters armed and not yet consumed are disarmed when the tail begins
  (chaos seed 7 at 25 s: an 11.5 s silent link left five 429s armed, which met the
  restarted bot's first requests in the tail and kept it from recovering before the end).
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmtrio.chaos.schedule import FaultAction

LAYER_KINDS: dict[str, str] = {
    "half_open": (
        "REST and/or websocket connections between bot and venue go silent for 2-12 s (the "
        "fault proxy), then come back or are reset"
    ),
    "conn_kill": "every current REST and/or websocket connection of the bot reset (TCP RST)",
    "cpu_starve": "the bot pinned to one core shared with busy processes for 4-15 s",
    "cpu_starved_run": "the whole run with the bot pinned to one core shared with a busy process",
    "fill_during_recovery": (
        "fills made while a REST recovery is in flight (a restarted bot's start-up, or the "
        "pass after a user-stream reconnect), its answers held back"
    ),
    "trade_replay": "after kill -9 and restart the venue sends the last fills' events again",
    "position_gap": (
        "while the bot is down its position changes without a trade (liquidation/ADL): the "
        "restarted bot must adopt it with an alert, never silently"
    ),
    "startup_orders_dropped": (
        "after kill -9 the killed bot's orders vanish and the restarted bot's first order "
        "requests are accepted but never answered"
    ),
    "early_kill": (
        "kill -9 of the first bot moments after its first quote rests, a fill while it is "
        "down, then a restart"
    ),
    "quiet_tail": (
        "when the quiet tail begins, armed fault counters nobody consumed yet are disarmed "
        "(a bot cut off for seconds would otherwise meet them in the tail)"
    ),
}

RECONCILIATION = ("fill_during_recovery", "trade_replay", "position_gap", "startup_orders_dropped")
LINK = ("half_open", "conn_kill")
TARGETS = ("rest", "ws", "all")


def layer_actions(seed: int, warmup_ms: int, last: int) -> list[FaultAction]:
    """The actions of every issue-#20 layer for ``seed`` (unsorted)."""
    from mmtrio.chaos.schedule import FaultAction, _admin

    out: list[FaultAction] = []
    link = random.Random(f"link:{seed}")
    for _ in range(link.choice((0, 1, 1, 2))):
        at = link.randint(warmup_ms, max(warmup_ms, last - 2_000))
        kind = link.choice(LINK)
        target = link.choice(TARGETS)
        if kind == "conn_kill":
            out.append(FaultAction(at, kind, "proxy", {"cmd": "kill", "target": target}))
        else:
            seconds = min(link.uniform(2.0, 12.0), max(0.5, (last - at) / 1000))
            then = link.choice(("resume", "reset"))
            cmd = {"cmd": "half_open", "target": target, "seconds": round(seconds, 2),
                   "then": then}  # fmt: skip
            out.append(FaultAction(at, kind, "proxy", cmd))
    cpu = random.Random(f"cpu:{seed}")
    if cpu.random() < 0.1:
        out.append(FaultAction(0, "cpu_starved_run", "cpu", {"busy": 1, "seconds": None}))
    elif cpu.random() < 0.35:
        at = cpu.randint(warmup_ms, max(warmup_ms, last - 4_000))
        seconds = min(cpu.uniform(4.0, 15.0), max(1.0, (last - at) / 1000))
        starve = {"busy": cpu.choice((1, 2)), "seconds": round(seconds, 1)}
        out.append(FaultAction(at, "cpu_starve", "cpu", starve))
    rec = random.Random(f"reconciliation:{seed}")
    if rec.random() < 0.6:
        at = rec.randint(warmup_ms, max(warmup_ms, last - 5_000))
        steps = _reconciliation(rec, rec.choice(RECONCILIATION), at, _admin)
        # helpers end by the quiet tail like every fault (the bot must converge before the end)
        out += [replace(a, at_ms=min(a.at_ms, last)) for a in steps]
    # A fault armed as "the next N requests" waits for requests: a bot cut off (a silent
    # link, a slow start) meets it late, inside the quiet tail meant for converging.
    out.append(_admin(last, "quiet_tail", False, sim="disarm"))
    early = random.Random(f"early_kill:{seed}")
    if early.random() < 0.25:
        params: dict[str, Any] = {
            "after_quote_ms": early.randint(0, 800),
            "restart_after_ms": early.randint(300, 1_500),
            "wait_ms": 12_000,
        }
        out.append(FaultAction(300, "early_kill", "early_kill", params))
    return out


def _reconciliation(rng: random.Random, kind: str, t: int, admin: Any) -> list[FaultAction]:
    from mmtrio.chaos.schedule import FaultAction

    restart = rng.randint(300, 1_500)
    kill = FaultAction(t, kind, "signal", {"signal": "KILL", "restart_after_ms": restart})
    up = t + restart  # when the harness starts the next bot
    if kind == "fill_during_recovery":
        held = rng.randint(300, 700)
        if rng.random() < 0.5:  # the start-up recovery of a restarted bot
            return [
                kill,
                admin(up, kind, False, sim="delay", count=rng.randint(4, 8), ms=held),
                # python start-up and journal replay take about a second before the recovery
                admin(up + rng.randint(800, 2_500), kind, False, sim="fill",
                      side=rng.choice(("BUY", "SELL"))),
            ]  # fmt: skip
        return [  # the pass a user-stream reconnect triggers
            admin(t, kind, sim="ws_close", target="user"),
            admin(t, kind, False, sim="delay", count=rng.randint(3, 6), ms=held),
            admin(t + rng.randint(100, 900), kind, False, sim="fill",
                  side=rng.choice(("BUY", "SELL"))),
        ]  # fmt: skip
    if kind == "trade_replay":
        return [kill, admin(up + rng.randint(3_000, 5_000), kind, False, sim="user_replay",
                            count=rng.randint(1, 5))]  # fmt: skip
    if kind == "position_gap":
        lots = rng.choice((-1, 1)) * rng.randint(1, 3)
        return [kill, admin(t + 100, kind, False, sim="position_adjust", lots=lots)]
    # startup_orders_dropped
    return [
        kill,
        admin(t + 100, kind, False, sim="venue_cancel"),
        admin(up, kind, False, sim="order_drop", count=rng.randint(1, 2)),
    ]
