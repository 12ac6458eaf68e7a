"""OKX order objects and fills → neutral OrderUpdate / Fill (pure).

The same order object arrives on the private ``orders`` channel and from the REST order
endpoints (``GET /api/v5/trade/order``, ``orders-pending``): ``instId, ordId, clOrdId, side,
ordType, px, sz, accFillSz, state, reduceOnly, uTime`` plus, on a push that reports an
execution, the last fill: ``tradeId, fillPx, fillSz, fillTime, fillFee, fillFeeCcy,
execType`` (``M`` maker, ``T`` taker). Mapping decisions:

- ``state``: ``live`` → NEW, ``partially_filled``, ``filled``, ``canceled`` and
  ``mmp_canceled`` → CANCELED, except a post-only order OKX cancelled because it would have
  taken liquidity (``cancelSource`` 31), which is EXPIRED: the venue, not we, ended it, as
  Binance reports its post-only expiry.
- A push with a fill (``fillSz`` > 0 and a ``tradeId``) is a TRADE carrying that fill; a
  push with ``amendResult`` 0 is an AMENDMENT (the venue's new price and size); otherwise
  the push reports the state.
- **Fees:** OKX prints a fee charged as a *negative* number and a rebate as positive; the
  neutral Fill counts a fee paid as positive, so the sign flips here, once.
- ``ordType`` → time in force: ``post_only`` → POST_ONLY, ``limit`` → GTC; the immediate
  kinds (``ioc``, ``fok``, ``market``, ``optimal_limit_ioc``) → IOC. A market order has no
  ``px``: its price is reported as 0 ticks (its fills carry their own price).
- Sizes are contracts: lots of the instrument (``lotSz`` contracts each).
"""

from __future__ import annotations

from mmtrio.core.events import (
    ExecType,
    Fill,
    OrderStatus,
    OrderUpdate,
    Side,
    TimeInForce,
)
from mmtrio.errors import ProtocolError
from mmtrio.venues.okx.fields import (
    InstrumentCodec,
    Obj,
    get_bool_str,
    get_choice,
    get_dec,
    get_int_str,
    get_str,
    opt_int_str,
)

SIDE = {"buy": Side.BUY, "sell": Side.SELL}
SIDE_TEXT = {v: k for k, v in SIDE.items()}
STATE = {
    "live": OrderStatus.NEW,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "mmp_canceled": OrderStatus.CANCELED,
}
ORD_TYPE = {
    "post_only": TimeInForce.POST_ONLY,
    "limit": TimeInForce.GTC,
    "ioc": TimeInForce.IOC,
    "fok": TimeInForce.IOC,
    "market": TimeInForce.IOC,
    "optimal_limit_ioc": TimeInForce.IOC,
}
ORD_TYPE_TEXT = {
    TimeInForce.POST_ONLY: "post_only",
    TimeInForce.GTC: "limit",
    TimeInForce.IOC: "ioc",
}
CANCEL_SOURCE_POST_ONLY = "31"  # "the post-only order would have taken liquidity"

# A state report carries no fill, so it is never TRADE (an OrderUpdate has a fill exactly
# when exec_type is TRADE).
_EXEC_FOR_STATUS = {
    OrderStatus.NEW: ExecType.NEW,
    OrderStatus.PARTIALLY_FILLED: ExecType.NEW,
    OrderStatus.FILLED: ExecType.NEW,
    OrderStatus.CANCELED: ExecType.CANCELED,
    OrderStatus.EXPIRED: ExecType.EXPIRED,
    OrderStatus.REJECTED: ExecType.EXPIRED,
}


def _status(obj: Obj, kind: str) -> OrderStatus:
    status: OrderStatus = get_choice(obj, "state", kind, STATE)
    if status is OrderStatus.CANCELED and obj.get("cancelSource") == CANCEL_SOURCE_POST_ONLY:
        return OrderStatus.EXPIRED
    return status


