"""Strict accessors for Extended's JSON payloads (pure, no I/O).

Every accessor names the payload and the field in its ProtocolError, so the log says which
message broke and why; a missing or mistyped field is never replaced by a default. Extended
prints prices, sizes and money as decimal strings and ids and times as integers (some ids,
such as ``nonce``, as strings of digits): :func:`get_int` accepts both for ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from mmtrio.core.instruments import Instrument
from mmtrio.errors import InstrumentError, ProtocolError
from mmtrio.venues.fields import (
    Obj,
    field,
    get_bool,
    get_list,
    get_obj,
    get_str,
    parse_dec,
    signed_ascii_int,
)


def loads(raw: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"{what}: not JSON ({exc})") from None


def get_int(obj: Any, key: str, kind: str) -> int:
    """An integer, or a string of digits (Extended prints some ids as text)."""
    val = field(obj, key, kind)
    if type(val) is int:
        return val
    if isinstance(val, str) and (num := signed_ascii_int(val)) is not None:
        return num
    raise ProtocolError(f"{kind}: field {key!r} must be an integer, got {val!r}")


def get_dec(obj: Any, key: str, kind: str) -> Decimal:
    val = field(obj, key, kind)
    if isinstance(val, bool) or not isinstance(val, str | int):
        raise ProtocolError(f"{kind}: field {key!r} must be a decimal string, got {val!r}")
    return parse_dec(val, key, kind)


def opt_dec(obj: Any, key: str, kind: str) -> Decimal | None:
    """A decimal that may be absent or null."""
    if isinstance(obj, Mapping) and obj.get(key) is None:
        return None
    return get_dec(obj, key, kind)


def ticks(inst: Instrument, obj: Any, key: str, kind: str) -> int:
    try:
        return inst.price_to_ticks(get_dec(obj, key, kind))
    except InstrumentError as exc:
        raise ProtocolError(f"{kind}: {exc}") from None


def lots(inst: Instrument, obj: Any, key: str, kind: str) -> int:
    """Exact lots of a size (negative for a delta that shrinks a level)."""
    try:
        return inst.qty_to_lots(get_dec(obj, key, kind))
    except InstrumentError as exc:
        raise ProtocolError(f"{kind}: {exc}") from None


# The shared readers are re-exported: this package's codecs import them from here.
__all__ = [
    "Obj",
    "field",
    "get_bool",
    "get_dec",
    "get_int",
    "get_list",
    "get_obj",
    "get_str",
    "loads",
    "lots",
    "opt_dec",
    "ticks",
]
