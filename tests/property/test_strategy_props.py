"""MarketMaker under arbitrary interleavings of market data and venue answers.

A small honest fake venue keeps the truth (which orders exist, their qty and fills); hypothesis
picks, step by step, what happens next: the market moves, a gap, a request is answered
(accepted, rejected, unknown — and whether an unknown request actually landed), an order
fills (partially, fully, after a cancel was sent, or the fill is delivered twice), timers,
the kill switch, a resume, the user stream dropping. After every step:

- every PlaceOrder/AmendOrder is tick-aligned (int, inside the price filter), at least the
  minimum qty and notional; a post-only quote never crosses the local book;
- our live orders never cross each other (bids strictly below asks, amend targets included);
- ``next_deadline()`` is never in the past (a runtime would spin on it);
- the TRUE worst case (venue position + every order the venue may hold or still receive, at
  its largest size) stays within max_position.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    PlaceOrder,
    QueryOrder,
)
from mmtrio.core.events import (
    AmendAccepted,
    AmendRejected,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    CancelAccepted,
    CancelRejected,
    Event,
    ExecType,
    FeedStatus,
    Fill,
    KillSwitch,
    OrderNotFound,
    OrderStatus,
    OrderUpdate,
    OutcomeUnknown,
    PlaceAccepted,
    PlaceRejected,
    Resume,
    Side,
    TimeInForce,
    Timer,
)
from mmtrio.core.rejects import RejectKind
from mmtrio.core.strategy import MarketMaker
from mmtrio.venues.binance.client_ids import client_id_format
from tests.strategies import strategy_configs

SYM = "BTCUSDT"
MID = 600_000


@dataclass
class VenueOrder:
    side: Side
    price: int
    qty: int
    tif: TimeInForce
    reduce_only: bool
    filled: int = 0
    alive: bool = True


class FakeVenue:
    """The truth: venue orders, our true position, and requests not yet answered."""

    def __init__(self) -> None:
        self.orders: dict[str, VenueOrder] = {}
        self.inflight: list[Command] = []
        self.position = 0
        self.trade_id = 1
        self.stream: list[Event] = []  # venue pushes (e.g. after a CancelAll)

    def receive(self, cmds: list[Command], now: int) -> None:
        for cmd in cmds:
            if isinstance(cmd, CancelAll):
                for cid, vo in self.orders.items():
                    if vo.alive:
                        vo.alive = False
                        self.stream.append(self.update(cid, now, ExecType.CANCELED))
            else:
                self.inflight.append(cmd)

    def status(self, vo: VenueOrder) -> OrderStatus:
        if vo.filled >= vo.qty:
            return OrderStatus.FILLED
        if not vo.alive:
            return OrderStatus.CANCELED
        return OrderStatus.PARTIALLY_FILLED if vo.filled else OrderStatus.NEW

    def update(self, cid: str, now: int, exec_type: ExecType, fill: Fill | None = None) -> Event:
        vo = self.orders[cid]
        return OrderUpdate(SYM, cid, 1, vo.side, exec_type, self.status(vo), vo.price, vo.qty,
                           vo.filled, vo.tif, vo.reduce_only, now, fill)  # fmt: skip

    def apply(self, cmd: Command) -> None:
        """The venue acts on a request."""
        if isinstance(cmd, PlaceOrder):
            self.orders[cmd.client_id] = VenueOrder(
                cmd.side, cmd.price, cmd.qty, cmd.time_in_force, cmd.reduce_only
            )
        elif isinstance(cmd, AmendOrder):
            vo = self.orders.get(cmd.client_id)
            if vo is not None and vo.alive and cmd.qty > vo.filled:
                vo.price, vo.qty = cmd.price, cmd.qty
        elif isinstance(cmd, CancelOrder):
            vo = self.orders.get(cmd.client_id)
            if vo is not None:
                vo.alive = False

    def answer(self, idx: int, outcome: str, landed: bool, now: int) -> list[Event]:
        cmd = self.inflight.pop(idx % len(self.inflight))
        if isinstance(cmd, QueryOrder):
            if cmd.client_id in self.orders:
                return [self.update(cmd.client_id, now, ExecType.NEW)]
            return [OrderNotFound(cmd.client_id, now)]
        cid = cmd.client_id  # type: ignore[union-attr]
        op = {PlaceOrder: "place", AmendOrder: "amend", CancelOrder: "cancel"}[type(cmd)]
        if outcome == "unknown":
            if landed:
                self.apply(cmd)
            return [OutcomeUnknown(cid, op, "timeout", now)]
        if outcome == "reject":
            kind = RejectKind.WOULD_CROSS if op != "cancel" else RejectKind.LOCAL
            code = "-5022" if op != "cancel" else ""
            if op == "place":
                return [PlaceRejected(cid, kind, code, "rejected", now)]
            if op == "amend":
                return [AmendRejected(cid, kind, code, "rejected", now)]
            return [CancelRejected(cid, kind, code, "rejected", now)]
        vo = self.orders.get(cid)
        if isinstance(cmd, PlaceOrder):
            self.apply(cmd)
            events: list[Event] = [PlaceAccepted(cid, 1, now)]
            if cmd.time_in_force is TimeInForce.IOC:
                # IOC: fills completely or expires at once.
                if landed:
                    events.append(self.fill(cid, cmd.qty, now))
                else:
                    self.orders[cid].alive = False
                    events.append(self.update(cid, now, ExecType.EXPIRED))
            return events
        if isinstance(cmd, AmendOrder):
            if vo is None or not vo.alive or cmd.qty <= vo.filled:
                return [AmendRejected(cid, RejectKind.UNKNOWN_ORDER, "-2011", "unknown order", now)]
            self.apply(cmd)
            return [AmendAccepted(cid, cmd.price, cmd.qty, now)]
        if vo is None or not vo.alive:
            return [CancelRejected(cid, RejectKind.UNKNOWN_ORDER, "-2011", "unknown order", now)]
        self.apply(cmd)
        return [CancelAccepted(cid, now)]

    def fill(self, cid: str, qty: int, now: int) -> Event:
        vo = self.orders[cid]
        qty = min(qty, vo.qty - vo.filled)
        if vo.reduce_only:
            # Binance never lets a reduce-only order grow or flip the position.
            qty = min(qty, max(0, -vo.side.sign * self.position))
            if qty == 0:
                vo.alive = False
                return self.update(cid, now, ExecType.EXPIRED)
        vo.filled += qty
        if vo.filled >= vo.qty:
            vo.alive = False
        self.position += vo.side.sign * qty
        self.trade_id += 1
        fill = Fill(SYM, self.trade_id, cid, 1, vo.side, vo.price, qty, Decimal("0.01"), "USDT",
                    True, now)  # fmt: skip
        return self.update(cid, now, ExecType.TRADE, fill)

    def worst_case(self, side: Side) -> int:
        """True position plus everything on ``side`` that may still fill, at its largest.

        Reduce-only orders can at most take the position to zero, so the extreme is: they
        fill first (down to flat at most), then every other order fills.
        """
        lots = reducing = 0
        for vo in self.orders.values():
            if vo.alive and vo.side is side:
                if vo.reduce_only:
                    reducing += vo.qty - vo.filled
                else:
                    lots += vo.qty - vo.filled
        for cmd in self.inflight:
            if isinstance(cmd, PlaceOrder) and cmd.side is side:
                if cmd.reduce_only:
                    reducing += cmd.qty
                else:
                    lots += cmd.qty
            elif isinstance(cmd, AmendOrder) and cmd.side is side:
                target = self.orders.get(cmd.client_id)
                if target is not None and target.alive:
                    lots += max(0, cmd.qty - target.qty)
        start = self.position
        if side.sign * start < 0:  # reduce-only orders on this side take it toward flat
            start = side.sign * -max(0, abs(start) - reducing)
        return start + side.sign * lots


def _check_commands(mm: MarketMaker, cmds: list[Command]) -> None:
    inst = mm.instrument
    bid, ask = mm.book.best_bid(), mm.book.best_ask()
    for cmd in cmds:
        if not isinstance(cmd, PlaceOrder | AmendOrder):
            continue
        assert type(cmd.price) is int and type(cmd.qty) is int
        assert inst.min_price_ticks <= cmd.price <= inst.max_price_ticks
        assert cmd.qty >= inst.min_qty
        reduce_only = isinstance(cmd, PlaceOrder) and cmd.reduce_only
        if reduce_only:
            continue
        assert inst.notional(cmd.price, cmd.qty) >= inst.min_notional or isinstance(cmd, AmendOrder)
        assert mm.book.synced and bid is not None and ask is not None
        if cmd.side is Side.BUY:
            assert cmd.price < ask[0]
        else:
            assert cmd.price > bid[0]


def _check_own_orders(mm: MarketMaker) -> None:
    buys: list[int] = []
    sells: list[int] = []
    for order in mm.orders.live_orders():
        prices = [order.price] + ([order.pending_amend[0]] if order.pending_amend else [])
        (buys if order.side is Side.BUY else sells).extend(prices)
    if buys and sells:
        assert max(buys) < min(sells), (buys, sells)


ACTIONS = st.sampled_from(
    ["market", "market", "market", "answer", "answer", "answer", "answer", "fill", "fill",
     "timer", "gap", "kill", "resume", "user"]
)  # fmt: skip


@given(cfg=strategy_configs(), data=st.data())
def test_invariants_under_arbitrary_interleavings(cfg: object, data: st.DataObject) -> None:
    mm = MarketMaker(cfg, ClientIdGenerator(client_id_format("p"), 1))  # type: ignore[arg-type]
    venue = FakeVenue()
    max_pos = mm.config.limits.max_position_lots
    now = 1_000
    u = 10
    bid, ask = MID - 1, MID + 1
    user_up = True

    def run(event: Event) -> None:
        nonlocal now
        now += data.draw(st.integers(min_value=0, max_value=300), label="dt")
        cmds = mm.step(event, now)
        _check_commands(mm, cmds)
        venue.receive(cmds, now)
        _check_own_orders(mm)
        deadline = mm.next_deadline()
        assert deadline is None or deadline > now  # a past deadline would make the runtime spin
        assert abs(venue.position) <= max_pos
        assert venue.worst_case(Side.BUY) <= max_pos
        assert venue.worst_case(Side.SELL) >= -max_pos

    run(BookSnapshot(SYM, ((bid, 5),), ((ask, 5),), now, seq=u))
    for _ in range(data.draw(st.integers(min_value=5, max_value=60), label="steps")):
        while venue.stream:
            run(venue.stream.pop(0))
        action = data.draw(ACTIONS, label="action")
        if action == "market":
            nb = bid + data.draw(st.integers(min_value=-6, max_value=6), label="move")
            na = nb + data.draw(st.integers(min_value=1, max_value=8), label="width")
            diff = BookDelta(
                SYM, ((bid, 0), (nb, 5)), ((ask, 0), (na, 5)), now, seq=u + 1, prev_seq=u
            )
            u += 1
            bid, ask = nb, na
            run(diff)
        elif action == "answer" and venue.inflight:
            idx = data.draw(st.integers(min_value=0, max_value=50), label="which")
            outcome = data.draw(st.sampled_from(["ok", "ok", "reject", "unknown"]), label="out")
            landed = data.draw(st.booleans(), label="landed")
            for ev in venue.answer(idx, outcome, landed, now):
                run(ev)
        elif action == "fill":
            alive = [cid for cid, vo in venue.orders.items() if vo.alive]
            if alive:
                cid = data.draw(st.sampled_from(alive), label="fill_cid")
                qty = data.draw(st.integers(min_value=1, max_value=50), label="fill_qty")
                ev = venue.fill(cid, qty, now)
                run(ev)
                if data.draw(st.booleans(), label="dup"):
                    run(ev)
        elif action == "timer":
            deadline = mm.next_deadline()
            if deadline is not None and deadline > now:
                now = deadline
            run(Timer(now))
        elif action == "gap":
            run(BookInvalid(SYM, "gap", now))
            u += 100
            run(BookSnapshot(SYM, ((bid, 5),), ((ask, 5),), now, seq=u))
        elif action == "kill":
            run(KillSwitch("test", data.draw(st.booleans(), label="flatten"), now))
        elif action == "resume":
            run(Resume("test", now))
        elif action == "user":
            user_up = not user_up
            run(FeedStatus("user", user_up, "toggle", now))
