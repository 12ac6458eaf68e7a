"""The simulated OKX venue's order operations: OKX parameters → neutral requests → answers.

Shared by the REST endpoints (``/api/v5/trade/order``, ``batch-orders``, ``amend-order``,
``amend-batch-orders``, ``cancel-order``, ``cancel-batch-orders``) and the WebSocket ops of
the same names (``order``, ``batch-orders``, …): one function per order, whose answer is the
``{clOrdId, ordId, tag, ts, sCode, sMsg}`` entry OKX returns for it.

Checks, in OKX's terms: ``instId`` must be the venue's swap (51001), ``tdMode`` cross or
isolated, ``side``, ``ordType``, ``clOrdId`` 1-32 letters and digits (51000 "Parameter …
error"), ``posSide`` absent or ``net`` (the account is in net mode), ``sz`` a whole number of
``lotSz`` (51121), ``px`` on the tick (51000). The engine's refusals are said in OKX's codes
(:mod:`.words`).

**Post-only that would take.** OKX does not refuse it: the order is accepted (``sCode`` 0)
and cancelled at once, ``cancelSource`` 31. The engine refuses such an order without a
trace, so this front end records it as an order of its own (an id from its own range,
:data:`.words.OWN_ID_BASE`, status EXPIRED) and pushes the cancellation, so a query by ``clOrdId``
finds it as OKX's would.
"""

from __future__ import annotations

import itertools
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mmtrio.core.events import OrderStatus, TimeInForce
from mmtrio.exchange.matching import MatchingReject, Refusal
from mmtrio.sim import requests as rq
from mmtrio.sim.account import OrderRecord
from mmtrio.sim.okx import words as w
from mmtrio.sim.okx.wire import OkxError, OrderError, param_error

if TYPE_CHECKING:
    from mmtrio.sim.okx.frontend import OkxFrontEnd

CLIENT_ID = re.compile(r"[A-Za-z0-9]{1,32}")
BATCH_MAX = 20


def _text(args: dict[str, Any], name: str, required: bool = True) -> str:
    value = args.get(name, "")
    if not isinstance(value, str):
        raise param_error(name)
    if required and value == "":
        raise OrderError("50014", f"Parameter {name} can not be empty")
    return value


def check_inst(front: OkxFrontEnd, args: dict[str, Any]) -> None:
    if _text(args, "instId") != front.symbol:
        raise OrderError("51001", "Instrument ID does not exist")


