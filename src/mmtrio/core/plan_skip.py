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

A plan the key could not skip (the touch's sizes moved the microprice, σ was re-sampled) very
often still wants the very quotes it wanted (72 % of the plans on the BTCUSDT 2024-08-08
backtest: the same ladder, to the tick and the lot). The slot reconciliation of such a plan is
skipped too, when the desired quotes, the tracker's ``version`` and the emitter's config are
those of the last plan that left nothing to do and no ``requote_at`` is due: reconciling the
same desired quotes against the same orders under the same pacing gives the same, empty,
actions (``PlanGate.reconciles_skipped``).

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
from mmtrio.core.orders import OrderTracker, Slot
from mmtrio.core.planner import QuotePlanner
from mmtrio.core.quoting import Quote
from mmtrio.core.risk import RiskView


class PlanGate:
    """The key of the last plan that left nothing to do, and counters (status, benchmarks)."""

    __slots__ = ("enabled", "planned", "plans", "reconciles_skipped", "settled", "skipped")

    def __init__(self) -> None:
        self.planned: tuple[object, ...] | None = None
        # (desired, orders version, emitter config) of the last plan that left nothing to do
        self.settled: tuple[dict[Slot, Quote], int, object] | None = None
        self.plans = 0  # decisions that planned
        self.skipped = 0  # decisions that skipped planning
        self.reconciles_skipped = 0  # plans whose reconciliation was skipped
        self.enabled = True  # False: plan and reconcile on every decision

    def forget(self) -> None:
        """The next decision plans and reconciles, whatever its key (after a halt)."""
        self.planned = self.settled = None


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
    gate.plans += 1
    desired = planner.desired(view, inputs, now)
    last = gate.settled
    if (
        gate.enabled
        and not due
        and last is not None
        and last[1] == orders.version
        and last[2] is emitter.config
        and (last[0] is desired or last[0] == desired)  # the planner reuses an unchanged dict
    ):
        gate.planned = key
        gate.reconciles_skipped += 1
        return
    sent, refused = len(out), emitter.refused
    emitter.reconcile(desired, now, out)
    if len(out) == sent and emitter.refused == refused:
        gate.planned, gate.settled = key, (desired, orders.version, emitter.config)
    else:
        gate.planned = gate.settled = None


__all__ = ["PlanGate", "plan"]
