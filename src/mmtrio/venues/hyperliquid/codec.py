"""The pure codec's shared pieces: JSON, number strings, sides, trade ids, our order records.

Pure (no I/O, no clock): the live connector and the simulated venue's front end run the
same functions. Strings from the venue become integers (ticks, lots) here through the
instrument, exactly; an off-grid size, or a price off the venue's finest grid, is a
ProtocolError naming the field (a valid price finer than the session's tick is rounded onto
it: :func:`ticks_of`, :mod:`.price_grid`).

**Number strings.** Hyperliquid hashes the action as sent, and its own servers write numbers
without trailing zeros ("60000", "0.001", never "60000.0"): the SDK's ``float_to_wire``
normalises, and an action with "60000.0" is signed over different bytes than the venue
re-encodes, so its signature recovers a wrong address. :func:`wire_number` is that
normalisation, done on Decimals (no float ever decides a price).

**Trade ids.** Hyperliquid's ``tid`` identifies a fill but does not increase with time (two
fills of the same millisecond seen with tids 952357507764053 then 1109260071634171, in the
other order too: passivbot PR #1428). The seam's fill watermark needs ids that increase
(:meth:`mmtrio.venues.protocol.Gateway.user_trades`), so a fill's neutral ``trade_id`` is
``(time_ms − 2024-01-01) << 24 | (tid mod 2^24)``: increasing across milliseconds, unique
within one (two of our fills in the same millisecond collide only when their tids agree in
24 bits, p ≈ 6e-8 per pair), deterministic (the stream and ``/info`` give the same id), and
within SQLite's 63 bits until 2041. ``user_trades`` reads from the start of the watermark's
millisecond, so a fill of the same millisecond with a lower id is never skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import orjson

from mmtrio.core.events import Side, TimeInForce
from mmtrio.core.instruments import Instrument
from mmtrio.errors import InstrumentError, OffGridPriceError, ProtocolError

TRADE_ID_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
TRADE_ID_TID_BITS = 24
QUOTE_ASSET = "USDC"
MIN_NOTIONAL = Decimal(10)  # "Order must have minimum value of $10." (Error responses)
MAX_DECIMALS_PERP = 6  # a perp price has at most 6 − szDecimals decimals
SIG_FIGS = 5  # … and at most 5 significant figures (integers always allowed)

TIF_WIRE: dict[TimeInForce, str] = {
    TimeInForce.POST_ONLY: "Alo",
    TimeInForce.IOC: "Ioc",
    TimeInForce.GTC: "Gtc",
}
TIF_OF_WIRE = {v: k for k, v in TIF_WIRE.items()}


def loads(raw: bytes | str, what: str = "message") -> Any:
    """Parse JSON; a decode failure is a ProtocolError naming ``what``."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"{what}: not valid JSON ({exc})") from None


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def wire_number(value: Decimal) -> str:
    """``value`` as Hyperliquid writes numbers: no exponent, no trailing zeros."""
    if not value.is_finite():
        raise ProtocolError(f"{value} is not a finite number")
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "") else text


def price_wire(inst: Instrument, ticks: int) -> str:
    return wire_number(inst.ticks_to_price(ticks))


def size_wire(inst: Instrument, lots: int) -> str:
    return wire_number(inst.lots_to_qty(lots))


def field(obj: Any, key: str, what: str) -> Any:
    """``obj[key]``; ProtocolError naming ``what`` and the key when absent or not an object."""
    if not isinstance(obj, dict):
        raise ProtocolError(f"{what}: expected an object, got {type(obj).__name__}")
    try:
        return obj[key]
    except KeyError:
        raise ProtocolError(f"{what}: missing {key!r}") from None


def decimal_of(value: Any, what: str) -> Decimal:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ProtocolError(f"{what}: expected a decimal string, got {value!r}")
    try:
        dec = Decimal(value)
    except (InvalidOperation, ValueError):
        raise ProtocolError(f"{what}: {value!r} is not a number") from None
    if not dec.is_finite():
        raise ProtocolError(f"{what}: {value!r} is not finite")
    return dec


def int_of(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{what}: expected an integer, got {value!r}")
    return value


def ticks_of(inst: Instrument, value: Any, what: str, rounding: str = ROUND_HALF_EVEN) -> int:
    """Ticks of a venue price. The instrument's tick is the venue's step where the session
    started (:mod:`.price_grid`), so a price the venue accepts may be finer (after the price
    fell through a power of ten, or a fill at a maker's finer price): it is rounded onto the
    tick with ``rounding`` (book levels pass ROUND_FLOOR for bids, ROUND_CEILING for asks:
    outward). A price finer than the venue's finest step (``6 − szDecimals`` decimals; the
    lot is ``10^−szDecimals``) is malformed: ProtocolError."""
    dec = decimal_of(value, what)
    try:
        return inst.price_to_ticks(dec)
    except OffGridPriceError as exc:
        finest = Decimal(1).scaleb(-(MAX_DECIMALS_PERP - inst.qty_decimals))
        if dec <= 0 or dec % finest != 0:
            raise ProtocolError(f"{what}: {exc}") from None
    except InstrumentError as exc:
        raise ProtocolError(f"{what}: {exc}") from None
    return int((dec / inst.tick_size).to_integral_value(rounding=rounding))


def lots_of(inst: Instrument, value: Any, what: str) -> int:
    dec = decimal_of(value, what)
    try:
        return inst.qty_to_lots(dec)
    except InstrumentError as exc:
        raise ProtocolError(f"{what}: {exc}") from None


def side_of(value: Any, what: str) -> Side:
    """``"B"`` (bid, buy) or ``"A"`` (ask, sell)."""
    if value == "B":
        return Side.BUY
    if value == "A":
        return Side.SELL
    raise ProtocolError(f"{what}: side must be 'B' or 'A', got {value!r}")


def fill_trade_id(time_ms: int, tid: int) -> int:
    """The neutral, increasing trade id of a fill (module docstring)."""
    if time_ms < TRADE_ID_EPOCH_MS:
        raise ProtocolError(f"fill time {time_ms} is before 2024: not a Hyperliquid fill time")
    return ((time_ms - TRADE_ID_EPOCH_MS) << TRADE_ID_TID_BITS) | (tid % (1 << TRADE_ID_TID_BITS))


def trade_id_time_ms(trade_id: int) -> int:
    """The millisecond a neutral trade id was made from."""
    return (trade_id >> TRADE_ID_TID_BITS) + TRADE_ID_EPOCH_MS


@dataclass(frozen=True, slots=True)
class OrderState:
    """One of our orders as the venue states it (openOrders, orderStatus, orderUpdates)."""

    coin: str
    cloid: str  # "" for an order placed without one (not ours)
    oid: int
    side: Side
    price: int  # ticks
    orig_qty: int  # lots
    remaining: int  # lots
    status: str  # the venue's word: open, filled, canceled, …Rejected, …Canceled
    ts: int
    reduce_only: bool = False
    tif: TimeInForce | None = None

    @property
    def filled(self) -> int:
        return self.orig_qty - self.remaining
