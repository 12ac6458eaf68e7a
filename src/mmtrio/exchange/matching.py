"""The exchange-side matching engine of the simulated venue and the backtester.

Pure and deterministic: market data (an L2 book from snapshots and diffs, public trades)
and our order requests go in; ``OrderUpdate``s for our orders come out. The market book is
the recorded (or synthetic) crowd; our orders are overlaid on it and never change what the
recording says, with one documented exception (consumed liquidity, below).

Venue-neutral: refusals are :class:`Refusal` values (each protocol front end of the sim says
them in its venue's codes, the backtester maps them to the core's reject kinds), and an
expiry carries its cause on the order view (a front end that distinguishes a self-trade
expiry, as Binance's ``EXPIRED_IN_MATCH`` does, reads it there). Client-id syntax is each
front end's business; the engine only needs ids to be unique among open orders.

Decisions where the venues' documentation is silent or an L2 recording cannot tell:

- Taking (GTC/IOC crossing at placement or amendment) fills against market levels at their
  prices up to the displayed size, as taker. The engine then *consumes* that displayed size
  in its own view of the market until the next diff (or snapshot) overwrites the level,
  so the same liquidity cannot be taken twice. A later diff restores the recorded size: the
  recording does not know we traded.
- Resting orders are filled as maker at their own price by: market trades at our price on
  the side they hit (after the queue ahead is eaten; see ``queue_position``); any trade
  *through* our price (a trade below our bid or above our ask fills us fully, because the
  aggressor would have met us first); and a market diff that moves the opposite best through
  our price (best ask <= our bid): we fill at our price for the crossing displayed size,
  which is then consumed as above. Without this rule a crossed overlay would persist.
- Self-trade prevention is EXPIRE_TAKER: a GTC/IOC order never matches our own resting
  orders; it takes market liquidity strictly better than our own opposite order and the rest
  expires (cause ``self_trade``). A post-only order that would meet our own opposite order
  is refused (WOULD_TAKE) like any post-only order that would take.
- An amendment always loses priority (back of the queue at the new price, queue ahead = the
  displayed size there); a new qty <= executed qty cancels the order; a post-only amendment
  that would take expires it (as Binance does).
- Reduce-only orders are checked against the position the engine's own fills built: one
  that cannot reduce it is refused (REDUCE_ONLY).
- Closed orders stay queryable up to ``closed_cap`` (oldest forgotten first): memory is flat.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from mmtrio.core.events import (
    BookDelta,
    BookSnapshot,
    ExecType,
    Fill,
    Level,
    OrderStatus,
    OrderUpdate,
    Side,
    TimeInForce,
    Trade,
)
from mmtrio.core.instruments import Instrument
from mmtrio.errors import MmtrioError
from mmtrio.exchange.market_side import MarketSide
from mmtrio.exchange.queue_position import QueueModel, aheads_after_level_change, split_trade
from mmtrio.exchange.terms import (
    FeeSchedule,
    MatchingReject,
    NewOrder,
    OrderView,
    Refusal,
    check_filters,
)

# The vocabulary lives in mmtrio.exchange.terms; it stays importable from here.
__all__ = [
    "FeeSchedule",
    "MatchingEngine",
    "MatchingReject",
    "NewOrder",
    "OrderView",
    "QueueModel",
    "Refusal",
    "check_filters",
]

_OPEN = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
_DEFAULT_FEES = FeeSchedule()


@dataclass(slots=True)
class _Order:
    client_id: str
    order_id: int
    side: Side
    price: int
    qty: int
    time_in_force: TimeInForce
    reduce_only: bool
    created_ts: int
    updated_ts: int
    cum_qty: int = 0
    queue_ahead: int = 0
    status: OrderStatus = OrderStatus.NEW
    expiry_cause: str | None = None

    @property
    def remaining(self) -> int:
        return self.qty - self.cum_qty


class MatchingEngine:
    """Price-time matching of our orders against a recorded L2 market (see module doc)."""

    def __init__(
        self,
        instrument: Instrument,
        fees: FeeSchedule = _DEFAULT_FEES,
        queue_model: QueueModel = QueueModel.PROBABILISTIC,
        first_order_id: int = 1,
        first_trade_id: int = 1,
        *,
        closed_cap: int = 10_000,
    ) -> None:
        if closed_cap < 0:
            raise MmtrioError(f"closed_cap must be >= 0, got {closed_cap}")
        self.instrument = instrument
        self.fees = fees
        self.queue_model = queue_model
        self._next_order_id = first_order_id
        self._next_trade_id = first_trade_id
        self._closed_cap = closed_cap
        self._bids = MarketSide(is_bid=True)
        self._asks = MarketSide(is_bid=False)
        self._open: dict[str, _Order] = {}
        self._closed: OrderedDict[str, OrderView] = OrderedDict()
        # Our resting orders per side and price, in time priority.
        self._ours: dict[Side, dict[int, list[_Order]]] = {Side.BUY: {}, Side.SELL: {}}
        # Market trade size at a level holding our orders since a diff last touched it.
        self._traded: dict[Side, dict[int, int]] = {Side.BUY: {}, Side.SELL: {}}
        self.position = 0  # signed lots from our fills (for reduce-only checks)

    # --- market data ----------------------------------------------------------------------
    def on_snapshot(self, snap: BookSnapshot) -> list[OrderUpdate]:
        """Replace the market book; re-cap queue positions; fill what the new book crosses."""
        self._check_symbol(snap.symbol)
        self._bids.reset(snap.bids)
        self._asks.reset(snap.asks)
        for side, book in ((Side.BUY, self._bids), (Side.SELL, self._asks)):
            for price, orders in self._ours[side].items():
                size = book.levels.get(price, 0)
                for o in orders:
                    o.queue_ahead = min(o.queue_ahead, size)
            self._traded[side].clear()
        return self._fill_crossed(snap.ts)

    def on_delta(self, diff: BookDelta) -> list[OrderUpdate]:
        """Apply a book delta (absolute sizes); advance queues; fill what it crosses."""
        self._check_symbol(diff.symbol)
        for side, book, levels in (
            (Side.BUY, self._bids, diff.bids),
            (Side.SELL, self._asks, diff.asks),
        ):
            ours = self._ours[side]
            for price, qty in levels:
                orders = ours.get(price)
                if orders:
                    old = book.levels.get(price, 0)
                    traded = self._traded[side].pop(price, 0)
                    new_aheads = aheads_after_level_change(
                        [o.queue_ahead for o in orders], old, qty, traded, self.queue_model
                    )
                    for o, a in zip(orders, new_aheads, strict=True):
                        o.queue_ahead = a
                book.set(price, qty)
        return self._fill_crossed(diff.ts)

    def on_trade(self, trade: Trade) -> list[OrderUpdate]:
        """A public trade: advances queues at its price and fills orders it trades through."""
        self._check_symbol(trade.symbol)
        out: list[OrderUpdate] = []
        hit = Side.BUY if trade.buyer_is_maker else Side.SELL  # the resting side it hit
        # Trades through our price fill us fully, whichever side was the aggressor.
        for side in (Side.BUY, Side.SELL):
            for price in list(self._ours[side]):
                through = price > trade.price if side is Side.BUY else price < trade.price
                if through:
                    for o in list(self._ours[side].get(price, ())):
                        out.append(self._fill(o, price, o.remaining, maker=True, ts=trade.ts))
        orders = self._ours[hit].get(trade.price)
        if orders:
            fills, aheads = split_trade(
                [o.queue_ahead for o in orders], [o.remaining for o in orders], trade.qty
            )
            for o, a in zip(orders, aheads, strict=True):
                o.queue_ahead = a
            for o, f in zip(list(orders), fills, strict=True):
                if f > 0:
                    out.append(self._fill(o, trade.price, f, maker=True, ts=trade.ts))
            if trade.price in self._ours[hit]:
                # Remembered so the diff that shows this size gone is not read as cancels
                # (if the diff arrived before the trade message, the next diff absorbs it).
                pend = self._traded[hit]
                pend[trade.price] = pend.get(trade.price, 0) + trade.qty
        return out

    # --- our orders -------------------------------------------------------------------------
    def place(self, order: NewOrder, ts: int) -> list[OrderUpdate]:
        """Accept a new order: NEW, then taker fills if it crosses, then EXPIRED for IOC rest."""
        if not order.client_id:
            raise MmtrioError("an order needs a client id (the front end validates its syntax)")
        if order.client_id in self._open:
            raise MatchingReject(Refusal.DUPLICATE_CLIENT_ID, "client order id is duplicated")
        check_filters(
            self.instrument, order.price, order.qty, order.reduce_only, order.notional_price
        )
        if order.reduce_only and not self._reduces(order.side):
            raise MatchingReject(Refusal.REDUCE_ONLY, "reduce-only order would not reduce")
        if order.time_in_force is TimeInForce.POST_ONLY and self._would_take(
            order.side, order.price
        ):
            raise MatchingReject(Refusal.WOULD_TAKE, "post-only order would take liquidity")
        o = _Order(
            client_id=order.client_id,
            order_id=self._next_order_id,
            side=order.side,
            price=order.price,
            qty=order.qty,
            time_in_force=order.time_in_force,
            reduce_only=order.reduce_only,
            created_ts=ts,
            updated_ts=ts,
        )
        self._next_order_id += 1
        self._closed.pop(order.client_id, None)  # a reused id now names the new order
        self._open[o.client_id] = o
        out = [self._update(o, ExecType.NEW, ts)]
        out.extend(self._take_and_rest(o, ts))
        return out

    def amend(self, client_id: str, price: int, qty: int, ts: int) -> list[OrderUpdate]:
        """Modify price and qty; the order goes to the back of the queue at the new price."""
        o = self._open.get(client_id)
        if o is None:
            raise MatchingReject(Refusal.NO_SUCH_ORDER, "order does not exist")
        self._check_filters(price, qty, o.reduce_only)
        if qty <= o.cum_qty:
            self._unrest(o)
            return [self._close(o, ExecType.CANCELED, OrderStatus.CANCELED, ts)]
        self._unrest(o)
        if o.time_in_force is TimeInForce.POST_ONLY and self._would_take(o.side, price):
            o.expiry_cause = "post_only_amend"
            return [self._close(o, ExecType.EXPIRED, OrderStatus.EXPIRED, ts)]
        o.price = price
        o.qty = qty
        o.updated_ts = ts
        out = [self._update(o, ExecType.AMENDMENT, ts)]
        out.extend(self._take_and_rest(o, ts))
        return out

    def cancel(self, client_id: str, ts: int) -> list[OrderUpdate]:
        """Cancel an open order; UNKNOWN_ORDER when it is unknown or already closed."""
        o = self._open.get(client_id)
        if o is None:
            raise MatchingReject(Refusal.UNKNOWN_ORDER, "unknown order")
        self._unrest(o)
        return [self._close(o, ExecType.CANCELED, OrderStatus.CANCELED, ts)]

    def cancel_all(self, ts: int) -> list[OrderUpdate]:
        """Cancel every open order (oldest first)."""
        out: list[OrderUpdate] = []
        for o in sorted(self._open.values(), key=lambda x: x.order_id):
            self._unrest(o)
            out.append(self._close(o, ExecType.CANCELED, OrderStatus.CANCELED, ts))
        return out

    def expire(self, client_id: str, ts: int) -> list[OrderUpdate]:
        """Venue-initiated expiry of an open order (fault injection); UNKNOWN_ORDER if not open."""
        o = self._open.get(client_id)
        if o is None:
            raise MatchingReject(Refusal.UNKNOWN_ORDER, "unknown order")
        o.expiry_cause = "venue"
        self._unrest(o)
        return [self._close(o, ExecType.EXPIRED, OrderStatus.EXPIRED, ts)]

    def venue_fill(
        self, client_id: str, side: Side, price: int, qty: int, *, fee: Decimal, ts: int
    ) -> OrderUpdate:
        """An order the venue itself sends for the account and fills at once, at ``price``,
        outside the book (a liquidation closing the position): one FILLED update with its
        fill, as taker; the position follows. It never rests and is queryable afterwards."""
        o = _Order(client_id, self._next_order_id, side, price, qty, TimeInForce.IOC,
                   reduce_only=True, created_ts=ts, updated_ts=ts)  # fmt: skip
        self._next_order_id += 1
        o.cum_qty, o.status = qty, OrderStatus.FILLED
        self.position += qty * side.sign
        fill = Fill(self.instrument.symbol, self._next_trade_id, client_id, o.order_id, side,
                    price, qty, fee, self.instrument.quote_asset, False, ts)  # fmt: skip
        self._next_trade_id += 1
        self._retire(o)
        return self._update(o, ExecType.TRADE, ts, fill)

    # --- queries ----------------------------------------------------------------------------
    def get(self, client_id: str) -> OrderView | None:
        """An open order, or a closed one still in the bounded history; else None."""
        o = self._open.get(client_id)
        if o is not None:
            return self._view(o)
        return self._closed.get(client_id)

    def open_orders(self) -> list[OrderView]:
        return [self._view(o) for o in sorted(self._open.values(), key=lambda x: x.order_id)]

    def market_levels(self, side: Side, n: int) -> list[Level]:
        """The best ``n`` market levels of a side, best first (without our orders)."""
        return (self._bids if side is Side.BUY else self._asks).top(n)

    def best_bid(self) -> Level | None:
        b = self._bids.best
        return None if b is None else (b, self._bids.levels[b])

    def best_ask(self) -> Level | None:
        a = self._asks.best
        return None if a is None else (a, self._asks.levels[a])

    def our_levels(self, side: Side) -> dict[int, int]:
        """Our resting lots by price on one side (the server adds them to the public book)."""
        return {p: sum(o.remaining for o in os) for p, os in self._ours[side].items()}

    # --- internals --------------------------------------------------------------------------
    def _check_symbol(self, symbol: str) -> None:
        if symbol != self.instrument.symbol:
            raise MmtrioError(
                f"matching engine for {self.instrument.symbol} got market data for {symbol}; "
                "feed each engine its own symbol"
            )

    def _check_filters(self, price: int, qty: int, reduce_only: bool) -> None:
        check_filters(self.instrument, price, qty, reduce_only)

    def _reduces(self, side: Side) -> bool:
        return self.position < 0 if side is Side.BUY else self.position > 0

    def _own_best(self, side: Side) -> int | None:
        prices = self._ours[side]
        if not prices:
            return None
        return max(prices) if side is Side.BUY else min(prices)

    def _would_take(self, side: Side, price: int) -> bool:
        opp_market = self._asks.best if side is Side.BUY else self._bids.best
        opp_own = self._own_best(side.opposite)
        for opp in (opp_market, opp_own):
            if opp is not None and (price >= opp if side is Side.BUY else price <= opp):
                return True
        return False

    def _take_and_rest(self, o: _Order, ts: int) -> list[OrderUpdate]:
        out: list[OrderUpdate] = []
        limit = o.price
        own_opp = self._own_best(o.side.opposite)
        stp = own_opp is not None and (limit >= own_opp if o.side is Side.BUY else limit <= own_opp)
        if stp and own_opp is not None:
            limit = own_opp - 1 if o.side is Side.BUY else own_opp + 1
        if o.time_in_force is not TimeInForce.POST_ONLY:
            book = self._asks if o.side is Side.BUY else self._bids
            for price in book.through(limit):
                if o.remaining <= 0:
                    break
                qty = min(o.remaining, book.levels[price])
                book.set(price, book.levels[price] - qty)  # consumed until a diff overwrites it
                out.append(self._fill(o, price, qty, maker=False, ts=ts))
        if o.remaining <= 0:
            return out
        if stp:
            o.expiry_cause = "self_trade"
            out.append(self._close(o, ExecType.EXPIRED, OrderStatus.EXPIRED, ts))
        elif o.time_in_force is TimeInForce.IOC:
            o.expiry_cause = "ioc"
            out.append(self._close(o, ExecType.EXPIRED, OrderStatus.EXPIRED, ts))
        else:
            self._rest(o)
        return out

    def _rest(self, o: _Order) -> None:
        book = self._bids if o.side is Side.BUY else self._asks
        queue = self._ours[o.side].setdefault(o.price, [])
        ahead = book.levels.get(o.price, 0)
        if queue:  # never ahead of an earlier order of ours at the same price
            ahead = max(ahead, queue[-1].queue_ahead)
        o.queue_ahead = ahead
        queue.append(o)

    def _unrest(self, o: _Order) -> None:
        queue = self._ours[o.side].get(o.price)
        if queue is None or o not in queue:
            return
        queue.remove(o)
        if not queue:
            del self._ours[o.side][o.price]
            self._traded[o.side].pop(o.price, None)

    def _fill_crossed(self, ts: int) -> list[OrderUpdate]:
        """Fill our resting orders the market book now crosses, at our price, as maker."""
        out: list[OrderUpdate] = []
        for side, opp in ((Side.BUY, self._asks), (Side.SELL, self._bids)):
            while True:
                own = self._own_best(side)
                if own is None or opp.best is None:
                    break
                if (opp.best > own) if side is Side.BUY else (opp.best < own):
                    break
                o = self._ours[side][own][0]
                qty = min(o.remaining, opp.levels[opp.best])
                opp.set(opp.best, opp.levels[opp.best] - qty)
                out.append(self._fill(o, own, qty, maker=True, ts=ts))
        return out

    def _fill(self, o: _Order, price: int, qty: int, *, maker: bool, ts: int) -> OrderUpdate:
        rate = self.fees.maker_rate if maker else self.fees.taker_rate
        o.cum_qty += qty
        o.updated_ts = ts
        self.position += qty * o.side.sign
        fill = Fill(
            symbol=self.instrument.symbol,
            trade_id=self._next_trade_id,
            client_id=o.client_id,
            order_id=o.order_id,
            side=o.side,
            price=price,
            qty=qty,
            fee=self.instrument.notional(price, qty) * rate,
            fee_asset=self.instrument.quote_asset,
            is_maker=maker,
            ts=ts,
        )
        self._next_trade_id += 1
        if o.remaining <= 0:
            self._unrest(o)
            o.status = OrderStatus.FILLED
            self._retire(o)
        else:
            o.status = OrderStatus.PARTIALLY_FILLED
        return self._update(o, ExecType.TRADE, ts, fill)

    def _close(self, o: _Order, x: ExecType, status: OrderStatus, ts: int) -> OrderUpdate:
        o.status = status
        o.updated_ts = ts
        self._retire(o)
        return self._update(o, x, ts)

    def _retire(self, o: _Order) -> None:
        self._open.pop(o.client_id, None)
        o.queue_ahead = 0
        if self._closed_cap == 0:
            return
        self._closed[o.client_id] = self._view(o)
        self._closed.move_to_end(o.client_id)
        while len(self._closed) > self._closed_cap:
            self._closed.popitem(last=False)

    def _update(self, o: _Order, x: ExecType, ts: int, fill: Fill | None = None) -> OrderUpdate:
        return OrderUpdate(
            symbol=self.instrument.symbol,
            client_id=o.client_id,
            order_id=o.order_id,
            side=o.side,
            exec_type=x,
            status=o.status,
            price=o.price,
            qty=o.qty,
            cum_qty=o.cum_qty,
            time_in_force=o.time_in_force,
            reduce_only=o.reduce_only,
            ts=ts,
            fill=fill,
        )

    @staticmethod
    def _view(o: _Order) -> OrderView:
        return OrderView(
            client_id=o.client_id,
            order_id=o.order_id,
            side=o.side,
            price=o.price,
            qty=o.qty,
            cum_qty=o.cum_qty,
            status=o.status,
            time_in_force=o.time_in_force,
            reduce_only=o.reduce_only,
            queue_ahead=o.queue_ahead,
            created_ts=o.created_ts,
            updated_ts=o.updated_ts,
            expiry_cause=o.expiry_cause,
        )
