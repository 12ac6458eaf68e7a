"""The simulated venue's authoritative account: the ground truth the bot is checked against.

Deliberately independent of the bot's ledger (``core.ledger``): it is written again here,
plainly, from the fills the matching engine produced, so that a bug in one is caught by the
other. Money is ``Decimal`` in the quote asset; position is signed lots. One-way mode: one net
position per symbol; realised P&L is booked when a fill reduces it, at the average entry.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from mmtrio.core.events import Fill, OrderUpdate, Side
from mmtrio.core.instruments import Instrument

MAX_FILLS = 1_000_000  # bounded: a day of heavy paper trading fits; older fills are dropped
MAX_CHECKS = 1_000_000
FEE_ASSET_QUANTUM = Decimal("0.00000001")  # a fee in another asset: 8 decimals


@dataclass(slots=True)
class OrderRecord:
    """What the venue knows of one order, for answers (average price, quote filled) and the
    ledger."""

    client_id: str
    order_id: int
    side: Side
    price: int
    qty: int
    order_type: str
    time_in_force: str
    reduce_only: bool
    created_ms: int
    status: str = "NEW"
    cum_qty: int = 0
    cum_quote: Decimal = Decimal(0)
    update_ms: int = 0

    def avg_price(self, inst: Instrument) -> Decimal:
        if self.cum_qty == 0:
            return Decimal(0)
        return self.cum_quote / inst.lots_to_base(self.cum_qty)

    def to_json(self, inst: Instrument) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "order_id": self.order_id,
            "side": self.side.value,
            "order_type": self.order_type,
            "time_in_force": self.time_in_force,
            "price": inst.price_str(self.price),
            "qty": inst.qty_str(self.qty),
            "filled_qty": inst.qty_str(self.cum_qty),
            "avg_price": str(self.avg_price(inst)),
            "status": self.status,
            "reduce_only": self.reduce_only,
            "created_ms": self.created_ms,
            "updated_ms": self.update_ms,
        }


@dataclass(slots=True)
class ExposureCheck:
    """The account's worst-case exposure at the moment an order was accepted."""

    ts: int
    client_id: str
    position_lots: int
    open_buy_lots: int
    open_sell_lots: int
    worst_lots: int
    worst_notional: Decimal
    limit_lots: int | None

    @property
    def breach(self) -> bool:
        return self.limit_lots is not None and self.worst_lots > self.limit_lots


