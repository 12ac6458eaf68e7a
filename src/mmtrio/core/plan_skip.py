"""Skipping a quote plan nothing new feeds: the hot path's cheapest decision.

A depth diff below the touch, a trade, a mark price or an account event used to run the
quote model (:class:`mmtrio.core.planner.QuotePlanner`) and the slot reconciliation
(:class:`mmtrio.core.emitter.OrderEmitter`) again on unchanged inputs. :func:`plan` makes
them run only when one of their inputs changed since the last plan that left nothing to do:

- what the planner reads (:meth:`QuotePlanner.plan_key`): the touch (prices and sizes), why
  quoting is blocked, σ/A/k as sampled (σ moves on every diff, so the planner re-samples it
  on a 1 % move or every second), what risk allows (state, sides, size multipliers,
  inventory), the post-only safety, funding, the defence's widening and the config;
- our orders: the tracker's ``version``, bumped by every new order and every transition;
- time, only through requote pacing: a due ``requote_at`` plans again.

Decisions:

- A plan that sent something, or had a request held back or refused by local risk
  (``OrderEmitter.refused``), is never taken as settled: a refusal may clear with time alone
  (the order-rate window), so such a plan is redone every decision, as before.
- HALTED forgets the settled plan: the halt path pulls quotes and sets its own "cannot
  quote" reason, so the first decision after it always plans.
- ``PlanGate.enabled = False`` plans on every decision; the recorded-market replay gives
  identical commands both ways (tests/unit/test_strategy_skip.py).
"""

from __future__ import annotations

from mmtrio.core.commands import Command
from mmtrio.core.emitter import OrderEmitter
from mmtrio.core.orders import OrderTracker
from mmtrio.core.planner import QuotePlanner
from mmtrio.core.risk import RiskView


class PlanGate:
    """The key of the last plan that left nothing to do, and counters (status, benchmarks)."""

    __slots__ = ("enabled", "planned", "plans", "skipped")

    def __init__(self) -> None:
        self.planned: tuple[object, ...] | None = None
        self.plans = 0  # decisions that planned
        self.skipped = 0  # decisions that skipped planning
        self.enabled = True  # False: plan on every decision

    def forget(self) -> None:
        """The next decision plans, whatever its key (after a halt)."""
        self.planned = None


def plan(  # noqa: PLR0917 - the parts one decision reads
    gate: PlanGate,
    planner: QuotePlanner,
    emitter: OrderEmitter,
    orders: OrderTracker,
    view: RiskView,
    now: int,
    t: int,
    out: list[Command],
) -> None:
    """Plan and emit into ``out``, unless nothing that feeds the plan changed since a plan
    that left nothing to do (then planning again would give the same, empty, actions)."""
    inputs = planner.inputs(now, t)
    key = (planner.plan_key(view, inputs, now), orders.version)
    due = emitter.requote_at is not None and now >= emitter.requote_at
    if gate.enabled and not due and key == gate.planned:
        gate.skipped += 1
        return
    sent, refused = len(out), emitter.refused
    emitter.reconcile(planner.desired(view, inputs, now), now, out)
    settled = len(out) == sent and emitter.refused == refused
    gate.planned = key if settled else None
    gate.plans += 1


__all__ = ["PlanGate", "plan"]
