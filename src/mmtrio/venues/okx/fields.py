"""Strict field accessors for OKX payloads (pure, no I/O).

OKX prints almost every number as a JSON string (prices, sizes, times, ids) and uses ``""``
for "not applicable"; the book's ``seqId``/``prevSeqId``/``checksum`` are JSON integers.
Every accessor names the payload kind and the field in its ProtocolError. ``Decimal`` is
used only here, at the boundary: prices and sizes leave as integer ticks and lots through
the instrument's exact conversions, memoised (the same price strings recur on every book
message; the memo is bounded, so a long run has flat memory).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from mmtrio.core.instruments import Instrument
from mmtrio.errors import InstrumentError, ProtocolError
from mmtrio.venues.fields import (
    Obj,
    field,
    get_dec,
    get_int,
    get_list,
    get_obj,
    get_str,
    signed_ascii_int,
)


def get_int_str(obj: Obj, key: str, kind: str) -> int:
    """An integer printed as a string (times, order and trade ids): ``"1597026383085"``."""
    val = get_str(obj, key, kind)
    num = signed_ascii_int(val)
    if num is None:
        raise ProtocolError(f"{kind}: field {key!r} must be an integer string, got {val!r}")
    return num


def opt_int_str(obj: Obj, key: str, kind: str) -> int | None:
    """Like :func:`get_int_str`, but ``""`` or a missing field is None."""
    if obj.get(key, "") == "":
        return None
    return get_int_str(obj, key, kind)


def opt_dec(obj: Obj, key: str, kind: str) -> Decimal | None:
    """Like :func:`get_dec`, but ``""`` or a missing field is None."""
    if obj.get(key, "") == "":
        return None
    return get_dec(obj, key, kind)


def get_bool_str(obj: Obj, key: str, kind: str) -> bool:
    """``"true"``/``"false"`` (OKX prints ``reduceOnly`` as a string); a JSON bool too."""
    val = field(obj, key, kind)
    if isinstance(val, bool):
        return val
    if isinstance(val, str) and val in ("true", "false"):
        return val == "true"
    raise ProtocolError(f'{kind}: field {key!r} must be "true" or "false", got {val!r}')


def get_choice(obj: Obj, key: str, kind: str, choices: Mapping[str, Any]) -> Any:
    """An OKX enum string → the neutral value ``choices`` maps it to."""
    val = get_str(obj, key, kind)
    try:
        return choices[val]
    except KeyError:
        raise ProtocolError(
            f"{kind}: field {key!r} is {val!r}, expected one of {', '.join(choices)}"
        ) from None


def single(data: list[Any], kind: str) -> Obj:
    """The one object of a ``data`` array that must hold exactly one."""
    if len(data) != 1 or not isinstance(data[0], dict):
        raise ProtocolError(f"{kind}: expected exactly one object in 'data', got {len(data)}")
    obj: Obj = data[0]
    return obj


class InstrumentCodec:
    """An instrument's exact price/size conversions behind a bounded memo."""

    __slots__ = ("instrument", "px", "sz")

    def __init__(self, instrument: Instrument, cache_size: int = 65_536) -> None:
        self.instrument = instrument
        self.px: Callable[[str], int] = lru_cache(maxsize=cache_size)(instrument.price_to_ticks)
        self.sz: Callable[[str], int] = lru_cache(maxsize=cache_size)(instrument.qty_to_lots)

    def price(self, obj: Obj, key: str, kind: str) -> int:
        return self._convert(self.px, obj, key, kind)

    def size(self, obj: Obj, key: str, kind: str) -> int:
        return self._convert(self.sz, obj, key, kind)

    @staticmethod
    def _convert(conv: Callable[[str], int], obj: Obj, key: str, kind: str) -> int:
        val = get_str(obj, key, kind)
        try:
            return conv(val)
        except InstrumentError as exc:
            raise ProtocolError(f"{kind}: field {key!r}: {exc}") from exc


# The shared readers are re-exported: this package's codecs import them from here.
__all__ = [
    "InstrumentCodec",
    "Obj",
    "field",
    "get_bool_str",
    "get_choice",
    "get_dec",
    "get_int",
    "get_int_str",
    "get_list",
    "get_obj",
    "get_str",
    "opt_dec",
    "opt_int_str",
    "single",
]
