"""Instrument definitions and exact conversion between venue strings and integer ticks/lots.

Inside the core a price is an ``int`` number of ticks and a size an ``int`` number of lot
steps. Conversion happens only at the venue boundary, through ``Decimal``, and is exact: a
string that is not a whole number of ticks (or lots) is an error, never rounded silently.

Instruments come from the venue (Binance ``exchangeInfo``, OKX ``instruments``, Hyperliquid
``meta``, Extended ``markets``) or, for replayed data, from the recording itself; the core
holds no table of symbols. Two venue differences live here, on the instrument, so that no
code does arithmetic on a constant tick:

- **A price grid that depends on the price.** ``tick_size`` is the finest step; with
  ``sig_figs`` set (Hyperliquid: 5) a price is valid only with at most that many significant
  figures, or when it is a whole number (Hyperliquid allows every integer price). Rounding is
  :meth:`Instrument.floor_price` / :meth:`Instrument.ceil_price`: quotes round outward (bids
  down, asks up), which keeps every post-only and no-cross guarantee a fixed grid gives.
- **Contracts.** ``lot_size`` is the venue's size step in the venue's size unit; on OKX that
  unit is contracts of ``contract_size`` base units (BTC-USDT-SWAP: 0.01 BTC). Notional, P&L
  and inventory are in base units (:meth:`Instrument.lots_to_base`); order sizes sent to the
  venue are in its own unit (:meth:`Instrument.qty_str`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import TypeVar

from mmtrio.errors import (
    InstrumentError,
    MinNotionalError,
    OffGridPriceError,
    OffGridQtyError,
    PriceOutOfRangeError,
    QtyOutOfRangeError,
)

_T = TypeVar("_T")
_PRICE_MEMO = 4096  # prices remembered by each of Instrument's per-price memos


def _remember(memo: dict[int, _T], ticks: int, value: _T) -> None:
    if len(memo) >= _PRICE_MEMO:
        memo.clear()  # bounded: the prices quoted drift, the old ones are not asked again
    memo[ticks] = value


def _decimal(value: str | Decimal | int, what: str) -> Decimal:
    if isinstance(value, Decimal):
        dec = value
    else:
        try:
            dec = Decimal(value)
        except (InvalidOperation, ValueError) as exc:
            raise InstrumentError(f"{what} {value!r} is not a decimal number") from exc
    if not dec.is_finite():
        raise InstrumentError(f"{what} {value!r} is not a finite number")
    return dec


def _decimals(step: Decimal) -> int:
    exponent = step.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _grid_divmod(dec: Decimal, step: Decimal, what: str) -> tuple[Decimal, Decimal]:
    # A value with more digits than the decimal context's precision (e.g. "1e30") makes
    # divmod raise a bare decimal.InvalidOperation; report it as the bad input it is.
    try:
        return divmod(dec, step)
    except InvalidOperation as exc:
        raise InstrumentError(f"{what} is too large to be a price or quantity") from exc


@dataclass(frozen=True, slots=True)
class Instrument:
    """A perpetual future's trading grid, as the venue's exchangeInfo filters describe it.

    ``min_qty``/``max_qty`` are in lots; ``min_price_ticks``/``max_price_ticks`` in ticks.
    """

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_qty: int
    max_qty: int
    min_notional: Decimal
    min_price_ticks: int = 1
    max_price_ticks: int = 10**12
    base_asset: str = ""
    quote_asset: str = "USDT"
    contract_size: Decimal = Decimal(1)
    sig_figs: int | None = None
    # Derived once (every price and size string needs them: reading a Decimal's exponent on
    # each call was 5 % of a deterministic simulation's CPU time).
    _price_decimals: int = field(init=False, repr=False, compare=False)
    _qty_decimals: int = field(init=False, repr=False, compare=False)
    # Answers by price that never change, asked on the hot path: min_lots_for_notional for
    # every level of every plan (its Decimal division was a tenth of a plan's time), and the
    # Decimal price and its string for every place/amend (the pre-trade check, the notice).
    # Bounded (_PRICE_MEMO prices each); the core computes in the default decimal context.
    _min_lots: dict[int, int] = field(init=False, repr=False, compare=False)
    _prices: dict[int, Decimal] = field(init=False, repr=False, compare=False)
    _price_strs: dict[int, str] = field(init=False, repr=False, compare=False)
    _base_per_lot: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.symbol:
            raise InstrumentError("instrument symbol is empty")
        for name in ("tick_size", "lot_size", "contract_size"):
            val = getattr(self, name)
            if not isinstance(val, Decimal) or not val.is_finite() or val <= 0:
                raise InstrumentError(
                    f"{self.symbol}: {name} must be a positive Decimal, got {val!r}"
                )
        object.__setattr__(self, "_price_decimals", _decimals(self.tick_size))
        object.__setattr__(self, "_qty_decimals", _decimals(self.lot_size))
        object.__setattr__(self, "_min_lots", {})
        object.__setattr__(self, "_prices", {})
        object.__setattr__(self, "_price_strs", {})
        object.__setattr__(self, "_base_per_lot", self.lot_size * self.contract_size)
        if self.min_notional < 0:
            raise InstrumentError(
                f"{self.symbol}: min_notional must be >= 0, got {self.min_notional}"
            )
        if not 1 <= self.min_qty <= self.max_qty:
            raise InstrumentError(
                f"{self.symbol}: need 1 <= min_qty <= max_qty (lots), "
                f"got {self.min_qty}, {self.max_qty}"
            )
        if self.sig_figs is not None:
            if not 1 <= self.sig_figs <= 30:
                raise InstrumentError(
                    f"{self.symbol}: sig_figs must be 1..30 or unset, got {self.sig_figs}"
                )
            if self.tick_size != Decimal(1).scaleb(-self.price_decimals):
                raise InstrumentError(
                    f"{self.symbol}: a significant-figure price grid needs a power-of-ten "
                    f"tick size, got {self.tick_size}"
                )
        if not 1 <= self.min_price_ticks <= self.max_price_ticks:
            raise InstrumentError(
                f"{self.symbol}: need 1 <= min_price_ticks <= max_price_ticks, "
                f"got {self.min_price_ticks}, {self.max_price_ticks}"
            )

    # --- prices -----------------------------------------------------------------------
    @property
    def price_decimals(self) -> int:
        """Number of decimals the venue prints for prices (0.10 → 2, as Binance prints)."""
        # The exponent as written, not normalised: tick "0.10" prints two decimals, as Binance does.
        return self._price_decimals

    @property
    def qty_decimals(self) -> int:
        return self._qty_decimals

    def price_to_ticks(self, price: str | Decimal) -> int:
        """Exact ticks of a venue price string; an off-grid price raises OffGridPriceError."""
        dec = _decimal(price, f"{self.symbol} price")
        ticks, rem = _grid_divmod(dec, self.tick_size, f"{self.symbol} price {price}")
        if rem != 0:
            raise OffGridPriceError(
                f"{self.symbol}: price {price} is not a multiple of the tick size {self.tick_size}"
            )
        return int(ticks)

    def ticks_to_price(self, ticks: int) -> Decimal:
        price = self._prices.get(ticks)
        if price is None:
            price = (self.tick_size * ticks).quantize(Decimal(1).scaleb(-self.price_decimals))
            _remember(self._prices, ticks, price)
        return price

    def price_str(self, ticks: int) -> str:
        """The venue string for a price in ticks (e.g. 281451 → '28145.10' for tick 0.10)."""
        text = self._price_strs.get(ticks)
        if text is None:
            text = f"{self.ticks_to_price(ticks):.{self.price_decimals}f}"
            _remember(self._price_strs, ticks, text)
        return text

    def ticks_from(self, ticks: int, tick_size: Decimal) -> int:
        """``ticks`` counted in ``tick_size`` as this instrument's ticks, to the nearest one: a
        journal can hold prices of a run that traded another tick (a venue whose tick follows
        the price level, Hyperliquid)."""
        if tick_size == self.tick_size:
            return ticks
        return int((tick_size * ticks / self.tick_size).to_integral_value())

    def is_valid_price(self, ticks: int) -> bool:
        """True when ``ticks`` is on the price grid (always, on a fixed-tick instrument)."""
        sig = self.sig_figs
        if sig is None or ticks <= 0:
            return True
        if ticks % self._ticks_per_unit == 0:
            return True  # whole-number prices are always allowed
        digits = len(str(ticks).rstrip("0"))
        return digits <= sig

    @property
    def _ticks_per_unit(self) -> int:
        return int(10**self.price_decimals)

    def _grid_step(self, ticks: int) -> int:
        """The price grid's step (in ticks) around ``ticks`` (1 on a fixed-tick instrument)."""
        sig = self.sig_figs
        if sig is None or ticks <= 0:
            return 1
        excess = len(str(ticks)) - sig
        if excess <= 0:
            return 1
        # A coarser significant-figure step, unless whole numbers (always valid) are finer.
        return min(int(10**excess), self._ticks_per_unit)

    def floor_price(self, ticks: int) -> int:
        """The highest valid price <= ``ticks`` (a bid rounds this way: outward)."""
        step = self._grid_step(ticks)
        return ticks - ticks % step

    def ceil_price(self, ticks: int) -> int:
        """The lowest valid price >= ``ticks`` (an ask rounds this way: outward)."""
        step = self._grid_step(ticks)
        up = -(-ticks // step) * step
        # Rounding up can add a digit (99999.5 → 100000); the result is then a multiple of a
        # larger power of ten and still valid, but check rather than argue.
        while not self.is_valid_price(up):
            up = -(-up // (step * 10)) * (step * 10)
            step *= 10
        return up

    def check_price(self, ticks: int) -> None:
        if not self.min_price_ticks <= ticks <= self.max_price_ticks:
            raise PriceOutOfRangeError(
                f"{self.symbol}: price {self.price_str(ticks) if ticks > 0 else ticks} ticks "
                f"outside [{self.min_price_ticks}, {self.max_price_ticks}] ticks"
            )

    # --- quantities -------------------------------------------------------------------
    def qty_to_lots(self, qty: str | Decimal) -> int:
        """Exact lots of a venue quantity string; an off-grid size raises OffGridQtyError."""
        dec = _decimal(qty, f"{self.symbol} quantity")
        lots, rem = _grid_divmod(dec, self.lot_size, f"{self.symbol} quantity {qty}")
        if rem != 0:
            raise OffGridQtyError(
                f"{self.symbol}: quantity {qty} is not a multiple of the lot step {self.lot_size}"
            )
        return int(lots)

    def lots_to_qty(self, lots: int) -> Decimal:
        return (self.lot_size * lots).quantize(Decimal(1).scaleb(-self.qty_decimals))

    def qty_str(self, lots: int) -> str:
        return f"{self.lots_to_qty(lots):.{self.qty_decimals}f}"

    def check_qty(self, lots: int) -> None:
        if not self.min_qty <= lots <= self.max_qty:
            raise QtyOutOfRangeError(
                f"{self.symbol}: quantity {lots} lots outside [{self.min_qty}, {self.max_qty}] lots"
            )

    # --- base units and notional -------------------------------------------------------
    @property
    def base_per_lot(self) -> Decimal:
        """Base-asset units in one lot (the lot step times the contract size)."""
        return self._base_per_lot  # derived once: notional and every size message read it

    def lots_to_base(self, lots: int) -> Decimal:
        """Base-asset quantity of ``lots`` (what P&L, inventory and the operator count in)."""
        return self.base_per_lot * lots

    @property
    def base_decimals(self) -> int:
        """Decimals of a base-asset quantity (those of one lot in base units)."""
        return _decimals(self.base_per_lot)

    def base_str(self, lots: int) -> str:
        """``lots`` in the base asset, as the operator reads it (``0.004``): on a contract
        venue the contract size counts (OKX: 40 lots of 0.01 contracts of 0.01 BTC)."""
        return f"{self.lots_to_base(lots):.{self.base_decimals}f}"

    def base_to_lots(self, base: Decimal, what: str = "quantity") -> int:
        """Exact lots of a base-asset quantity; not a whole number of lots is an error."""
        lots, rem = _grid_divmod(base, self.base_per_lot, f"{self.symbol} {what} {base}")
        if rem != 0:
            raise OffGridQtyError(
                f"{self.symbol}: {what} {base} {self.base_asset or 'base units'} is not a "
                f"whole number of lots ({self.base_per_lot} each)"
            )
        return int(lots)

    def notional(self, ticks: int, lots: int) -> Decimal:
        """Quote-currency value of ``lots`` at ``ticks``, exact."""
        return self.tick_size * ticks * self.base_per_lot * lots

    def check_order(self, ticks: int, lots: int) -> None:
        """Every venue filter an order must pass: price range, qty range, min notional."""
        self.check_price(ticks)
        self.check_qty(lots)
        if self.notional(ticks, lots) < self.min_notional:
            raise MinNotionalError(
                f"{self.symbol}: notional {self.notional(ticks, lots)} below the minimum "
                f"{self.min_notional} (price {self.price_str(ticks)}, qty {self.qty_str(lots)})"
            )

    def min_lots_for_notional(self, ticks: int) -> int:
        """Smallest lot count at ``ticks`` that meets both min_qty and min notional."""
        memo = self._min_lots
        lots = memo.get(ticks)
        if lots is not None:
            return lots
        if ticks <= 0:
            raise PriceOutOfRangeError(f"{self.symbol}: price must be positive, got {ticks} ticks")
        per_lot = self.tick_size * ticks * self.base_per_lot
        need = (self.min_notional / per_lot).to_integral_value(rounding=ROUND_CEILING)
        lots = max(self.min_qty, int(need))
        _remember(memo, ticks, lots)
        return lots

    # --- serialisation (the journal records the rules the bot traded on) -------------
    def to_json(self) -> dict[str, str | int | None]:
        """The rules as plain JSON values (decimals as strings: exact)."""
        return {
            "symbol": self.symbol,
            "tick_size": str(self.tick_size),
            "lot_size": str(self.lot_size),
            "contract_size": str(self.contract_size),
            "min_qty": self.min_qty,
            "max_qty": self.max_qty,
            "min_notional": str(self.min_notional),
            "min_price_ticks": self.min_price_ticks,
            "max_price_ticks": self.max_price_ticks,
            "base_asset": self.base_asset,
            "quote_asset": self.quote_asset,
            "sig_figs": self.sig_figs,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Instrument:
        """:meth:`to_json` back; InstrumentError naming the problem if malformed."""
        try:
            sig = data.get("sig_figs")
            return cls(
                symbol=str(data["symbol"]),
                tick_size=Decimal(str(data["tick_size"])),
                lot_size=Decimal(str(data["lot_size"])),
                contract_size=Decimal(str(data.get("contract_size", "1"))),
                min_qty=int(str(data["min_qty"])),
                max_qty=int(str(data["max_qty"])),
                min_notional=Decimal(str(data["min_notional"])),
                min_price_ticks=int(str(data["min_price_ticks"])),
                max_price_ticks=int(str(data["max_price_ticks"])),
                base_asset=str(data.get("base_asset", "")),
                quote_asset=str(data.get("quote_asset", "USDT")),
                sig_figs=None if sig is None else int(str(sig)),
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise InstrumentError(
                f"instrument record is malformed: {type(exc).__name__}: {exc}"
            ) from exc

    def ticks_to_float(self, ticks: int) -> float:
        """Price as a float, for models only (never for a price sent to a venue)."""
        return float(self.tick_size) * ticks

    def lots_to_float(self, lots: int) -> float:
        """Base-asset quantity as a float, for models only."""
        return float(self.base_per_lot) * lots


# Instrument facts seen in the shipped recordings and in Binance's exchangeInfo
# (PRICE_FILTER / LOT_SIZE / MIN_NOTIONAL for the perpetuals). One place, not scattered.
BTCUSDT = Instrument(
    symbol="BTCUSDT",
    tick_size=Decimal("0.10"),
    lot_size=Decimal("0.001"),
    min_qty=1,
    max_qty=1_000_000,
    min_notional=Decimal("100"),
    min_price_ticks=2_611,  # minPrice 261.10
    max_price_ticks=8_098_600,  # maxPrice 809860.00
    base_asset="BTC",
)
ETHUSDT = Instrument(
    symbol="ETHUSDT",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.001"),
    min_qty=1,
    max_qty=10_000_000,
    min_notional=Decimal("20"),
    min_price_ticks=3_986,  # minPrice 39.86
    max_price_ticks=30_642_200,  # maxPrice 306422.00
    base_asset="ETH",
)

KNOWN_INSTRUMENTS: dict[str, Instrument] = {i.symbol: i for i in (BTCUSDT, ETHUSDT)}


def instrument_for(symbol: str) -> Instrument:
    try:
        return KNOWN_INSTRUMENTS[symbol.upper()]
    except KeyError:
        raise InstrumentError(
            f"unknown symbol {symbol!r}; known: {', '.join(sorted(KNOWN_INSTRUMENTS))}"
        ) from None
