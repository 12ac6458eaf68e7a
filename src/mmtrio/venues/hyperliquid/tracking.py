"""What the connector must remember about our orders, because Hyperliquid does not say it.

Shared by the gateway (which learns orders from its requests and answers) and the user feed
(which learns them from ``orderUpdates`` and fills), for one account and one coin:

- **Cumulative fills per cloid.** ``orderUpdates`` says an order's remaining size, fills come
  on another channel, and a modify starts a new order (new oid, same cloid) whose size is the
  *remaining* size. The core counts one order per client id with a total quantity and a
  cumulative fill, so the connector adds the legs up: ``filled`` = the larger of the unique
  fills seen and the fills the venue's order states imply, over every oid the cloid had.
- **Modify is a cancel-replace.** The venue reports the old oid ``canceled`` and the new oid
  ``open``, both under the same cloid (nautilus_trader #3827/PR #3831 met exactly this). Passed
  through, the cancel would tell the core that a live order is gone. So a cancel of an oid a
  modify replaced is dropped, and while a modify of the cloid is in flight a cancel of its
  current oid is *held* until the modify's answer: success drops it (it was the old leg),
  failure releases it (the order really was cancelled). An ``open`` of a new oid under the
  same cloid settles it as well (the replacement is live).

Bounded: the oldest cloids are forgotten past ``MAX_ORDERS`` (a forgotten order's late
events still reach the core, which dedups fills by trade id).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from mmtrio.core.events import Side, TimeInForce
from mmtrio.venues.hyperliquid.codec import OrderState

MAX_ORDERS = 10_000
DAY_MS = 86_400_000


def is_cancel_status(status: str) -> bool:
    return "anceled" in status or status == "scheduledCancel"


@dataclass
class Tracked:
    cloid: str
    side: Side
    price: int
    qty: int  # the core's total quantity (every leg)
    tif: TimeInForce
    reduce_only: bool
    oid: int | None = None
    superseded: set[int] = field(default_factory=set)
    leg_filled: dict[int, int] = field(default_factory=dict)  # oid → orig − remaining
    leg_orig: dict[int, int] = field(default_factory=dict)
    fills: set[int] = field(default_factory=set)  # neutral trade ids
    fill_lots: int = 0
    amends: int = 0  # modifies in flight
    held: list[OrderState] = field(default_factory=list)

    @property
    def filled(self) -> int:
        return max(self.fill_lots, sum(self.leg_filled.values()))


class OrderTracking:
    """The per-cloid memory (module docstring)."""

    def __init__(self) -> None:
        self._orders: OrderedDict[str, Tracked] = OrderedDict()
        self._by_oid: OrderedDict[int, str] = OrderedDict()
        self.release: Callable[[list[OrderState]], None] | None = None  # set by the user feed
        self.dropped_cancels = 0
        # scheduleCancel triggers seen, per UTC day (the venue allows 10 a day): one trigger
        # cancels every open order at one venue time, so distinct times are counted.
        self._deadman_times: dict[int, set[int]] = {}

    def deadman_triggers(self, day_ms: int) -> int:
        """Triggers of the dead-man seen on the UTC day containing ``day_ms``."""
        return len(self._deadman_times.get(day_ms // DAY_MS, ()))

    def _note_trigger(self, ts: int) -> None:
        day = ts // DAY_MS
        for old in [d for d in self._deadman_times if d < day - 1]:
            del self._deadman_times[old]
        self._deadman_times.setdefault(day, set()).add(ts)

    def get(self, cloid: str) -> Tracked | None:
        return self._orders.get(cloid)

    def cloid_of(self, oid: int) -> str | None:
        return self._by_oid.get(oid)

    def _put(self, t: Tracked) -> Tracked:
        self._orders[t.cloid] = t
        self._orders.move_to_end(t.cloid)
        while len(self._orders) > MAX_ORDERS:
            self._orders.popitem(last=False)
        return t

    def _link(self, oid: int, cloid: str) -> None:
        self._by_oid[oid] = cloid
        self._by_oid.move_to_end(oid)
        while len(self._by_oid) > 2 * MAX_ORDERS:
            self._by_oid.popitem(last=False)

    # --- from the gateway -------------------------------------------------------------------
    def placed(  # noqa: PLR0917 - the order facts, once
        self, cloid: str, side: Side, price: int, qty: int, tif: TimeInForce, reduce_only: bool
    ) -> None:
        self._put(Tracked(cloid, side, price, qty, tif, reduce_only))

    def acked(self, cloid: str, oid: int) -> None:
        t = self._orders.get(cloid)
        if t is None:
            return
        if t.oid is not None and t.oid != oid:
            t.superseded.add(t.oid)
        t.oid = oid
        self._link(oid, cloid)

    def begin_amend(self, cloid: str) -> None:
        t = self._orders.get(cloid)
        if t is not None:
            t.amends += 1

    def end_amend(self, cloid: str, new_oid: int | None, price: int = 0, qty: int = 0) -> None:
        """The modify's answer: ``new_oid`` on success (None: refused or unknown)."""
        t = self._orders.get(cloid)
        if t is None:
            return
        t.amends = max(0, t.amends - 1)
        if new_oid is not None:
            self.acked(cloid, new_oid)
            t.price, t.qty = price, qty
        if t.amends == 0 and t.held:
            held, t.held = t.held, []
            keep = [s for s in held if s.oid not in t.superseded]
            self.dropped_cancels += len(held) - len(keep)
            if keep and self.release is not None:
                self.release(keep)

    def learn(self, st: OrderState) -> Tracked | None:
        """An order state from the venue (open orders, a query): remember what it says."""
        if not st.cloid:
            return None
        t = self._orders.get(st.cloid)
        if t is None:
            tif = st.tif or TimeInForce.POST_ONLY
            t = self._put(Tracked(st.cloid, st.side, st.price, st.orig_qty, tif, st.reduce_only))
            t.oid = st.oid
        self._link(st.oid, st.cloid)
        t.leg_orig[st.oid] = st.orig_qty
        if st.status in ("open", "filled"):
            # Only a live or filled state says what filled: a cancel's ``sz`` is not a
            # documented remaining size, and a fill is never inferred from it.
            t.leg_filled[st.oid] = max(t.leg_filled.get(st.oid, 0), st.filled)
        return t

    # --- from the user feed -----------------------------------------------------------------
    def on_state(self, st: OrderState) -> tuple[str, Tracked | None]:
        """What to do with an ``orderUpdates`` state: ``("deliver" | "amended" | "drop" |
        "hold", tracked)``."""
        if st.status == "scheduledCancel":
            self._note_trigger(st.ts)
        t = self._orders.get(st.cloid) if st.cloid else None
        if t is None:
            if st.cloid:
                t = self.learn(st)
            return "deliver", t
        if st.oid in t.superseded and is_cancel_status(st.status):
            self.dropped_cancels += 1
            return "drop", t
        replaced = t.oid is not None and st.oid != t.oid and st.oid not in t.superseded
        self.learn(st)
        if replaced and st.status == "open":
            # The new leg of a modify, possibly before the modify's own answer.
            old = t.oid
            if old is not None:
                t.superseded.add(old)
            t.oid = st.oid
            t.price = st.price
            t.qty = sum(v for k, v in t.leg_filled.items() if k != st.oid) + st.orig_qty
            if t.held:
                held, t.held = t.held, []
                keep = [s for s in held if s.oid not in t.superseded]
                self.dropped_cancels += len(held) - len(keep)
                if keep and self.release is not None:
                    self.release(keep)
            return "amended", t
        if t.amends and is_cancel_status(st.status) and st.oid == t.oid:
            t.held.append(st)
            return "hold", t
        if t.oid is None:
            t.oid = st.oid
        return "deliver", t

    def on_fill(self, cloid: str, oid: int, trade_id: int, lots: int) -> Tracked | None:
        """A fill (deduped by neutral trade id); returns the order it belongs to, if known."""
        key = cloid or self._by_oid.get(oid, "")
        t = self._orders.get(key) if key else None
        if t is None:
            return None
        if trade_id not in t.fills:
            t.fills.add(trade_id)
            t.fill_lots += lots
        return t
