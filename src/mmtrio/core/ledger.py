"""The ledger: position, average entry, P&L, fees, funding and P&L attribution for one symbol.

Accounting model (average cost, as the venue computes ``entryPrice`` and realised P&L, so a
reconciliation compares like with like):

- ``cash`` is the quote-currency flow of trading only: ``−Σ side·price·qty`` over fills.
- ``entry_price`` is the average cost of the open position. Buying more averages it; reducing
  leaves it unchanged and realises ``side_of_position·(exit − entry)·qty``; a fill that flips
  the position through zero first closes the whole position at the fill price, then opens the
  remainder at the fill price.
- ``unrealised = position_qty·(mark − entry)``; ``realised + unrealised == cash +
  position_qty·mark`` holds *exactly* for every fill sequence and every mark (the property
  tests check it).

Exactness: every sum and product runs in a Decimal context that traps ``Inexact``, so a P&L
number is never rounded silently. The one unavoidable division — averaging the entry price
when a position grows — is rounded to ``ENTRY_EXTRA_DIGITS`` digits below the tick (1e-9 USDT
for BTCUSDT), and the residual of that rounding (at most half a quantum per unit of position)
is booked into realised P&L so that the identity above still holds exactly. Binance itself
keeps ``entryPrice`` to a similar precision.

Session equity is ``realised + unrealised − fees + funding`` and starts at zero when the
ledger is created. Fees paid in another asset than the quote (Binance's BNB discount) are in
it at that asset's price: the core has no price of its own, so the runtime reads one through
the venue seam and feeds it (:class:`~mmtrio.core.events.AssetPrice`) whenever fees were
booked in such an asset. Until a price is known those fees are outside equity, and
``unpriced_fees`` says which (the status and the report name them: never a silent 0).
Its change is attributed to

- spread capture: ``Σ side·(mid_at_fill − fill_price)·qty`` — what we earned against the mid
  at the moment of each fill;
- inventory (mark-to-market): trading P&L minus spread capture — what the price moved against
  or for the inventory we carried;
- fees (negative: paid; rebates make it positive; fees in another asset at its price) and
  funding;
- reconciliation: the equity jump caused by ``set_position`` (zero unless the ledger had to be
  corrected to the venue's position).

The five parts sum exactly to ``equity()``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from mmtrio.core.events import Fill
from mmtrio.core.instruments import Instrument
from mmtrio.core.trade_dedupe import TradeIdDedupe
from mmtrio.errors import InstrumentError, ParameterError

ENTRY_EXTRA_DIGITS = 8
"""Digits kept below the tick size when the average entry price is computed."""

_ZERO = Decimal(0)

# Sums and products of venue decimals are exact at this precision; Inexact is trapped so an
# accidental rounding raises instead of drifting the books.
_EXACT = Context(prec=80, traps=[Inexact, InvalidOperation, Overflow, DivisionByZero])
_ROUNDING = Context(prec=80, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, Overflow])


def _check_money(value: Decimal, what: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ParameterError(f"{what} must be a finite Decimal, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class PositionAdjustment:
    """One ``set_position`` correction: what the ledger had, what the venue said, the P&L jump."""

    ts: int
    lots_before: int
    entry_before: Decimal
    lots_after: int
    entry_after: Decimal
    equity_effect: Decimal


@dataclass(frozen=True, slots=True)
class LedgerSnapshot:
    """Every number of the ledger at one moment (all money in the quote asset)."""

    symbol: str
    position_lots: int
    position_qty: Decimal
    entry_price: Decimal
    mark_price: Decimal | None
    mark_source: str  # "mark" (last mark()), "last_fill" (no mark yet) or "none"
    cash: Decimal
    realised: Decimal
    unrealised: Decimal
    trading_pnl: Decimal
    fees: Decimal  # paid in the quote asset, positive; rebates negative
    funding: Decimal  # received, positive
    equity: Decimal
    spread_capture: Decimal
    inventory_pnl: Decimal
    reconciliation_pnl: Decimal
    fills: int
    volume_lots: int
    maker_volume_lots: int
    duplicate_fills: int
    below_watermark_fills: int
    fills_without_mid: int
    other_asset_fees: tuple[tuple[str, Decimal], ...]  # (asset, amount) paid in each
    other_fees_value: Decimal = _ZERO  # those paid in other assets, at their prices (quote)
    unpriced_fees: tuple[tuple[str, Decimal], ...] = ()  # of those, the ones outside equity

    @property
    def all_fees(self) -> Decimal:
        """Every fee in the quote asset: its own plus the others at their prices."""
        return self.fees + self.other_fees_value

    @property
    def attribution(self) -> dict[str, Decimal]:
        """Session equity split into parts that sum exactly to ``equity``."""
        return {
            "spread_capture": self.spread_capture,
            "inventory": self.inventory_pnl,
            "fees": -(self.fees + self.other_fees_value),
            "funding": self.funding,
            "reconciliation": self.reconciliation_pnl,
        }


class Ledger:
    """Positions and P&L of one instrument, fed with our fills, funding and marks."""

    def __init__(self, instrument: Instrument, dedupe_capacity: int = 100_000) -> None:
        self.instrument = instrument
        self._dedupe = TradeIdDedupe(dedupe_capacity)
        self._quantum = instrument.tick_size.scaleb(-ENTRY_EXTRA_DIGITS)
        self.position_lots = 0
        self.entry_price = _ZERO
        self.cash = _ZERO
        self.realised = _ZERO
        self.fees = _ZERO
        self.funding = _ZERO
        self.spread_capture = _ZERO
        self.reconciliation_pnl = _ZERO
        self._mark: Decimal | None = None
        self._last_fill_price: Decimal | None = None
        self._fills = 0
        self._volume_lots = 0
        self._maker_volume_lots = 0
        self._fills_without_mid = 0
        self._other_fees: dict[str, Decimal] = {}  # fees booked in another asset (BNB)
        self._asset_prices: dict[str, Decimal] = {}  # their last price in the quote asset
        self.adjustments: deque[PositionAdjustment] = deque(maxlen=100)
        self.last_funding_ts: int | None = None
        # The last equity() and what it was computed from (see equity).
        self._equity_memo: (
            tuple[Decimal, Decimal, Decimal, Decimal, Decimal | None, Decimal | None, int, Decimal]
            | None
        ) = None

    # --- inputs -----------------------------------------------------------------------
    def on_fill(self, fill: Fill, mid: Decimal | None) -> bool:
        """Book one of our fills; False (and nothing booked) if its trade id was seen before.

        ``mid`` is the market mid at the fill, for spread capture. Without it (no book yet)
        the fill's own price stands in, so the fill's whole P&L falls into inventory, and
        ``fills_without_mid`` counts it.
        """
        if fill.symbol != self.instrument.symbol:
            raise InstrumentError(
                f"fill {fill.trade_id} is for {fill.symbol}, this ledger books "
                f"{self.instrument.symbol}: route fills by symbol"
            )
        if fill.qty <= 0 or fill.price <= 0:
            raise ParameterError(
                f"fill {fill.trade_id}: price {fill.price} ticks and qty {fill.qty} lots must be "
                "positive; the venue payload is malformed"
            )
        _check_money(fill.fee, f"fill {fill.trade_id} fee")
        if mid is not None and (_check_money(mid, "mid at fill") <= 0):
            raise ParameterError(f"mid at fill must be positive, got {mid}")
        if not self._dedupe.is_new(fill.trade_id):
            return False

        price = self.instrument.ticks_to_price(fill.price)
        with localcontext(_EXACT):
            qty = self.instrument.lots_to_base(fill.qty)
            sign = fill.side.sign
            self.cash -= sign * price * qty
            self._apply_trade(sign * fill.qty, price)
            if fill.fee_asset == self.instrument.quote_asset:
                self.fees += fill.fee
            else:
                # In equity at that asset's price once the runtime feeds one (AssetPrice);
                # until then outside it, and the status says so (unpriced_fees).
                self._other_fees[fill.fee_asset] = (
                    self._other_fees.get(fill.fee_asset, _ZERO) + fill.fee
                )
            if mid is None:
                self._fills_without_mid += 1
            else:
                self.spread_capture += sign * (mid - price) * qty
        self._fills += 1
        self._volume_lots += fill.qty
        if fill.is_maker:
            self._maker_volume_lots += fill.qty
        self._last_fill_price = price
        return True

    def booked_through(self, trade_id: int) -> None:
        """Every venue trade with an id at or below ``trade_id`` is inside the position (it
        was just set to the venue's, which includes them): a fill at or below it that
        arrives later is history and is not booked again (``below_watermark`` counts it).

        Reconciliation at start calls it: the venue's trades were listed, then its position
        read and adopted. Without it the ledger knew only the ids it was fed, and a venue
        replaying older fills to a restarted bot (trade ids before the journal's checkpoint)
        had them booked twice (deterministic simulation seed 30, issue 21)."""
        self._dedupe.seen_through(trade_id)

    def has_fill(self, trade_id: int) -> bool:
        """True if a fill with this venue trade id was booked (or is below the dedupe mark):
        reconciliation asks before counting a venue trade as still to be booked."""
        return trade_id in self._dedupe

    def _apply_trade(self, signed_lots: int, price: Decimal) -> None:
        """Move the position by ``signed_lots`` at ``price`` (average cost, flips split)."""
        pos = self.position_lots
        if pos == 0 or (pos > 0) == (signed_lots > 0):
            self._increase(signed_lots, price)
            return
        closing = min(abs(pos), abs(signed_lots))
        direction = 1 if pos > 0 else -1
        self.realised += (
            direction * (price - self.entry_price) * self.instrument.lots_to_base(closing)
        )
        self.position_lots = pos + (-direction) * closing
        if self.position_lots == 0:
            self.entry_price = _ZERO
        rest = abs(signed_lots) - closing
        if rest:
            self._increase(-direction * rest, price)

    def _increase(self, signed_lots: int, price: Decimal) -> None:
        old_cost = self.instrument.lots_to_base(self.position_lots) * self.entry_price
        new_lots = self.position_lots + signed_lots
        new_cost = old_cost + self.instrument.lots_to_base(signed_lots) * price
        new_qty = self.instrument.lots_to_base(new_lots)
        with localcontext(_ROUNDING):
            entry = (new_cost / new_qty).quantize(self._quantum)
        # The rounding residual goes to realised so realised + unrealised == cash + pos·mark.
        self.realised += new_qty * entry - new_cost
        self.position_lots = new_lots
        self.entry_price = entry

    def on_funding(self, amount: Decimal, ts: int) -> None:
        """Book a funding payment (positive received, negative paid)."""
        _check_money(amount, "funding amount")
        with localcontext(_EXACT):
            self.funding += amount
        self.last_funding_ts = ts

    def on_asset_price(self, asset: str, price: Decimal) -> None:
        """The price of ``asset`` in the quote asset: fees paid in it are in equity at it."""
        if _check_money(price, f"{asset} price") <= 0:
            raise ParameterError(f"{asset} price must be positive, got {price}")
        if asset == self.instrument.quote_asset:
            raise ParameterError(f"{asset} is the quote asset: it has no price in itself")
        self._asset_prices[asset] = price

    def fee_assets(self) -> tuple[str, ...]:
        """The assets other than the quote asset that fees were booked in (the runtime reads
        their prices for exactly these)."""
        return tuple(sorted(self._other_fees))

    def asset_prices(self) -> tuple[tuple[str, Decimal], ...]:
        """The prices fees in other assets are valued at now (asset, quote per unit)."""
        return tuple(sorted(self._asset_prices.items()))

    def unpriced_fees(self) -> tuple[tuple[str, Decimal], ...]:
        """Fees in another asset with no price yet: outside equity until one is fed."""
        return tuple(
            (a, fee) for a, fee in sorted(self._other_fees.items()) if a not in self._asset_prices
        )

    def other_fees_value(self) -> Decimal:
        """The fees paid in other assets, in the quote asset at their prices (priced only)."""
        if not self._other_fees:
            return _ZERO  # what the sum below gives for no fee (its start), without a context
        with localcontext(_EXACT):
            return sum(
                (fee * self._asset_prices[a] for a, fee in self._other_fees.items()
                 if a in self._asset_prices),
                _ZERO,
            )  # fmt: skip

    def mark(self, mark_price: Decimal) -> None:
        """Set the price unrealised P&L is valued at (the venue mark price, or the mid)."""
        if _check_money(mark_price, "mark price") <= 0:
            raise ParameterError(f"mark price must be positive, got {mark_price}")
        self._mark = mark_price

    def set_position(self, lots: int, entry_price: Decimal, ts: int = 0) -> PositionAdjustment:
        """Adopt the venue's position (reconciliation); returns the recorded adjustment.

        Realised P&L is kept (cash is adjusted so ``realised`` does not move); the position
        and entry price become the venue's, so unrealised P&L — and equity — jump by the
        difference. That jump is booked as ``reconciliation_pnl``, its own attribution part:
        it is P&L the ledger had wrong (a missed or phantom fill), not trading. When flat,
        ``entry_price`` is ignored (Binance reports ``0`` for a flat position).
        """
        if isinstance(lots, bool) or not isinstance(lots, int):
            raise ParameterError(f"position must be an int number of lots, got {lots!r}")
        _check_money(entry_price, "entry price")
        if lots != 0 and entry_price <= 0:
            raise ParameterError(
                f"entry price of a non-flat position must be > 0, got {entry_price}"
            )
        entry = entry_price if lots != 0 else _ZERO
        before = self.equity()
        lots_before, entry_before = self.position_lots, self.entry_price
        with localcontext(_EXACT):
            self.position_lots = lots
            self.entry_price = entry
            self.cash = self.realised - self.instrument.lots_to_base(lots) * entry
            effect = self._equity_raw() - before
            self.reconciliation_pnl += effect
        adj = PositionAdjustment(ts, lots_before, entry_before, lots, entry, effect)
        self.adjustments.append(adj)
        return adj

    # --- outputs ----------------------------------------------------------------------
    def _valuation(self) -> tuple[Decimal | None, str]:
        if self._mark is not None:
            return self._mark, "mark"
        if self._last_fill_price is not None:
            return self._last_fill_price, "last_fill"
        return None, "none"

    def unrealised(self) -> Decimal:
        """``position_qty·(mark − entry)``; valued at the last fill price until a mark is given."""
        with localcontext(_EXACT):
            return self._unrealised_raw()

    def _unrealised_raw(self) -> Decimal:
        # In the caller's _EXACT context (equity, snapshot: one context for the whole sum).
        lots = self.position_lots
        price = self._mark if self._mark is not None else self._last_fill_price  # _valuation
        if price is None or lots == 0:
            return _ZERO
        return self.instrument.lots_to_base(lots) * (price - self.entry_price)

    def valuation_price(self) -> Decimal | None:
        """The price the position is valued at now (mark, else last fill; None: none yet)."""
        return self._valuation()[0]

    def equity_at(self, price: Decimal | None) -> Decimal:
        """Equity with the position valued at ``price`` (None: the position unvalued)."""
        with localcontext(_EXACT):
            unreal = _ZERO
            if price is not None and self.position_lots != 0:
                unreal = self.instrument.lots_to_base(self.position_lots) * (
                    price - self.entry_price
                )
            return self.realised + unreal - self.fees - self.other_fees_value() + self.funding

    def _equity_raw(self) -> Decimal:
        # Every caller (equity, set_position, snapshot) is in a localcontext(_EXACT).
        return (
            self.realised
            + self._unrealised_raw()
            - self.fees
            - self.other_fees_value()
            + self.funding
        )

    def equity(self) -> Decimal:
        """Session equity: realised + unrealised − fees (those paid in another asset at its
        price, once known) + funding (zero at creation)."""
        # Every decision asks; between fills and marks nothing it reads changes. The last
        # result is reused while each Decimal it read is the very same object (an equal value
        # could print differently: identity, not ==) and no fee is booked in another asset.
        memo = self._equity_memo
        if (
            memo is not None
            and memo[0] is self.realised
            and memo[1] is self.fees
            and memo[2] is self.funding
            and memo[3] is self.entry_price
            and memo[4] is self._mark
            and memo[5] is self._last_fill_price
            and memo[6] == self.position_lots
            and not self._other_fees
        ):
            return memo[7]
        with localcontext(_EXACT):
            equity = self._equity_raw()
        self._equity_memo = (
            self.realised,
            self.fees,
            self.funding,
            self.entry_price,
            self._mark,
            self._last_fill_price,
            self.position_lots,
            equity,
        )
        return equity

    def snapshot(self) -> LedgerSnapshot:
        """All numbers at this moment, as an immutable record."""
        price, source = self._valuation()
        with localcontext(_EXACT):
            unreal = self.unrealised()
            trading = self.realised + unreal - self.reconciliation_pnl
            return LedgerSnapshot(
                symbol=self.instrument.symbol,
                position_lots=self.position_lots,
                position_qty=self.instrument.lots_to_base(self.position_lots),
                entry_price=self.entry_price,
                mark_price=price,
                mark_source=source,
                cash=self.cash,
                realised=self.realised,
                unrealised=unreal,
                trading_pnl=trading,
                fees=self.fees,
                other_fees_value=self.other_fees_value(),
                funding=self.funding,
                equity=self._equity_raw(),
                spread_capture=self.spread_capture,
                inventory_pnl=trading - self.spread_capture,
                reconciliation_pnl=self.reconciliation_pnl,
                fills=self._fills,
                volume_lots=self._volume_lots,
                maker_volume_lots=self._maker_volume_lots,
                duplicate_fills=self._dedupe.duplicates,
                below_watermark_fills=self._dedupe.below_watermark,
                fills_without_mid=self._fills_without_mid,
                other_asset_fees=tuple(sorted(self._other_fees.items())),
                unpriced_fees=self.unpriced_fees(),
            )
