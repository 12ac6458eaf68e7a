"""The simulated OKX venue's pushes: ``books``, ``trades``, ``mark-price``, ``funding-rate``
(public) and ``orders``, ``positions``, ``account`` (private), rendered from the engine.

**Books.** A subscription's first push is a ``snapshot`` of the public book (``prevSeqId``
-1, ``seqId`` the public book's sequence); every later ``update`` carries the recording's
real sequence ids: ``seqId`` = the delta's ``seq``, ``prevSeqId`` = the previous published
one, so the ids jump as OKX's do and a lost or reordered push breaks the chain (the depth
faults act on it). ``checksum`` is 0, as OKX has been sending since 2026 (see the
connector's sequencer for what a client does with it). Depth: 400 levels per side.

**Funding.** ``funding-rate`` is pushed on subscribe and when the rate or the next
settlement time changes (OKX pushes every 30–90 s); ``fundingTime`` is the next settlement.

**Positions.** One net row; ``fundingFee`` is the funding accumulated over the position's
life (it starts again at 0 with a new position, as OKX's does).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmtrio.core.events import BookDelta, ExecType, OrderStatus, OrderUpdate, Trade
from mmtrio.core.instruments import Instrument
from mmtrio.sim.frontend import AccountCause
from mmtrio.sim.liquidation import liquidation_price
from mmtrio.sim.okx import words as w
from mmtrio.sim.okx.market import fill_trade
from mmtrio.sim.okx.quotes import OkxQuotes
from mmtrio.sim.tape import TradeTape

if TYPE_CHECKING:
    from mmtrio.sim.account import OrderRecord
    from mmtrio.sim.venue import SimVenue

DEPTH = 400
DEFAULT_LEVER = "10"
MAX_ORDER_FEES = 10_000  # bounded memory of each order's accumulated fee


def arg(channel: str, inst_id: str) -> dict[str, str]:
    return {"channel": channel, "instId": inst_id}


class OkxStreams:
    """Renders and publishes (see the module docstring)."""

    def __init__(self, venue: SimVenue, inst: Instrument) -> None:
        self.venue = venue
        self.inst = inst
        self.symbol = inst.symbol
        self.topics = {c: f"{c}:{self.symbol}" for c in ("books", "trades", "mark-price",
                                                         "funding-rate")}  # fmt: skip
        self._funding_said: tuple[str, int] | None = None
        # the trades OKX would print: the market's and our taker fills (market.py)
        self.tape = TradeTape(venue.ts_offset)
        self.quotes = OkxQuotes(venue, inst, self.tape)
        self.topics.update(self.quotes.topics)
        self.order_fees: OrderedDict[str, Decimal] = OrderedDict()
        self.funding_fee = Decimal(0)  # of the open position's life
        self.anonymous: set[str] = set()  # client ids the venue named (shown as "")
        # the account's leverage per margin mode (POST /api/v5/account/set-leverage)
        self.leverage: dict[str, str] = {"cross": DEFAULT_LEVER, "isolated": DEFAULT_LEVER}

    # --- public -------------------------------------------------------------------------
    def _levels(self, levels: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> list[Any]:
        return [w.level(self.inst, p, q) for p, q in levels]

    def books_snapshot(self) -> dict[str, Any]:
        bids, asks = self.venue.book.top(DEPTH)
        data = {
            "asks": self._levels(asks),
            "bids": self._levels(bids),
            "ts": w.s(self.venue.out_ts(self.venue.book.ts)),
            "checksum": 0,
            "prevSeqId": -1,
            "seqId": self.venue.book.seq,
        }
        return {"arg": arg("books", self.symbol), "action": "snapshot", "data": [data]}

    def _books(self, delta: BookDelta) -> None:
        topic = self.topics["books"]
        hub = self.venue.hub
        if not hub.has_subscribers(topic):
            return
        data = {
            "asks": self._levels(delta.asks),
            "bids": self._levels(delta.bids),
            "ts": w.s(self.venue.out_ts(delta.ts)),
            "checksum": 0,
            "prevSeqId": delta.prev_seq,
            "seqId": delta.seq,
        }
        hub.publish_book(topic, {"arg": arg("books", self.symbol), "action": "update",
                                 "data": [data]})  # fmt: skip

    def on_book(self, delta: BookDelta) -> None:
        self._books(delta)
        self.quotes.on_book()

    def on_trade(self, trade: Trade) -> None:
        """A public trade: the market's, or a taker fill of ours (OKX prints both)."""
        self.tape.on_trade(trade)
        self._publish_trade(trade)
        self.quotes.on_trade()

    def _publish_trade(self, trade: Trade) -> None:
        topic = self.topics["trades"]
        if not self.venue.hub.has_subscribers(topic):
            return
        data = {
            "instId": self.symbol,
            "tradeId": w.s(trade.trade_id),
            "px": self.inst.price_str(trade.price),
            "sz": self.inst.qty_str(trade.qty),
            "side": "sell" if trade.buyer_is_maker else "buy",
            "ts": w.s(self.venue.out_ts(trade.ts)),
            "count": "1",
        }
        self.venue.hub.publish(topic, {"arg": arg("trades", self.symbol), "data": [data]})

    def mark_push(self) -> dict[str, Any]:
        data = {
            "instType": "SWAP",
            "instId": self.symbol,
            "markPx": w.dec(self.venue.mark_price()),
            "ts": w.s(self.venue.out_ts()),
        }
        return {"arg": arg("mark-price", self.symbol), "data": [data]}

    def funding_row(self) -> dict[str, Any]:
        v = self.venue
        nxt = w.s(v.out_ts(v.next_funding_ts))
        return {
            "instType": "SWAP",
            "instId": self.symbol,
            "fundingRate": w.dec(v.funding_rate),
            "nextFundingRate": "",
            "fundingTime": nxt,
            "nextFundingTime": w.s(v.out_ts(v.next_funding_ts + v.config.funding_interval_ms)),
            "method": "current_period",
            "premium": "0",
            "settFundingRate": "",
            "settState": "settled",
            "maxFundingRate": "0.0075",
            "minFundingRate": "-0.0075",
            "ts": w.s(v.out_ts()),
        }

    def funding_push(self) -> dict[str, Any]:
        return {"arg": arg("funding-rate", self.symbol), "data": [self.funding_row()]}

    def on_mark(self) -> None:
        self.quotes.on_mark()
        hub = self.venue.hub
        if hub.has_subscribers(self.topics["mark-price"]):
            hub.publish(self.topics["mark-price"], self.mark_push())
        said = (w.dec(self.venue.funding_rate), self.venue.next_funding_ts)
        if said != self._funding_said and hub.has_subscribers(self.topics["funding-rate"]):
            self._funding_said = said
            hub.publish(self.topics["funding-rate"], self.funding_push())

    # --- private ------------------------------------------------------------------------
    def order_json(
        self,
        rec: OrderRecord,
        *,
        fill: Any = None,
        amend_result: str = "",
    ) -> dict[str, Any]:
        """OKX's order object for ``rec``; ``cancelSource`` is :meth:`cancel_source`'s, so the
        push, the query and the history never disagree on why an order closed."""
        if fill is not None:  # the engine's market time, as it goes on the wire
            fill = replace(fill, ts=self.venue.out_ts(fill.ts))
        tif = rec.time_in_force
        order_type = "market" if rec.order_type == "MARKET" else w.ORD_TYPE.get(tif, "limit")
        return w.order_object(
            self.inst,
            client_id="" if rec.client_id in self.anonymous else rec.client_id,
            order_id=rec.order_id,
            side=rec.side,
            order_type=order_type,
            price=None if order_type == "market" else rec.price,
            qty=rec.qty,
            cum_qty=rec.cum_qty,
            avg_price=rec.avg_price(self.venue.instrument),
            status=rec.status,
            reduce_only=rec.reduce_only,
            created_ms=self.venue.out_ts(rec.created_ms),
            updated_ms=self.venue.out_ts(rec.update_ms),
            fee=-self.order_fees.get(rec.client_id, Decimal(0)),
            fill=fill,
            amend_result=amend_result,
            cancel_source=self.cancel_source(rec),
            lever=self.leverage["cross"],
        )

    def cancel_source(self, rec: OrderRecord) -> str:
        """Why a closed order was closed, in OKX's ``cancelSource`` words ("" while open or
        filled)."""
        if rec.status == OrderStatus.EXPIRED.value:
            if rec.order_id >= w.OWN_ID_BASE:  # post-only that would take (trade.py)
                return w.CANCEL_SOURCE_POST_ONLY
            view = self.venue.engine.get(rec.client_id)
            cause = view.expiry_cause if view is not None else None
            if cause in ("post_only_amend", "post_only"):
                return w.CANCEL_SOURCE_POST_ONLY
            # a system cancel (self-trade prevention, an IOC remainder, the venue)
            return w.CANCEL_SOURCE_SYSTEM
        if rec.status == OrderStatus.CANCELED.value:
            if rec.client_id in self.venue.deadman_cancelled:
                return w.CANCEL_SOURCE_DEADMAN
            if rec.client_id in self.venue.venue_cancelled:
                return w.CANCEL_SOURCE_SYSTEM
            return w.CANCEL_SOURCE_USER
        return ""

    def on_order(self, update: OrderUpdate, realized: Decimal) -> None:
        venue = self.venue
        rec = venue.account.orders.get(update.client_id)
        if rec is None:
            return
        fill = update.fill
        if fill is not None:
            fees = self.order_fees
            fees[rec.client_id] = fees.get(rec.client_id, Decimal(0)) + fill.fee
            fees.move_to_end(rec.client_id)
            while len(fees) > MAX_ORDER_FEES:
                fees.popitem(last=False)
        amend = ""
        if update.exec_type is ExecType.AMENDMENT:
            amend = "0"
        elif (
            update.exec_type is ExecType.EXPIRED
            and self.cancel_source(rec) == w.CANCEL_SOURCE_POST_ONLY
        ):
            amend = "1" if self._was_amend(rec) else ""
        obj = self.order_json(rec, fill=fill, amend_result=amend)
        # the orders push carrying a fill is what OKX clients book fills from (user_replay)
        venue.hub.publish_user(
            {"arg": {"channel": "orders", "instType": "SWAP", "instId": self.symbol},
             "data": [obj]},
            fill=fill is not None,
        )  # fmt: skip
        if fill is not None and not fill.is_maker:
            self.on_trade(fill_trade(fill))

    def _was_amend(self, rec: OrderRecord) -> bool:
        view = self.venue.engine.get(rec.client_id)
        return view is not None and view.expiry_cause == "post_only_amend"

    def position_rows(self) -> list[dict[str, Any]]:
        v = self.venue
        acct = v.account
        if acct.position == 0:
            return []
        lots = acct.position
        mark = v.mark_price()
        contracts = self.inst.qty_str(abs(lots))
        now = w.s(v.true_ms())
        return [
            {
                "instType": "SWAP",
                "instId": self.symbol,
                "mgnMode": "cross",
                "posId": "1",
                "posSide": "net",
                "pos": contracts if lots > 0 else f"-{contracts}",
                "availPos": contracts,
                "avgPx": w.dec(acct.entry_price),
                "upl": w.dec(acct.unrealized(mark).quantize(Decimal("0.00000001"))),
                "uplRatio": "0",
                "lever": self.leverage["cross"],
                "liqPx": _liq(v),
                "markPx": w.dec(mark),
                "margin": "",
                "mgnRatio": "",
                "notionalUsd": w.dec(self.inst.lots_to_base(abs(lots)) * mark),
                "adl": "1",
                "ccy": "USDT",
                "last": self._last_price(mark),
                "fundingFee": w.dec(self.funding_fee),
                "realizedPnl": w.dec(acct.realized_pnl),
                "fee": w.dec(-acct.fees_paid),
                "cTime": now,
                "uTime": now,
            }
        ]

    def _last_price(self, mark: Decimal) -> str:
        """A position's ``last``: the last traded price (the mark before any trade)."""
        last = self.tape.last
        return w.dec(mark) if last is None else self.inst.price_str(last.price)

    def positions_push(self) -> dict[str, Any]:
        return {
            "arg": {"channel": "positions", "instType": "SWAP", "instId": self.symbol},
            "data": self.position_rows() or [self._flat_row()],
        }

    def _flat_row(self) -> dict[str, Any]:
        """A closed position's row (``pos`` "0"), as OKX pushes when a position closes."""
        now = w.s(self.venue.true_ms())
        return {"instType": "SWAP", "instId": self.symbol, "mgnMode": "cross", "posId": "1",
                "posSide": "net", "pos": "0", "availPos": "0", "avgPx": "", "upl": "0",
                "fundingFee": "0", "liqPx": "", "cTime": now, "uTime": now}  # fmt: skip

    def balance_detail(self) -> dict[str, Any]:
        v = self.venue
        acct = v.account
        upl = acct.unrealized(v.mark_price()).quantize(Decimal("0.00000001"))
        eq = acct.balance + upl
        return {
            "ccy": "USDT",
            "eq": w.dec(eq),
            "cashBal": w.dec(acct.balance),
            "availBal": w.dec(acct.balance),
            "availEq": w.dec(eq),
            "frozenBal": "0",
            "ordFrozen": "0",
            "upl": w.dec(upl),
            "isoEq": "0",
            "disEq": w.dec(eq),
            "eqUsd": w.dec(eq),
            "uTime": w.s(v.true_ms()),
        }

    def account_row(self) -> dict[str, Any]:
        detail = self.balance_detail()
        return {"uTime": detail["uTime"], "totalEq": detail["eq"], "adjEq": detail["eq"],
                "isoEq": "0", "ordFroz": "0", "imr": "", "mmr": "", "mgnRatio": "",
                "notionalUsd": "", "upl": detail["upl"], "details": [detail]}  # fmt: skip

    def on_account(self, cause: AccountCause, change: Decimal) -> None:
        if cause is AccountCause.FUNDING:
            self.funding_fee += change
        if self.venue.account.position == 0:
            self.funding_fee = Decimal(0)  # the next position starts its own accumulation
        hub = self.venue.hub
        hub.publish_user(self.positions_push())
        hub.publish_user({"arg": {"channel": "account", "ccy": "USDT"},
                          "data": [self.account_row()]})  # fmt: skip


def _liq(venue: Any) -> str:
    """``liqPx``: the sim's liquidation price (sim/liquidation.py), "" when there is none."""
    liq = liquidation_price(venue)
    return "" if liq is None else w.dec(liq.quantize(Decimal("0.00000001")))
