"""``POST /api/v5/trade/close-position``: close the whole position at market.

OKX's parameters: ``instId`` (the venue's swap, 51001), ``mgnMode`` cross or isolated,
``posSide`` absent or ``net`` (the account is in net mode), ``autoCxl`` (true: the pending
reduce-only orders, which would otherwise stand in the way of the close, are cancelled
first; default false), ``clOrdId`` (1-32 letters and digits, given to the closing order) and
``tag``. No position: 51023 "Position does not exist". The close is one reduce-only market
order on the opposite side for the whole position, through the engine (fees, fills, the
user streams as for any order); the answer is OKX's ``[{instId, posSide, clOrdId, tag}]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmtrio.core.events import Side
from mmtrio.exchange.matching import MatchingReject
from mmtrio.sim import requests as rq
from mmtrio.sim.okx import words as w
from mmtrio.sim.okx.margin import check_margin_mode, check_swap
from mmtrio.sim.okx.trade import CLIENT_ID
from mmtrio.sim.okx.wire import OkxError

if TYPE_CHECKING:
    from mmtrio.sim.okx.frontend import OkxFrontEnd

TAG_MAX = 16


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value not in (True, False, "true", "false"):
        raise OkxError("51000", f"Parameter {name} error")
    return value in (True, "true")


def close_position(front: OkxFrontEnd, body: dict[str, Any]) -> list[Any]:
    """``POST /api/v5/trade/close-position`` (module docstring)."""
    check_swap(front, body)
    check_margin_mode(body)
    cid = body.get("clOrdId", "")
    if not isinstance(cid, str) or (cid and not CLIENT_ID.fullmatch(cid)):
        raise OkxError("51000", "Parameter clOrdId error")
    tag = body.get("tag", "")
    if not isinstance(tag, str) or len(tag) > TAG_MAX or (tag and not tag.isalnum()):
        raise OkxError("51000", "Parameter tag error")
    auto_cancel = _flag(body, "autoCxl")
    venue = front.venue
    position = venue.account.position
    if position == 0:
        raise OkxError("51023", "Position does not exist")
    if auto_cancel:
        for rec in rq.open_orders(venue):
            if rec.reduce_only:
                rq.cancel(venue, rec)
    side = Side.SELL if position > 0 else Side.BUY
    req = rq.PlaceOrder(
        side, abs(position), rq.OrderType.MARKET, reduce_only=True, client_id=cid or None
    )
    try:
        rec = rq.place(venue, req)
    except MatchingReject as exc:
        code, msg = w.refusal(exc.refusal, "order")
        raise OkxError(code, msg) from None
    if not cid:
        front.streams.anonymous.add(rec.client_id)
    return [{"instId": front.symbol, "posSide": "net", "clOrdId": cid, "tag": tag}]
