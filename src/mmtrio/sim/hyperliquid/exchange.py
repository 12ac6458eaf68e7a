"""``POST /exchange`` (and the ``post`` method's actions): signed actions on the paper account.

Every action is verified first (:mod:`.auth`: the recovered signer is the account or its
approved agent; the nonce is fresh), then counted against the address's budget (10,000 +
1 per USDC traded: past it the venue's "Too many cumulative requests sent" refusal), then
executed through the engine's neutral requests (:mod:`mmtrio.sim.requests`):

- ``order``: each order's asset, price (5 significant figures, ``6 − szDecimals`` decimals,
  the recording's tick), size (``szDecimals``), the $10 minimum value, ``Alo``/``Gtc``/
  ``Ioc`` and a 128-bit ``cloid``; answered per order ``resting``, ``filled`` or ``error``;
- ``batchModify`` / ``modify``: by oid or cloid, the new remaining size at the new price; a
  cancel-replace (new oid, same cloid: :mod:`.orders`);
- ``cancel`` (by oid) / ``cancelByCloid``: ``success`` or "Order was never placed, already
  canceled, or filled.";
- ``scheduleCancel``: with ``time`` (≥ 5 s ahead) arms the engine's countdown to it, without
  disarms; refused once the 10 triggers of the UTC day are spent;
- ``updateLeverage``: the account's leverage on the asset, a whole number 1..40 (the asset's
  ``maxLeverage``); ``clearinghouseState`` then reports it and its margins are notional /
  leverage. Cross margin only: ``isCross: false`` (isolated) is refused, naming why, as the
  sim keeps one cross-margined account.

A malformed action is HTTP 422; a refusal of the whole action ``{"status": "err",
"response": text}``; refusals of single orders ride in ``statuses``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmtrio.core.events import Side, TimeInForce
from mmtrio.errors import ProtocolError
from mmtrio.exchange.matching import MatchingReject
from mmtrio.sim import requests
from mmtrio.sim.account import OrderRecord
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.hyperliquid import words
from mmtrio.sim.hyperliquid.auth import ActionRefused
from mmtrio.sim.hyperliquid.grid import GridRefusal

if TYPE_CHECKING:
    from mmtrio.sim.hyperliquid.frontend import HyperliquidFrontEnd

CLOID = re.compile(r"^0x[0-9a-fA-F]{32}$")
TIFS = {"Alo": TimeInForce.POST_ONLY, "Gtc": TimeInForce.GTC, "Ioc": TimeInForce.IOC}
MIN_VALUE = Decimal(10)
MIN_LEAD_MS = 5_000
DAILY_TRIGGERS = 10
MAX_LEVERAGE = 40  # the asset's maxLeverage in meta (info.py)


class OrderError(Exception):
    """One order of a batch refused (its status is ``{"error": text}``)."""


def ok(kind: str, statuses: list[Any] | None = None) -> dict[str, Any]:
    if statuses is None:
        return {"status": "ok", "response": {"type": kind}}
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}


def err(text: str) -> dict[str, Any]:
    return {"status": "err", "response": text}


def items(action: dict[str, Any], key: str) -> list[Any]:
    value = action.get(key)
    if not isinstance(value, list) or not value:
        raise ProtocolError(f"{action.get('type')} needs a non-empty {key!r} list")
    return value


def weight(action: dict[str, Any]) -> int:
    """``1 + ⌊n/40⌋`` for an action carrying ``n`` orders or cancels."""
    for key in ("orders", "cancels", "modifies"):
        value = action.get(key)
        if isinstance(value, list):
            return 1 + len(value) // 40
    return 1


def execute(front: HyperliquidFrontEnd, body: Any) -> dict[str, Any]:
    """One signed ``/exchange`` body → the venue's answer (ProtocolError → HTTP 422)."""
    if not isinstance(body, dict):
        raise ProtocolError("the body must be an object")
    v = front.venue
    try:
        front.accounts.verify(body, v.wall_ms())
    except ActionRefused as exc:
        return err(str(exc))
    action: dict[str, Any] = body["action"]
    kind = action["type"]
    handler = ACTIONS.get(kind)
    if handler is None:
        raise ProtocolError(f"unknown action type {kind!r}")
    b = front.budget
    b.used += 1
    if b.used > b.cap and kind not in ("cancel", "cancelByCloid", "scheduleCancel"):
        return err(words.rate_text(b.used, b.cap, f"{b.volume:.2f}"))
    return handler(front, action)


