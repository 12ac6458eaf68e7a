"""``GET /api/v1/user/orders/history``: the account's closed orders (Extended's "Get orders
history").

Closed is Extended's list: FILLED, CANCELLED, REJECTED (a post-only order the matching engine
refused after acceptance included, with its ``statusReason``) and EXPIRED. Filters, each as
Extended documents it: ``market`` (repeatable; another market is 1001), ``type`` (LIMIT,
MARKET, CONDITIONAL, TPSL or TWAP, any case: the sim's orders are all LIMIT), ``side`` (BUY or
SELL, any case), ``id`` and ``externalId`` (repeatable). ``sort`` (the SDK's ``ID`` or
``UPDATED_AT``) orders the list newest first; ``cursor`` is the id of the last order of the
previous page (the next page starts after it), ``limit`` 1..10,000 (100 when absent). The
answer carries ``pagination {cursor, count}``: the cursor is the last order's id. A malformed
parameter is 400 naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mmtrio.sim.account import OrderRecord
from mmtrio.sim.extended import render
from mmtrio.sim.extended.params import Query, bounded_int, market_ok, one
from mmtrio.sim.extended.words import ApiError, Paged

if TYPE_CHECKING:
    from mmtrio.sim.extended.frontend import ExtendedFrontEnd

CLOSED = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED"})
TYPES = frozenset({"LIMIT", "MARKET", "CONDITIONAL", "TPSL", "TWAP"})
HISTORY_MAX = 10_000
SortKey = Callable[[OrderRecord], tuple[int, ...]]
SORTS: dict[str, SortKey] = {
    "ID": lambda r: (r.order_id,),
    "UPDATED_AT": lambda r: (r.update_ms or r.created_ms, r.order_id),
}


def _choice(q: Query, key: str, allowed: frozenset[str]) -> str | None:
    raw = one(q, key)
    if raw is None:
        return None
    if raw.upper() not in allowed:
        raise ApiError(400, f"{key} must be one of {', '.join(sorted(allowed))}, got {raw!r}")
    return raw.upper()


def _ids(q: Query, key: str) -> set[int] | None:
    values = q.get(key)
    if values is None:
        return None
    if not all(v.isascii() and v.isdigit() for v in values):
        raise ApiError(400, f"{key} must be order ids (whole numbers)")
    return {int(v) for v in values}


def closed_orders(front: ExtendedFrontEnd) -> list[tuple[OrderRecord, str]]:
    """Every closed order with its status reason ("" when there is none)."""
    out = [(r, "") for r in front.venue.account.orders.values() if r.status in CLOSED]
    out.extend((rej.record, rej.reason) for rej in front.orders.rejected.values())
    return out


def orders_history(front: ExtendedFrontEnd, q: Query, body: Any, a: list[str]) -> Any:
    """``GET /user/orders/history`` (module docstring)."""
    market_ok(front, q, required=False)
    kind, side = _choice(q, "type", TYPES), _choice(q, "side", frozenset({"BUY", "SELL"}))
    ids, externals = _ids(q, "id"), q.get("externalId")
    sort = SORTS[_choice(q, "sort", frozenset(SORTS)) or "ID"]
    limit = bounded_int(q, "limit", 100, HISTORY_MAX)
    cursor = one(q, "cursor")
    if cursor is not None and not (cursor.isascii() and cursor.isdigit()):
        raise ApiError(400, "cursor must be an order id")
    rows = [
        (rec, reason)
        for rec, reason in closed_orders(front)
        if kind in (None, "LIMIT")
        and (side is None or rec.side.value == side)
        and (ids is None or rec.order_id in ids)
        and (externals is None or rec.client_id in externals)
    ]
    rows.sort(key=lambda row: sort(row[0]), reverse=True)
    if cursor is not None:
        after = next((i for i, (r, _) in enumerate(rows) if r.order_id == int(cursor)), None)
        if after is None:
            raise ApiError(400, f"cursor {cursor} is not an order of this list")
        rows = rows[after + 1 :]
    page = [render.order_json(front.venue, rec, reason) for rec, reason in rows[:limit]]
    return Paged(page, page[-1]["id"] if page else None)
