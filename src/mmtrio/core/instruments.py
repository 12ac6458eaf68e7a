"""Instrument definitions and exact conversion between venue strings and integer ticks/lots.

Inside the core a price is an ``int`` number of ticks and a size an ``int`` number of lot
steps. Conversion happens only at the venue boundary, through ``Decimal``, and is exact: a
string that is not a whole number of ticks (or lots) is an error, never rounded silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from mmtrio.errors import (
    InstrumentError,
    MinNotionalError,
    OffGridPriceError,
    OffGridQtyError,
    PriceOutOfRangeError,
    QtyOutOfRangeError,
)


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

    def __post_init__(self) -> None:
        if not self.symbol:
            raise InstrumentError("instrument symbol is empty")
        for name in ("tick_size", "lot_size"):
            val = getattr(self, name)
            if not isinstance(val, Decimal) or not val.is_finite() or val <= 0:
                raise InstrumentError(
                    f"{self.symbol}: {name} must be a positive Decimal, got {val!r}"
                )
        if self.min_notional < 0:
            raise InstrumentError(
                f"{self.symbol}: min_notional must be >= 0, got {self.min_notional}"
            )
        if not 1 <= self.min_qty <= self.max_qty:
            raise InstrumentError(
                f"{self.symbol}: need 1 <= min_qty <= max_qty (lots), "
                f"got {self.min_qty}, {self.max_qty}"
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
        return _decimals(self.tick_size)

    @property
    def qty_decimals(self) -> int:
        return _decimals(self.lot_size)

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
        return (self.tick_size * ticks).quantize(Decimal(1).scaleb(-self.price_decimals))

    def price_str(self, ticks: int) -> str:
        """The venue string for a price in ticks (e.g. 281451 → '28145.10' for tick 0.10)."""
        return f"{self.ticks_to_price(ticks):.{self.price_decimals}f}"

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

    # --- notional ---------------------------------------------------------------------
    def notional(self, ticks: int, lots: int) -> Decimal:
        """Quote-currency value of ``lots`` at ``ticks``, exact."""
        return self.tick_size * ticks * self.lot_size * lots

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
        if ticks <= 0:
            raise PriceOutOfRangeError(f"{self.symbol}: price must be positive, got {ticks} ticks")
        per_lot = self.tick_size * ticks * self.lot_size
        need = (self.min_notional / per_lot).to_integral_value(rounding=ROUND_CEILING)
        return max(self.min_qty, int(need))

    def ticks_to_float(self, ticks: int) -> float:
        """Price as a float, for models only (never for a price sent to a venue)."""
        return float(self.tick_size) * ticks

    def lots_to_float(self, lots: int) -> float:
        return float(self.lot_size) * lots


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
