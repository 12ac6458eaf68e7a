"""``GET /api/v5/trade/orders-history``: the account's closed orders, as OKX keeps them.

OKX (v5 docs, "Get order history (last 7 days)"): orders completed in the last 7 days,
filled or cancelled; an order cancelled without any fill is kept only 2 hours. The sim's
window runs on the market clock (the clock its order times are on). Parameters: ``instType``
(required; only SWAP lists anything), ``instFamily``/``uly``/``instId`` (the swap, else
nothing), ``ordType`` (a comma list), ``state`` (``filled``, ``canceled``;
``mmp_canceled`` lists nothing: the sim has no market-maker protection), ``begin``/``end``
(ms, on the creation time), ``after``/``before`` (an ``ordId``: the page older / newer than
it), ``limit`` 1-100. Newest first, by creation time. Each order is the same object the
``orders`` push and ``trade/order`` render (one ``cancelSource`` for all three).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmtrio.core.events import OrderStatus
from mmtrio.sim.okx.wire import OkxError, int_param

if TYPE_CHECKING:
    from mmtrio.sim.account import OrderRecord
    from mmtrio.sim.okx.frontend import OkxFrontEnd

Params = dict[str, str]
KEPT_MS = 7 * 86_400_000
UNFILLED_CANCEL_KEPT_MS = 2 * 3_600_000
PAGE_MAX = 100
CLOSED = {
    OrderStatus.FILLED.value: "filled",
    OrderStatus.CANCELED.value: "canceled",
    OrderStatus.EXPIRED.value: "canceled",
    OrderStatus.REJECTED.value: "canceled",
}
STATES = ("filled", "canceled", "mmp_canceled")


def _kept(rec: OrderRecord, now: int) -> bool:
    age = now - rec.update_ms
    if rec.status != OrderStatus.FILLED.value and rec.cum_qty == 0:
        return age <= UNFILLED_CANCEL_KEPT_MS
    return age <= KEPT_MS


def orders_history(front: OkxFrontEnd, params: Params) -> list[Any]:
    """The closed orders (module docstring)."""
    inst_type = params.get("instType", "")
    if inst_type == "":
        raise OkxError("50014", "Parameter instType can not be empty")
    state = params.get("state", "")
    if state not in ("", *STATES):
        raise OkxError("51000", "Parameter state error")
    limit = int_param(params, "limit")
    if limit is not None and not 1 <= limit <= PAGE_MAX:
        raise OkxError("51000", "Parameter limit error")
    begin, end = int_param(params, "begin"), int_param(params, "end")
    after, before = int_param(params, "after"), int_param(params, "before")
    family = f"{front.inst.base_asset}-USDT"
    if (
        inst_type != "SWAP"
        or params.get("instId", "") not in ("", front.symbol)
        or params.get("instFamily", "") not in ("", family)
        or params.get("uly", "") not in ("", family)
        or state == "mmp_canceled"
    ):
        return []
    types = {t for t in params.get("ordType", "").split(",") if t}
    venue, streams = front.venue, front.streams
    now = venue.market_ts
    rows: list[tuple[OrderRecord, dict[str, Any]]] = []
    for rec in venue.account.orders.values():
        said = CLOSED.get(rec.status)
        if said is None or (state and said != state) or not _kept(rec, now):
            continue
        created = venue.out_ts(rec.created_ms)
        if (begin is not None and created < begin) or (end is not None and created > end):
            continue
        obj = streams.order_json(rec)
        if types and obj["ordType"] not in types:
            continue
        rows.append((rec, obj))
    rows.sort(key=lambda r: (r[0].created_ms, r[0].order_id), reverse=True)
    ids = [rec.order_id for rec, _ in rows]
    lo, hi = 0, len(rows)
    if after is not None:  # older than that order: after it in this newest-first list
        lo = ids.index(after) + 1 if after in ids else hi
    if before is not None:  # newer than that order
        hi = ids.index(before) if before in ids else 0
    page = [obj for _, obj in rows[lo:hi]]
    if before is not None and after is None:
        return page[-(limit or PAGE_MAX) :]  # the page just newer than ``before``
    return page[: limit or PAGE_MAX]
