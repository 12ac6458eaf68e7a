"""Strict field accessors shared by the Binance codec modules (pure, no I/O).

The readers every venue shares come from :mod:`mmtrio.venues.fields` (re-exported here);
this module adds Binance's own: lenient integers, instrument conversions, book levels,
fill-size checks and enums.

Every accessor names the payload kind and the field in its ProtocolError, so an operator
reading the log knows which message broke and why. ``Decimal`` is used only here, at the
boundary; prices and sizes leave as integer ticks and lots.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import TypeVar

from mmtrio.core.events import ExecType, Level, OrderStatus, TimeInForce
from mmtrio.core.instruments import Instrument
from mmtrio.errors import InstrumentError, ProtocolError
from mmtrio.venues.fields import (
    Obj,
    ascii_int,
    field,
    get_bool,
    get_dec,
    get_int,
    get_list,
    get_obj,
    get_str,
)

E = TypeVar("E", bound=enum.Enum)


def get_int_lenient(obj: Obj, key: str, kind: str) -> int:
    """An integer that some endpoints print as a string (``countdownTime``, newer ``E``)."""
    val = field(obj, key, kind)
    if type(val) is int:
        return val
    if isinstance(val, str) and (num := ascii_int(val)) is not None:
        return num
    raise ProtocolError(f"{kind}: field {key!r} must be an integer, got {val!r}")


def convert(conv: Callable[[str], int], obj: Obj, key: str, kind: str) -> int:
    """Run an instrument conversion (price→ticks, qty→lots), naming the field on failure."""
    val = field(obj, key, kind)
    if not isinstance(val, str):
        raise ProtocolError(f"{kind}: field {key!r} must be a decimal string, got {val!r}")
    try:
        return conv(val)
    except InstrumentError as exc:
        raise ProtocolError(f"{kind}: field {key!r}: {exc}") from exc


def lots(
    conv: Callable[[str], int], obj: Obj, key: str, kind: str, *, positive: bool = False
) -> int:
    """A size (lots) that cannot be negative — or, with ``positive``, zero (a fill, a trade)."""
    n = convert(conv, obj, key, kind)
    if n < 0 or (positive and n == 0):
        need = "be positive" if positive else "not be negative"
        raise ProtocolError(f"{kind}: field {key!r} must {need}, got {obj[key]!r}")
    return n


def price(
    conv: Callable[[str], int], obj: Obj, key: str, kind: str, *, zero_ok: bool = False
) -> int:
    """A price (ticks) that must be positive — or, with ``zero_ok``, may be 0 (a market
    order's price field, an unfilled order's last fill price)."""
    n = convert(conv, obj, key, kind)
    if n < 0 or (n == 0 and not zero_ok):
        need = "not be negative" if zero_ok else "be positive"
        raise ProtocolError(f"{kind}: field {key!r} must {need}, got {obj[key]!r}")
    return n


def positive_dec(obj: Obj, key: str, kind: str) -> Decimal:
    """A money amount that must be above zero (a mark or index price)."""
    dec = get_dec(obj, key, kind)
    if dec <= 0:
        raise ProtocolError(f"{kind}: field {key!r} must be positive, got {obj[key]!r}")
    return dec


def levels(
    obj: Obj, key: str, kind: str, px: Callable[[str], int], qty: Callable[[str], int]
) -> tuple[Level, ...]:
    """A side of a book: ``[["price","qty"], ...]`` → ((ticks, lots), ...).

    A price must be positive and a size not negative (0 deletes the level): a book built
    from anything else would quote against levels that cannot exist."""
    raw = get_list(obj, key, kind)
    out: list[Level] = []
    append = out.append
    try:
        for p, q in raw:
            if type(p) is not str or type(q) is not str:
                raise TypeError
            level = (px(p), qty(q))
            if level[0] <= 0 or level[1] < 0:
                what = f"price {p}" if level[0] <= 0 else f"negative size {q}"
                raise ProtocolError(f"{kind}: field {key!r}: level [{p}, {q}] has a {what}")
            append(level)
    except (ValueError, TypeError):
        raise ProtocolError(f"{kind}: field {key!r} must be a list of [price, qty] pairs") from None
    except InstrumentError as exc:
        raise ProtocolError(f"{kind}: field {key!r}: {exc}") from exc
    return tuple(out)


def check_fill_sizes(kind: str, qty: int, cum_qty: int, last: int | None) -> None:
    """An order's sizes as a venue can report them: the last fill within the cumulative
    filled size, and both within the order's size. A 5,000-lot fill on a 2-lot order is a
    corrupt message (so is any fill of an order of size 0: the bot never sends one)."""
    if last is not None and last > qty:
        raise ProtocolError(f"{kind}: fill of {last} lots exceeds its order of {qty} lots")
    if cum_qty > qty:
        raise ProtocolError(
            f"{kind}: filled {cum_qty} lots in all, more than its order of {qty} lots"
        )
    if last is not None and last > cum_qty:
        raise ProtocolError(
            f"{kind}: last fill {last} lots exceeds its cumulative filled {cum_qty} lots"
        )


class InstrumentCodec:
    """An instrument's exact price/qty conversions behind a bounded memo.

    The same few hundred price strings recur on every depth message; memoising the exact
    ``Decimal`` conversion keeps the hot path cheap without changing a result (errors are
    not cached: they propagate). The cache is bounded, so a 24 h run has flat memory.
    """

    __slots__ = ("instrument", "px", "qty")

    def __init__(self, instrument: Instrument, cache_size: int = 65_536) -> None:
        self.instrument = instrument
        self.px: Callable[[str], int] = lru_cache(maxsize=cache_size)(instrument.price_to_ticks)
        self.qty: Callable[[str], int] = lru_cache(maxsize=cache_size)(instrument.qty_to_lots)


def get_enum(obj: Obj, key: str, kind: str, cls: type[E]) -> E:
    """A venue enum string whose values are the core's (side) → the core enum."""
    val = get_str(obj, key, kind)
    try:
        return cls(val)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        raise ProtocolError(
            f"{kind}: field {key!r} is {val!r}, expected one of {allowed}"
        ) from None


