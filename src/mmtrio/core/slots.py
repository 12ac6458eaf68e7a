"""Desired quotes vs live orders, slot by slot: keep, amend, cancel, place — or wait.

Pure planning: :func:`reconcile` reads the desired quotes and the orders holding slots and
returns what to do with each slot; :class:`mmtrio.core.emitter.OrderEmitter` then runs every
place/amend through the risk check and the order tracker. Rules (each a deliberate choice):

- **Pending orders are never touched.** PENDING_NEW / PENDING_CANCEL / PENDING_AMEND /
  UNKNOWN: the venue has not told us where the order is, so acting on it would race our own
  request (a venue may refuse a cancel racing its place as unknown while the place lands).
- **No churn.** An order within ``reprice_tolerance_ticks`` of its target price and
  ``size_tolerance_lots`` of its target remaining size is kept: every requote loses queue
  priority and spends rate budget. An order is *not* kept when it would cross the other
  side's desired top (the book moved through it): then it is repriced like any other.
- **Removal is immediate, repricing is paced.** A slot that should not quote any more (risk
  forbids the side, the book is unusable, the ladder shrank) is cancelled at once, whatever
  ``min_requote_interval_ms`` says: pulling a quote is the safe action. Repricing, amending
  and placing into a slot wait until ``min_requote_interval_ms`` after the slot's last action.
- **Amend or cancel.** With ``use_amend`` an OPEN/PARTIALLY_FILLED order is amended (one
  request, the slot stays held); otherwise it is cancelled and the slot is refilled by a place
  in a later step, once the cancel is confirmed (or its deadline passes).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from mmtrio.core.events import Side
from mmtrio.core.frozen import fast_init
from mmtrio.core.orders import Order, OrderState, Slot
from mmtrio.core.quoting import Quote

PENDING_STATES = frozenset(
    {
        OrderState.PENDING_NEW,
        OrderState.PENDING_CANCEL,
        OrderState.PENDING_AMEND,
        OrderState.UNKNOWN,
    }
)
RESTING_STATES = frozenset({OrderState.OPEN, OrderState.PARTIALLY_FILLED})
# Tuple twins for the per-slot tests (identity compares in C; no Enum.__hash__ call).
_PENDING = tuple(PENDING_STATES)
_RESTING = tuple(RESTING_STATES)


class ActionKind(enum.Enum):
    KEEP = "keep"
    PLACE = "place"
    AMEND = "amend"
    CANCEL = "cancel"
    WAIT = "wait"  # something is to be done but not yet (pending order or requote pacing)


@fast_init
@dataclass(frozen=True, slots=True)
class SlotAction:
    """What to do with one slot. ``quote`` is the target (PLACE/AMEND/KEEP); ``order`` the
    live order holding the slot, if any; ``until`` the time a WAIT for pacing ends."""

    kind: ActionKind
    slot: Slot
    quote: Quote | None
    order: Order | None
    reason: str
    until: int | None = None


@dataclass(frozen=True, slots=True)
class Tolerances:
    reprice_ticks: int
    size_lots: int
    min_interval_ms: int
    use_amend: bool


def _opposite_extremes(desired: Mapping[Slot, Quote]) -> tuple[int | None, int | None]:
    """The highest desired bid and the lowest desired ask (None: that side is not quoted)."""
    max_bid: int | None = None
    min_ask: int | None = None
    for (side, _), q in desired.items():
        p = q.price_ticks
        if side is Side.BUY:
            if max_bid is None or p > max_bid:
                max_bid = p
        elif min_ask is None or p < min_ask:
            min_ask = p
    return max_bid, min_ask


def _crosses_desired(order: Order, max_bid: int | None, min_ask: int | None) -> bool:
    """True when ``order`` would sit at or through the other side's desired prices."""
    if order.side is Side.BUY:
        return min_ask is not None and order.price >= min_ask
    return max_bid is not None and order.price <= max_bid


def _within(order: Order, quote: Quote, tol: Tolerances) -> bool:
    return (
        abs(order.price - quote.price_ticks) <= tol.reprice_ticks
        and abs(order.remaining - quote.qty_lots) <= tol.size_lots
    )


def reconcile(
    desired: Mapping[Slot, Quote],
    held: Mapping[Slot, Order],
    *,
    now: int,
    last_action: Mapping[Slot, int],
    tol: Tolerances,
    keeps: bool = True,
) -> list[SlotAction]:
    """One action per slot that is desired or held; cancels first, then amends, then places.

    Cancels go first so that a slot's old quote leaves before anything new is sent, and the
    risk checks of the amends/places that follow see the smallest exposure they can.
    ``keeps=False`` leaves the KEEP actions out (the emitter, which has nothing to do for
    them, reconciles every few decisions and most slots are kept).
    """
    # One list per kind, joined cancels first: the order a stable sort by kind gives.
    cancels: list[SlotAction] = []
    amends: list[SlotAction] = []
    places: list[SlotAction] = []
    kept: list[SlotAction] = []
    waits: list[SlotAction] = []
    max_bid, min_ask = _opposite_extremes(desired)
    # Each slot desired or held with its quote and order, keyed by its place in the order
    # below: bids before asks ("BUY" < "SELL"), then by level. Read from the maps' items: a
    # slot's hash is a Python call (Side's Enum.__hash__), a (bool, int) key's is not.
    rows: dict[tuple[bool, int], tuple[Slot, Quote | None, Order | None]] = {}
    for slot, q in desired.items():
        rows[slot[0] is Side.SELL, slot[1]] = (slot, q, None)
    for slot, o in held.items():
        key = (slot[0] is Side.SELL, slot[1])
        row = rows.get(key)
        rows[key] = (slot, None, o) if row is None else (row[0], row[1], o)
    for key in sorted(rows):
        slot, quote, order = rows[key]
        earliest = last_action.get(slot)
        paced_until = None if earliest is None else earliest + tol.min_interval_ms
        paced = paced_until is not None and now < paced_until
        if order is not None and order.state in _PENDING:
            waits.append(
                SlotAction(ActionKind.WAIT, slot, quote, order, f"order {order.state.value}")
            )
        elif order is None:
            if quote is None:  # unreachable: the slot is in neither map
                continue
            if paced:
                waits.append(
                    SlotAction(ActionKind.WAIT, slot, quote, None, "requote pacing", paced_until)
                )
            else:
                places.append(SlotAction(ActionKind.PLACE, slot, quote, None, "free slot"))
        elif quote is None:
            cancels.append(SlotAction(ActionKind.CANCEL, slot, None, order, "slot not quoted"))
        elif _within(order, quote, tol) and not _crosses_desired(order, max_bid, min_ask):
            if keeps:
                kept.append(SlotAction(ActionKind.KEEP, slot, quote, order, "within tolerance"))
        elif paced:
            waits.append(
                SlotAction(ActionKind.WAIT, slot, quote, order, "requote pacing", paced_until)
            )
        elif tol.use_amend and order.state in _RESTING:
            amends.append(SlotAction(ActionKind.AMEND, slot, quote, order, "reprice"))
        else:
            cancels.append(SlotAction(ActionKind.CANCEL, slot, quote, order, "reprice"))
    return [*cancels, *amends, *places, *kept, *waits]