def _order_id(obj: Obj, kind: str) -> int:
    oid = get_int_str(obj, "ordId", kind)
    if oid < 0:
        raise ProtocolError(f"{kind}: field 'ordId' must not be negative, got {oid}")
    return oid


def _last_fill(
    obj: Obj, ic: InstrumentCodec, kind: str, *, client_id: str, order_id: int, side: Side
) -> Fill | None:
    fill_sz = obj.get("fillSz", "")
    if fill_sz in ("", "0") or obj.get("tradeId", "") in ("", "0"):
        return None
    exec_type = obj.get("execType", "")
    if exec_type not in ("M", "T"):
        raise ProtocolError(f"{kind}: a fill's field 'execType' must be M or T, got {exec_type!r}")
    return Fill(
        symbol=ic.instrument.symbol,
        trade_id=get_int_str(obj, "tradeId", kind),
        client_id=client_id,
        order_id=order_id,
        side=side,
        price=ic.price(obj, "fillPx", kind),
        qty=ic.size(obj, "fillSz", kind),
        fee=-get_dec(obj, "fillFee", kind),
        fee_asset=get_str(obj, "fillFeeCcy", kind),
        is_maker=exec_type == "M",
        ts=get_int_str(obj, "fillTime", kind),
    )


def parse_order(obj: Obj, ic: InstrumentCodec, *, push: bool) -> OrderUpdate:
    """An order object → OrderUpdate. ``push``: from the ``orders`` channel (may carry a
    fill and an amend result); else a REST state report (never a fill)."""
    k = "orders push" if push else "order"
    client_id = get_str(obj, "clOrdId", k)
    order_id = _order_id(obj, k)
    side: Side = get_choice(obj, "side", k, SIDE)
    status = _status(obj, k)
    px = obj.get("px", "")
    fill = (
        _last_fill(obj, ic, k, client_id=client_id, order_id=order_id, side=side) if push else None
    )
    if fill is not None:
        exec_type = ExecType.TRADE
    elif (
        push
        and obj.get("amendResult") == "0"
        and status
        in (
            OrderStatus.NEW,
            OrderStatus.PARTIALLY_FILLED,
        )
    ):
        exec_type = ExecType.AMENDMENT
    else:
        exec_type = _EXEC_FOR_STATUS[status]
    return OrderUpdate(
        symbol=ic.instrument.symbol,
        client_id=client_id,
        order_id=order_id,
        side=side,
        exec_type=exec_type,
        status=status,
        price=0 if px == "" else ic.price(obj, "px", k),
        qty=ic.size(obj, "sz", k),
        cum_qty=ic.size(obj, "accFillSz", k),
        time_in_force=get_choice(obj, "ordType", k, ORD_TYPE),
        reduce_only=get_bool_str(obj, "reduceOnly", k),
        ts=get_int_str(obj, "uTime", k),
        fill=fill,
    )


def parse_fill(obj: Obj, ic: InstrumentCodec) -> Fill:
    """One row of ``GET /api/v5/trade/fills`` → Fill (``fee`` sign flipped, see module)."""
    k = "fill"
    exec_type = get_str(obj, "execType", k)
    if exec_type not in ("M", "T"):
        raise ProtocolError(f"{k}: field 'execType' must be M or T, got {exec_type!r}")
    ts = opt_int_str(obj, "fillTime", k)
    return Fill(
        symbol=ic.instrument.symbol,
        trade_id=get_int_str(obj, "tradeId", k),
        client_id=get_str(obj, "clOrdId", k),
        order_id=_order_id(obj, k),
        side=get_choice(obj, "side", k, SIDE),
        price=ic.price(obj, "fillPx", k),
        qty=ic.size(obj, "fillSz", k),
        fee=-get_dec(obj, "fee", k),
        fee_asset=get_str(obj, "feeCcy", k),
        is_maker=exec_type == "M",
        ts=ts if ts is not None else get_int_str(obj, "ts", k),
    )