def _size(front: OkxFrontEnd, args: dict[str, Any], name: str) -> int:
    text = _text(args, name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise param_error(name) from None
    if not value.is_finite() or value <= 0:
        raise param_error(name)
    lots, rem = divmod(value, front.inst.lot_size)
    if rem != 0:
        raise OrderError(
            "51121", f"Order quantity must be a multiple of the lot size ({front.inst.lot_size})"
        )
    return int(lots)


def _price(front: OkxFrontEnd, args: dict[str, Any], name: str) -> int:
    text = _text(args, name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise param_error(name) from None
    if not value.is_finite() or value <= 0:
        raise param_error(name)
    ticks, rem = divmod(value, front.inst.tick_size)
    if rem != 0:
        raise param_error(name)
    return int(ticks)


def _answer(
    rec: OrderRecord | None, cid: str, ts: int, code: str = "0", msg: str = ""
) -> dict[str, Any]:
    return {
        "clOrdId": cid,
        "ordId": "" if rec is None else w.s(rec.order_id),
        "tag": "",
        "ts": w.s(ts),
        "sCode": code,
        "sMsg": msg,
    }


class Trading:
    """The order operations of one front end (see the module docstring)."""

    def __init__(self, front: OkxFrontEnd) -> None:
        self.front = front
        self.venue = front.venue
        self._own_ids = itertools.count(w.OWN_ID_BASE)

    def _ts(self) -> int:
        return int(self.venue.true_ms())

    def _each(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        cid = args.get("clOrdId", "") if isinstance(args.get("clOrdId", ""), str) else ""
        try:
            if op == "order":
                return self.place(args)
            if op == "amend":
                return self.amend(args)
            return self.cancel(args)
        except OrderError as err:
            return _answer(None, cid, self._ts(), err.s_code, err.s_msg)
        except MatchingReject as exc:
            code, msg = w.refusal(exc.refusal, op)
            return _answer(None, cid, self._ts(), code, msg)

    def run(self, op: str, batch: Any) -> list[dict[str, Any]]:
        """``op`` (order, amend, cancel) over one object or a batch list."""
        items = batch if isinstance(batch, list) else [batch]
        if not items or len(items) > BATCH_MAX or not all(isinstance(i, dict) for i in items):
            raise OkxError("51000", f"Parameter error: 1 to {BATCH_MAX} orders per request")
        return [self._each(op, item) for item in items]

    # --- place --------------------------------------------------------------------------
    def parse_place(self, args: dict[str, Any]) -> tuple[rq.PlaceOrder, str]:
        front = self.front
        check_inst(front, args)
        if _text(args, "tdMode") not in ("cross", "isolated"):
            raise param_error("tdMode")
        side = w.SIDE_PARSE.get(_text(args, "side"))
        if side is None:
            raise param_error("side")
        ord_type = _text(args, "ordType")
        if ord_type not in ("limit", "post_only", "ioc", "fok", "market"):
            raise param_error("ordType")
        if _text(args, "posSide", required=False) not in ("", "net"):
            raise OrderError("51000", "Parameter posSide error")
        cid = _text(args, "clOrdId", required=False)
        if cid and not CLIENT_ID.fullmatch(cid):
            raise param_error("clOrdId")
        reduce = args.get("reduceOnly", False)
        if reduce not in (True, False, "true", "false"):
            raise param_error("reduceOnly")
        qty = _size(front, args, "sz")
        if ord_type == "market":
            req = rq.PlaceOrder(
                side,
                qty,
                rq.OrderType.MARKET,
                reduce_only=reduce in (True, "true"),
                client_id=cid or None,
            )
        else:
            req = rq.PlaceOrder(
                side,
                qty,
                price=_price(front, args, "px"),
                time_in_force=w.ORD_TYPE_PARSE[ord_type],
                reduce_only=reduce in (True, "true"),
                client_id=cid or None,
            )
        return req, cid

    def place(self, args: dict[str, Any]) -> dict[str, Any]:
        req, cid = self.parse_place(args)
        try:
            rec = rq.place(self.venue, req)
        except MatchingReject as exc:
            if exc.refusal is Refusal.WOULD_TAKE and req.time_in_force is TimeInForce.POST_ONLY:
                rec = self._cancelled_post_only(req, cid)
                return _answer(rec, cid, self._ts(), "0", "Order placed")
            raise
        if not cid:
            self.front.streams.anonymous.add(rec.client_id)
        return _answer(rec, cid, self._ts(), "0", "Order placed")

    def _cancelled_post_only(self, req: rq.PlaceOrder, cid: str) -> OrderRecord:
        venue = self.venue
        ts = venue.market_ts
        client_id = cid or venue.new_client_id()
        if client_id in venue.account.orders:
            raise MatchingReject(Refusal.DUPLICATE_CLIENT_ID, "duplicated clOrdId")
        rec = OrderRecord(
            client_id=client_id,
            order_id=next(self._own_ids),
            side=req.side,
            price=req.price,
            qty=req.qty,
            order_type=req.order_type.value,
            time_in_force=req.time_in_force.value,
            reduce_only=req.reduce_only,
            created_ms=ts,
            status=OrderStatus.EXPIRED.value,
            update_ms=ts,
        )
        venue.account.record_order(rec)
        if not cid:
            self.front.streams.anonymous.add(client_id)
        obj = self.front.streams.order_json(rec)  # cancelSource 31, as every rendering says
        venue.hub.publish_user(
            {"arg": {"channel": "orders", "instType": "SWAP", "instId": self.front.symbol},
             "data": [obj]}
        )  # fmt: skip
        return rec

    # --- amend / cancel -------------------------------------------------------------------
    def lookup(self, args: dict[str, Any], op: str) -> OrderRecord:
        check_inst(self.front, args)
        cid = _text(args, "clOrdId", required=False)
        oid_text = _text(args, "ordId", required=False)
        if not cid and not oid_text:
            raise OrderError("51003", "Either client order ID or order ID is required")
        try:
            oid = int(oid_text) if oid_text else None
        except ValueError:
            raise param_error("ordId") from None
        rec = rq.lookup(self.venue, cid or None, oid)
        if rec is None:
            raise OrderError(*w.refusal(Refusal.NO_SUCH_ORDER, op))
        return rec

    def amend(self, args: dict[str, Any]) -> dict[str, Any]:
        rec = self.lookup(args, "amend")
        cid = "" if rec.client_id in self.front.streams.anonymous else rec.client_id
        if not rq.is_open(rec):
            code = "51509" if rec.status != OrderStatus.FILLED.value else "51510"
            raise OrderError(
                code, "Modification failed as the order has been canceled or completed"
            )
        new_sz, new_px = args.get("newSz", ""), args.get("newPx", "")
        if new_sz in ("", None) and new_px in ("", None):
            raise OrderError("51500", "Either order price or amount is required")
        qty = _size(self.front, args, "newSz") if new_sz not in ("", None) else rec.qty
        price = _price(self.front, args, "newPx") if new_px not in ("", None) else rec.price
        rq.amend(self.venue, rec, price, qty)
        out = _answer(rec, cid, self._ts())
        out["reqId"] = args.get("reqId", "") if isinstance(args.get("reqId", ""), str) else ""
        return out

    def cancel(self, args: dict[str, Any]) -> dict[str, Any]:
        rec = self.lookup(args, "cancel")
        cid = "" if rec.client_id in self.front.streams.anonymous else rec.client_id
        if not rq.is_open(rec):
            code = {OrderStatus.FILLED.value: "51402"}.get(rec.status, "51401")
            raise OrderError(
                code, "Order cancellation failed as the order has been filled or canceled"
            )
        rq.cancel(self.venue, rec)
        return _answer(rec, cid, self._ts())

    # --- dead-man ---------------------------------------------------------------------------
    def cancel_all_after(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        text = args.get("timeOut")
        if not isinstance(text, str) or not text.isdigit():
            raise OkxError("51000", "Parameter timeOut error")
        seconds = int(text)
        if seconds != 0 and not 10 <= seconds <= 120:
            raise OkxError("51000", "Parameter timeOut error: 0, or 10 to 120 seconds")
        rq.countdown(self.venue, seconds * 1000)
        now = self.venue.wall_ms()
        trigger = "0" if seconds == 0 else w.s(now + seconds * 1000)
        return [{"triggerTime": trigger, "tag": "", "ts": w.s(now)}]
