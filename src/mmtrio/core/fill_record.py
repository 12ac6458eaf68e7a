"""A fill as the journal keeps it: the payload written for every booked fill, and the
:class:`~mmtrio.core.events.Fill` read back from it.

One definition for the writer (``runtime.journal_schema``), the start-up's reader
(``runtime.journal_view``) and the reports (``reporting.journal_read``, which may not import
the runtime). The payload holds the fill's fields (the side as its enum, the fee as a
Decimal: the journal's encoder writes their values) and the best bid and ask in ticks at
booking time (``None`` when the book had no touch), for spread capture; the fill's venue time
is the record's ``exchange_ts_ms``, not a payload field.

:func:`fill_from_payload` is strict: a missing or mistyped field raises one of
:data:`MALFORMED` (KeyError, ValueError, TypeError, decimal.InvalidOperation), which each
reader turns into an error naming the record. A fill is money: it is never read with a
default in place of a field it lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from mmtrio.core.events import Fill, Side

MALFORMED = (KeyError, ValueError, TypeError, InvalidOperation)
"""What :func:`fill_from_payload` raises on a payload that is not a fill record."""


def fill_payload(f: Fill, bid: int | None = None, ask: int | None = None) -> dict[str, Any]:
    """The journal payload of ``f``, with the touch (ticks) at booking time."""
    return {
        "symbol": f.symbol,
        "trade_id": f.trade_id,
        "client_id": f.client_id,
        "order_id": f.order_id,
        "side": f.side,
        "price": f.price,
        "qty": f.qty,
        "fee": f.fee,
        "fee_asset": f.fee_asset,
        "is_maker": f.is_maker,
        "bid": bid,
        "ask": ask,
    }


def _int(p: Mapping[str, Any], key: str) -> int:
    value = p[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"fill field {key!r} must be an integer, got {value!r}")
    return value


def _str(p: Mapping[str, Any], key: str) -> str:
    value = p[key]
    if not isinstance(value, str):
        raise TypeError(f"fill field {key!r} must be a string, got {value!r}")
    return value


def fill_from_payload(p: Mapping[str, Any], ts: int) -> Fill:
    """The fill a journal payload records, stamped ``ts`` (module docstring: strict)."""
    is_maker = p["is_maker"]
    if not isinstance(is_maker, bool):
        raise TypeError(f"fill field 'is_maker' must be true or false, got {is_maker!r}")
    fee = p["fee"]
    if isinstance(fee, bool) or not isinstance(fee, (str, int, float)):
        raise TypeError(f"fill field 'fee' must be a decimal string, got {fee!r}")
    return Fill(
        symbol=_str(p, "symbol"),
        trade_id=_int(p, "trade_id"),
        client_id=_str(p, "client_id"),
        order_id=_int(p, "order_id"),
        side=Side(p["side"]),
        price=_int(p, "price"),
        qty=_int(p, "qty"),
        fee=Decimal(str(fee)),
        fee_asset=_str(p, "fee_asset"),
        is_maker=is_maker,
        ts=ts,
    )


def touch_of(p: Mapping[str, Any]) -> tuple[int, int] | None:
    """The recorded best bid and ask (ticks), or None when the record has no two-sided touch."""
    bid, ask = p.get("bid"), p.get("ask")
    if isinstance(bid, int) and isinstance(ask, int) and bid > 0 and ask > 0:
        return bid, ask
    return None