# --- order ---------------------------------------------------------------------------------
def _order_params(front: HyperliquidFrontEnd, wire: Any) -> requests.PlaceOrder:
    if not isinstance(wire, dict):
        raise ProtocolError("an order must be an object")
    asset = wire.get("a")
    if asset != 0:
        raise OrderError(words.UNKNOWN_ASSET.format(asset=asset))
    is_buy, reduce_only = wire.get("b"), wire.get("r", False)
    if not isinstance(is_buy, bool) or not isinstance(reduce_only, bool):
        raise ProtocolError("order fields b and r must be booleans")
    t = wire.get("t")
    limit = t.get("limit") if isinstance(t, dict) else None
    word = limit.get("tif") if isinstance(limit, dict) else None
    tif = TIFS.get(word) if isinstance(word, str) else None
    if tif is None:
        raise ProtocolError("order t must be {limit: {tif: Alo|Gtc|Ioc}} (no trigger orders)")
    cloid = wire.get("c")
    if cloid is not None and (not isinstance(cloid, str) or not CLOID.fullmatch(cloid)):
        raise OrderError(words.BAD_CLOID.format(cloid=cloid))
    try:
        price = front.grid.parse_px(wire.get("p"))
        qty = front.grid.parse_sz(wire.get("s"))
    except GridRefusal as exc:
        raise OrderError(str(exc)) from None
    inst = front.venue.instrument
    if not reduce_only and inst.notional(price, qty) < MIN_VALUE:
        raise OrderError(words.MIN_VALUE)
    cid = cloid.lower() if isinstance(cloid, str) else None
    if cid is not None and cid in front.venue.account.orders:
        raise OrderError(words.DUPLICATE_CLOID.format(cloid=cid))
    return requests.PlaceOrder(
        side=Side.BUY if is_buy else Side.SELL, qty=qty, price=price, time_in_force=tif,
        reduce_only=reduce_only, client_id=cid,
    )  # fmt: skip


def _bbo(front: HyperliquidFrontEnd) -> tuple[str, str]:
    bid, ask = front.venue.book.best()
    g = front.grid
    return (g.px(bid[0]) if bid else "0", g.px(ask[0]) if ask else "0")


def _status(front: HyperliquidFrontEnd, rec: OrderRecord) -> dict[str, Any]:
    leg = front.legs.leg(rec)
    cloid = {"cloid": rec.client_id} if CLOID.fullmatch(rec.client_id) else {}
    if rec.status in ("NEW", "PARTIALLY_FILLED"):
        return {"resting": {"oid": leg.oid, **cloid}}
    if rec.status == "FILLED" or rec.cum_qty > 0:
        g = front.grid
        avg = rec.avg_price(front.venue.instrument)
        return {
            "filled": {"totalSz": g.sz(rec.cum_qty), "avgPx": str(avg), "oid": leg.oid, **cloid}
        }
    # An IOC that found nothing to match: Hyperliquid's IocCancel.
    return {"error": "Order could not immediately match against any resting orders."}


def place_one(front: HyperliquidFrontEnd, wire: Any) -> dict[str, Any]:
    try:
        req = _order_params(front, wire)
        rec = requests.place(front.venue, req)
    except OrderError as exc:
        return {"error": str(exc)}
    except MatchingReject as exc:
        return {"error": words.refusal_text(exc, _bbo(front))}
    return _status(front, rec)


def order(front: HyperliquidFrontEnd, action: dict[str, Any]) -> dict[str, Any]:
    return ok("order", [place_one(front, w) for w in items(action, "orders")])


def place_wire(front: HyperliquidFrontEnd, params: dict[str, str]) -> Any:
    """``/admin/order``: ``{"b": "true"|"false", "p", "s", "tif"?, "c"?, "r"?}`` as strings."""
    wire = {
        "a": 0,
        "b": params.get("b", "").lower() == "true",
        "p": params.get("p"),
        "s": params.get("s"),
        "r": params.get("r", "false").lower() == "true",
        "t": {"limit": {"tif": params.get("tif", "Gtc")}},
    }
    if params.get("c"):
        wire["c"] = params["c"]
    try:
        return place_one(front, wire)
    except ProtocolError as exc:
        raise SimBadRequest(str(exc)) from None


# --- modify ----------------------------------------------------------------------------------
def _find(front: HyperliquidFrontEnd, ref: Any) -> OrderRecord | None:
    acct = front.venue.account
    if isinstance(ref, str):
        return acct.orders.get(ref.lower())
    if isinstance(ref, int) and not isinstance(ref, bool):
        cid = front.legs.cid_of(ref)
        return acct.orders.get(cid) if cid is not None else None
    raise ProtocolError("oid must be an order id or a cloid")


def modify_one(front: HyperliquidFrontEnd, ref: Any, wire: Any) -> dict[str, Any]:
    rec = _find(front, ref)
    if rec is None or not requests.is_open(rec):
        return {"error": words.MODIFY_GONE}
    try:
        req = _order_params_for_modify(front, rec, wire)
        requests.amend(front.venue, rec, req.price, rec.cum_qty + req.qty)
    except OrderError as exc:
        return {"error": str(exc)}
    except MatchingReject as exc:
        return {"error": words.refusal_text(exc, _bbo(front))}
    if rec.status == "EXPIRED" and rec.cum_qty == 0:
        # The new leg of an Alo modify would have taken: refused as a new Alo order is (the
        # old leg is gone: the cancel half of the cancel-replace happened).
        bid, ask = _bbo(front)
        return {"error": f"Post only order would have immediately matched, bbo was {bid}@{ask}."}
    return _status(front, rec)