@dataclass
class SimAccount:
    instrument: Instrument
    balance: Decimal = Decimal("100000")
    position: int = 0  # signed lots
    entry_price: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    fees_paid: Decimal = Decimal(0)  # in the quote asset
    # fees charged in another asset (a BNB fee discount): that asset's wallet pays them, the
    # quote balance does not (SimConfig.fee_asset)
    fees_other: dict[str, Decimal] = field(default_factory=dict)
    funding: Decimal = Decimal(0)  # positive = received
    exposure_limit_lots: int | None = None
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    by_order_id: dict[int, str] = field(default_factory=dict)
    fills: deque[Fill] = field(default_factory=lambda: deque(maxlen=MAX_FILLS))
    # realised P&L of each fill in ``fills`` (same index), for a front end's fills query
    fill_realized: deque[Decimal] = field(default_factory=lambda: deque(maxlen=MAX_FILLS))
    checks: deque[ExposureCheck] = field(default_factory=lambda: deque(maxlen=MAX_CHECKS))
    funding_events: list[dict[str, str | int]] = field(default_factory=list)
    adjustments: list[dict[str, str | int]] = field(default_factory=list)  # position_adjust

    # --- orders -------------------------------------------------------------------------
    def record_order(self, rec: OrderRecord) -> None:
        self.orders[rec.client_id] = rec
        self.by_order_id[rec.order_id] = rec.client_id

    def lookup(self, client_id: str | None, order_id: int | None) -> OrderRecord | None:
        if client_id is not None:
            rec = self.orders.get(client_id)
            if rec is not None and (order_id is None or rec.order_id == order_id):
                return rec
            return None
        if order_id is not None:
            cid = self.by_order_id.get(order_id)
            return self.orders.get(cid) if cid is not None else None
        return None

    def open_records(self) -> list[OrderRecord]:
        return [r for r in self.orders.values() if r.status in ("NEW", "PARTIALLY_FILLED")]

    def on_update(self, upd: OrderUpdate) -> Decimal:
        """Apply one engine update; return the realised P&L of its fill (0 without fill)."""
        rec = self.orders.get(upd.client_id)
        if rec is not None:
            rec.status = upd.status.value
            rec.price = upd.price
            rec.qty = upd.qty
            rec.update_ms = upd.ts
        fill = upd.fill
        if fill is None:
            return Decimal(0)
        self.fills.append(fill)
        if rec is not None:
            rec.cum_qty = upd.cum_qty
            rec.cum_quote += self.instrument.ticks_to_price(
                fill.price
            ) * self.instrument.lots_to_base(fill.qty)
        realized = self._book_fill(fill)
        self.fill_realized.append(realized)
        return realized

    def _book_fill(self, fill: Fill) -> Decimal:
        inst = self.instrument
        price = inst.ticks_to_price(fill.price)
        delta = fill.qty * fill.side.sign
        realized = Decimal(0)
        pos = self.position
        if pos == 0 or (pos > 0) == (delta > 0):
            total = abs(pos) + fill.qty
            self.entry_price = (self.entry_price * abs(pos) + price * fill.qty) / total
        else:
            closed = min(abs(pos), fill.qty)
            direction = 1 if pos > 0 else -1
            realized = (price - self.entry_price) * inst.lots_to_base(closed) * direction
            if fill.qty > abs(pos):
                self.entry_price = price
            elif fill.qty == abs(pos):
                self.entry_price = Decimal(0)
        self.position = pos + delta
        self.realized_pnl += realized
        self.balance += realized
        if fill.fee_asset == inst.quote_asset:
            self.fees_paid += fill.fee
            self.balance -= fill.fee
        else:
            self.fees_other[fill.fee_asset] = (
                self.fees_other.get(fill.fee_asset, Decimal(0)) + fill.fee
            )
        return realized

    def adjust_position(self, lots: int, price: int, ts: int) -> None:
        """A position change without a trade (liquidation, ADL, transfer): booked like a fill
        at ``price`` without a fee, and never listed among the fills (the trade history)."""
        side = Side.BUY if lots > 0 else Side.SELL
        fake = Fill(self.instrument.symbol, 0, "adjustment", 0, side, price, abs(lots),
                    Decimal(0), self.instrument.quote_asset, False, ts)  # fmt: skip
        self._book_fill(fake)
        self.adjustments.append({"ts": ts, "lots": lots, "price": self.instrument.price_str(price)})

    # --- exposure -----------------------------------------------------------------------
    def open_lots(self) -> tuple[int, int]:
        buy = sell = 0
        for r in self.open_records():
            rem = r.qty - r.cum_qty
            if r.side is Side.BUY:
                buy += rem
            else:
                sell += rem
        return buy, sell

    def check_exposure(self, ts: int, client_id: str, price: int) -> ExposureCheck:
        """Record the worst case at an accept: every open order filling in the worse direction."""
        buy, sell = self.open_lots()
        worst = max(abs(self.position + buy), abs(self.position - sell))
        chk = ExposureCheck(
            ts=ts,
            client_id=client_id,
            position_lots=self.position,
            open_buy_lots=buy,
            open_sell_lots=sell,
            worst_lots=worst,
            worst_notional=self.instrument.notional(price, worst),
            limit_lots=self.exposure_limit_lots,
        )
        self.checks.append(chk)
        return chk

    # --- funding ------------------------------------------------------------------------
    def settle_funding(self, rate: Decimal, mark: Decimal, ts: int) -> Decimal:
        """Funding on the position: longs pay a positive rate. Returns the balance change."""
        amount = -(self.instrument.lots_to_base(self.position) * mark * rate)
        amount = amount.quantize(Decimal("0.00000001"))
        self.balance += amount
        self.funding += amount
        self.funding_events.append(
            {
                "ts": ts,
                "rate": str(rate),
                "mark": str(mark),
                "position": self.position,
                "amount": str(amount),
            }
        )
        return amount

    def unrealized(self, mark: Decimal) -> Decimal:
        if self.position == 0:
            return Decimal(0)
        return (mark - self.entry_price) * self.instrument.lots_to_base(self.position)

    # --- liquidation --------------------------------------------------------------------
    def maintenance(self, mark: Decimal, rate: Decimal) -> Decimal:
        """The maintenance margin of the position at ``mark``: |notional| × ``rate``."""
        return abs(self.instrument.lots_to_base(self.position) * mark) * rate

    def liquidation_price(self, rate: Decimal) -> Decimal | None:
        """The mark at which the margin balance (wallet + unrealised) falls to the
        maintenance margin, for one position in one-way cross margin (the USD-M
        formula with no other position and no maintenance amount ``cum``):

            LP = (WB − s·Q·EP) / (Q·MMR − s·Q)

        with WB the wallet balance, Q the position size (base), s its sign, EP the entry
        price and MMR the maintenance margin ``rate``. None when flat, or when no positive
        price liquidates the position (a long the wallet covers all the way to zero)."""
        if self.position == 0:
            return None
        qty = abs(self.instrument.lots_to_base(self.position))
        s = 1 if self.position > 0 else -1
        price = (self.balance - s * qty * self.entry_price) / (qty * rate - s * qty)
        return price if price > 0 else None

    # --- ground truth -------------------------------------------------------------------
    def to_json(self, mark: Decimal) -> dict[str, Any]:
        inst = self.instrument
        return {
            "symbol": inst.symbol,
            "position": {
                "lots": self.position,
                "qty": inst.qty_str(self.position)
                if self.position >= 0
                else "-" + inst.qty_str(-self.position),
                "entry_price": str(self.entry_price),
                "unrealized_pnl": str(self.unrealized(mark)),
            },
            "balance": str(self.balance),
            "fees_other": {k: str(v) for k, v in sorted(self.fees_other.items())},
            "realized_pnl": str(self.realized_pnl),
            "fees_paid": str(self.fees_paid),
            "funding": str(self.funding),
            "funding_events": self.funding_events,
            "adjustments": self.adjustments,
            "exposure_limit_lots": self.exposure_limit_lots,
            "orders": [r.to_json(inst) for r in self.orders.values()],
            "open_orders": [r.client_id for r in self.open_records()],
            "fills": [
                {
                    "trade_id": f.trade_id,
                    "client_id": f.client_id,
                    "order_id": f.order_id,
                    "side": f.side.value,
                    "price": inst.price_str(f.price),
                    "qty": inst.qty_str(f.qty),
                    "fee": str(f.fee),
                    "is_maker": f.is_maker,
                    "ts": f.ts,
                }
                for f in self.fills
            ],
            "exposure_checks": [
                {
                    "ts": c.ts,
                    "client_id": c.client_id,
                    "position_lots": c.position_lots,
                    "open_buy_lots": c.open_buy_lots,
                    "open_sell_lots": c.open_sell_lots,
                    "worst_lots": c.worst_lots,
                    "worst_notional": str(c.worst_notional),
                    "limit_lots": c.limit_lots,
                    "breach": c.breach,
                }
                for c in self.checks
            ],
        }


def in_fee_asset(upd: OrderUpdate, asset: str, price: Decimal) -> OrderUpdate:
    """``upd`` with its fill's fee charged in ``asset`` (quote fee / ``price``, 8 decimals)."""
    fill = upd.fill
    if fill is None or fill.fee_asset == asset:
        return upd
    fee = (fill.fee / price).quantize(FEE_ASSET_QUANTUM)
    return replace(upd, fill=replace(fill, fee=fee, fee_asset=asset))
