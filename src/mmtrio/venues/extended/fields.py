"""Strict accessors for Extended's JSON payloads (pure, no I/O).

Every accessor names the payload and the field in its ProtocolError, so the log says which
message broke and why; a missing or mistyped field is never replaced by a default. Extended
prints prices, sizes and money as decimal strings and ids and times as integers (some ids,
such as ``nonce``, as strings of digits): :func:`get_int` accepts both for ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from mmtrio.core.instruments import Instrument
from mmtrio.errors import InstrumentError, ProtocolError

Obj = Mapping[str, Any]


def loads(raw: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"{what}: not JSON ({exc})") from None


def field(obj: Any, key: str, kind: str) -> Any:
    if not isinstance(obj, Mapping):
        raise ProtocolError(f"{kind}: payload is {type(obj).__name__}, expected an object")
    try:
        return obj[key]
    except KeyError:
        raise ProtocolError(f"{kind}: missing field {key!r}") from None


def get_obj(obj: Any, key: str, kind: str) -> Obj:
    val = field(obj, key, kind)
    if not isinstance(val, Mapping):
        raise ProtocolError(f"{kind}: field {key!r} must be an object, got {val!r}")
    return val


def get_list(obj: Any, key: str, kind: str) -> list[Any]:
    val = field(obj, key, kind)
    if not isinstance(val, list):
        raise ProtocolError(f"{kind}: field {key!r} must be a list, got {val!r}")
    return val


def get_str(obj: Any, key: str, kind: str) -> str:
    val = field(obj, key, kind)
    if not isinstance(val, str):
        raise ProtocolError(f"{kind}: field {key!r} must be a string, got {val!r}")
    return val


def get_bool(obj: Any, key: str, kind: str) -> bool:
    val = field(obj, key, kind)
    if not isinstance(val, bool):
        raise ProtocolError(f"{kind}: field {key!r} must be true or false, got {val!r}")
    return val


def get_int(obj: Any, key: str, kind: str) -> int:
    """An integer, or a string of digits (Extended prints some ids as text)."""
    val = field(obj, key, kind)
    if type(val) is int:
        return val
    if isinstance(val, str) and val.lstrip("-").isdigit():
        return int(val)
    raise ProtocolError(f"{kind}: field {key!r} must be an integer, got {val!r}")


def get_dec(obj: Any, key: str, kind: str) -> Decimal:
    val = field(obj, key, kind)
    if isinstance(val, bool) or not isinstance(val, str | int):
        raise ProtocolError(f"{kind}: field {key!r} must be a decimal string, got {val!r}")
    try:
        dec = Decimal(val)
    except InvalidOperation:
        raise ProtocolError(f"{kind}: field {key!r} is not a number: {val!r}") from None
    if not dec.is_finite():
        raise ProtocolError(f"{kind}: field {key!r} is not finite: {val!r}")
    return dec


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