def get_mapped(obj: Obj, key: str, kind: str, mapping: Mapping[str, E]) -> E:
    """A Binance enum string → the core's neutral value, through one of the maps below."""
    val = get_str(obj, key, kind)
    try:
        return mapping[val]
    except KeyError:
        raise ProtocolError(
            f"{kind}: field {key!r} is {val!r}, expected one of {', '.join(mapping)}"
        ) from None


# Binance's words → the core's neutral values (PROTOCOL.md "Trading", "User data stream").
TIME_IN_FORCE: dict[str, TimeInForce] = {
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "GTX": TimeInForce.POST_ONLY,  # post-only: rejected (-5022) instead of taking
}
TIME_IN_FORCE_TEXT: dict[TimeInForce, str] = {v: k for k, v in TIME_IN_FORCE.items()}
ORDER_STATUS: dict[str, OrderStatus] = {
    "NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,  # expired by self-trade prevention
    "REJECTED": OrderStatus.REJECTED,
}
EXEC_TYPE: dict[str, ExecType] = {
    "NEW": ExecType.NEW,
    "CANCELED": ExecType.CANCELED,
    # A liquidation/ADL execution: it carries a trade like TRADE does, so it is booked as one.
    "CALCULATED": ExecType.TRADE,
    "EXPIRED": ExecType.EXPIRED,
    "TRADE": ExecType.TRADE,
    "AMENDMENT": ExecType.AMENDMENT,
}


InstrumentLookup = Callable[[str, str], InstrumentCodec]
"""``lookup(symbol, kind)`` → the symbol's codec, or ProtocolError for an unknown symbol."""


# The shared readers are re-exported: this package's codecs import them from here.
__all__ = [
    "InstrumentCodec",
    "Obj",
    "ascii_int",
    "check_fill_sizes",
    "convert",
    "field",
    "get_bool",
    "get_dec",
    "get_enum",
    "get_int",
    "get_int_lenient",
    "get_list",
    "get_mapped",
    "get_obj",
    "get_str",
    "levels",
    "lots",
    "positive_dec",
    "price",
]