def _order_params_for_modify(
    front: HyperliquidFrontEnd, rec: OrderRecord, wire: Any
) -> requests.PlaceOrder:
    if isinstance(wire, dict) and wire.get("c") not in (None, rec.client_id):
        raise OrderError("A modify keeps its order's cloid.")
    if isinstance(wire, dict):
        wire = {k: v for k, v in wire.items() if k != "c"}  # the order's own cloid is in use
    req = _order_params(front, wire)
    if req.side is not rec.side:
        raise OrderError("A modify cannot change the order's side.")
    return req


def batch_modify(front: HyperliquidFrontEnd, action: dict[str, Any]) -> dict[str, Any]:
    out = []
    for m in items(action, "modifies"):
        if not isinstance(m, dict):
            raise ProtocolError("each modify must be {oid, order}")
        out.append(modify_one(front, m.get("oid"), m.get("order")))
    return ok("order", out)


def modify(front: HyperliquidFrontEnd, action: dict[str, Any]) -> dict[str, Any]:
    status = modify_one(front, action.get("oid"), action.get("order"))
    return err(status["error"]) if "error" in status else ok("default")


# --- cancel -------------------------------------------------------------------------------------
def _cancel_rec(front: HyperliquidFrontEnd, rec: OrderRecord | None) -> Any:
    if rec is None or not requests.is_open(rec):
        return {"error": words.CANCEL_GONE}
    try:
        requests.cancel(front.venue, rec)
    except MatchingReject:
        return {"error": words.CANCEL_GONE}
    return "success"


def cancel(front: HyperliquidFrontEnd, action: dict[str, Any]) -> dict[str, Any]:
    out = []
    for c in items(action, "cancels"):
        if not isinstance(c, dict):
            raise ProtocolError("each cancel must be {a, o}")
        if c.get("a") != 0:
            out.append({"error": words.UNKNOWN_ASSET.format(asset=c.get("a"))})
            continue
        oid = c.get("o")
        if isinstance(oid, bool) or not isinstance(oid, int):
            raise ProtocolError("cancel o must be an order id")
        out.append(_cancel_rec(front, _find(front, oid)))
    return ok("cancel", out)


def cancel_by_cloid(front: HyperliquidFrontEnd, action: dict[str, Any]) -> dict[str, Any]:
    out = []
    for c in items(action, "cancels"):
        if not isinstance(c, dict) or not isinstance(c.get("cloid"), str):
            raise ProtocolError("each cancel must be {asset, cloid}")
        if c.get("asset") != 0:
            out.append({"error": words.UNKNOWN_ASSET.format(asset=c.get("asset"))})
            continue
        out.append(_cancel_rec(front, _find(front, c["cloid"])))
    return ok("cancel", out)


# --- dead-man -------------------------------------------------------------------------------------
def schedule_cancel(front: HyperliquidFrontEnd, action: dict[str, Any]) -> dict[str, Any]:
    when = action.get("time")
    if when is None:
        front.arm_deadman(None)
        return ok("default")
    if isinstance(when, bool) or not isinstance(when, int):
        raise ProtocolError("scheduleCancel time must be ms since the epoch")
    delay = when - front.venue.wall_ms()
    if delay < MIN_LEAD_MS:
        return err(words.SCHEDULE_TOO_SOON)
    if front.triggers_today() >= DAILY_TRIGGERS:
        return err(words.SCHEDULE_LIMIT)
    front.arm_deadman(delay)
    return ok("default")


# --- leverage -------------------------------------------------------------------------------
def update_leverage(front: HyperliquidFrontEnd, action: dict[str, Any]) -> dict[str, Any]:
    asset, cross, lev = action.get("asset"), action.get("isCross"), action.get("leverage")
    if not isinstance(cross, bool):
        raise ProtocolError("updateLeverage isCross must be a boolean")
    if isinstance(lev, bool) or not isinstance(lev, int):
        raise ProtocolError("updateLeverage leverage must be a whole number")
    if asset != 0:
        return err(words.UNKNOWN_ASSET.format(asset=asset))
    if not cross:
        return err(words.ISOLATED_UNSUPPORTED)
    if not 1 <= lev <= MAX_LEVERAGE:
        return err(words.BAD_LEVERAGE.format(leverage=lev, most=MAX_LEVERAGE))
    front.leverage = lev
    return ok("default")


ACTIONS = {
    "order": order,
    "batchModify": batch_modify,
    "modify": modify,
    "cancel": cancel,
    "cancelByCloid": cancel_by_cloid,
    "scheduleCancel": schedule_cancel,
    "updateLeverage": update_leverage,
}
