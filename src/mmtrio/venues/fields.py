"""Strict field accessors every venue codec shares (pure, no I/O).

Every accessor names the payload kind and the field in its ProtocolError, so an operator
reading the log knows which message broke and why; a missing or mistyped field is never
replaced by a default. ``Decimal`` is used only at this boundary: prices and sizes leave the
codecs as integer ticks and lots. Each venue package adds the readers only it needs (OKX's
``""`` for "not applicable", Extended's ids printed as text, Binance's enums) in its own
fields module.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from mmtrio.errors import ProtocolError

Obj = Mapping[str, Any]


def field(obj: Obj, key: str, kind: str) -> Any:
    """``obj[key]`` or a ProtocolError naming the missing field (or the non-object payload)."""
    if not isinstance(obj, Mapping):
        raise ProtocolError(f"{kind}: payload is {type(obj).__name__}, expected an object")
    try:
        return obj[key]
    except KeyError:
        raise ProtocolError(f"{kind}: missing field {key!r}") from None


def get_str(obj: Obj, key: str, kind: str) -> str:
    val = field(obj, key, kind)
    if not isinstance(val, str):
        raise ProtocolError(f"{kind}: field {key!r} must be a string, got {val!r}")
    return val


def get_bool(obj: Obj, key: str, kind: str) -> bool:
    val = field(obj, key, kind)
    if not isinstance(val, bool):
        raise ProtocolError(f"{kind}: field {key!r} must be true/false, got {val!r}")
    return val


def get_obj(obj: Obj, key: str, kind: str) -> Obj:
    val = field(obj, key, kind)
    if not isinstance(val, Mapping):
        raise ProtocolError(f"{kind}: field {key!r} must be an object, got {type(val).__name__}")
    return val


def get_list(obj: Obj, key: str, kind: str) -> list[Any]:
    val = field(obj, key, kind)
    if not isinstance(val, list):
        raise ProtocolError(f"{kind}: field {key!r} must be a list, got {type(val).__name__}")
    return val


def get_int(obj: Obj, key: str, kind: str) -> int:
    """A JSON integer; ``true``/``false`` (an int subclass in Python) is not a number here."""
    val = field(obj, key, kind)
    if type(val) is not int:
        raise ProtocolError(f"{kind}: field {key!r} must be an integer, got {val!r}")
    return val


def ascii_int(text: str) -> int | None:
    """A non-negative decimal integer written in ASCII digits, else None.

    ``str.isdigit`` is not enough: it is true for "²" and "١", which ``int`` then refuses
    (or, for "١", reads as 1: no venue writes those, so they are not numbers here either).
    """
    if text and text.isascii() and text.isdigit():
        return int(text)
    return None


def signed_ascii_int(text: str) -> int | None:
    """Like :func:`ascii_int`, with one optional leading minus sign ("-12"; not "--12")."""
    if text.startswith("-"):
        num = ascii_int(text[1:])
        return None if num is None else -num
    return ascii_int(text)


def get_dec(obj: Obj, key: str, kind: str) -> Decimal:
    """A money amount (not on the price grid) printed as a decimal string."""
    val = get_str(obj, key, kind)
    return parse_dec(val, key, kind)


def parse_dec(val: str | int, key: str, kind: str) -> Decimal:
    """``val`` as a finite Decimal, or a ProtocolError naming the field."""
    try:
        dec = Decimal(val)
    except InvalidOperation:
        raise ProtocolError(f"{kind}: field {key!r} is not a decimal number: {val!r}") from None
    if not dec.is_finite():
        raise ProtocolError(f"{kind}: field {key!r} is not finite: {val!r}")
    return dec


__all__ = [
    "Obj",
    "ascii_int",
    "field",
    "get_bool",
    "get_dec",
    "get_int",
    "get_list",
    "get_obj",
    "get_str",
    "parse_dec",
    "signed_ascii_int",
]
