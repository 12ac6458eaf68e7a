"""``/info`` answers → neutral values: the instrument, the account, orders, fills.

Shapes as the TypeScript SDK's schemas and the Python SDK's recorded answers
(``tests/cassettes``) show them:

- ``meta``: ``{"universe": [{"name", "szDecimals", "maxLeverage", "isDelisted"?…}], …}``;
  the asset index is the coin's position in ``universe``. ``metaAndAssetCtxs`` is
  ``[meta, [ctx…]]``, one context (``markPx``, ``midPx``, ``funding``…) per universe entry:
  the start reads it to give the instrument the tick of the price level (:mod:`.price_grid`).
- ``clearinghouseState``: ``marginSummary.accountValue``, ``withdrawable``,
  ``crossMaintenanceMarginUsed``, ``assetPositions[].position.{coin, szi, entryPx,
  liquidationPx, leverage.value, maxLeverage}``, ``time``.
- ``openOrders``: ``[{coin, side, limitPx, sz, oid, timestamp, origSz, cloid?, reduceOnly?}]``.
- ``orderStatus``: ``{"status": "order", "order": {"order": {… tif, cloid}, "status",
  "statusTimestamp"}}`` or ``{"status": "unknownOid"}``.
- ``userFills`` / ``userFillsByTime``: ``[{coin, px, sz, side, time, oid, crossed, fee,
  feeToken, tid, cloid?, hash, …}]``.
- ``userRateLimit``: ``{cumVlm, nRequestsUsed, nRequestsCap}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmtrio.core.events import Fill
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError, InstrumentError, ProtocolError
from mmtrio.venues.hyperliquid.codec import (
    MAX_DECIMALS_PERP,
    MIN_NOTIONAL,
    QUOTE_ASSET,
    SIG_FIGS,
    TIF_OF_WIRE,
    OrderState,
    decimal_of,
    field,
    fill_trade_id,
    int_of,
    lots_of,
    side_of,
    ticks_of,
)
from mmtrio.venues.hyperliquid.price_grid import finest_exponent, reference_price, tick_exponent

MAX_LOTS = 10**15  # the venue states no maximum order size in meta; bounded by margin


@dataclass(frozen=True, slots=True)
class Asset:
    """A perpetual of ``meta``: its index (what actions name) and its rules."""

    index: int
    instrument: Instrument
    max_leverage: int
    sz_decimals: int


def instrument_of(coin: str, sz_decimals: int, price: Decimal | None = None) -> Instrument:
    """The price and size grid of a perp with ``sz_decimals`` (module docstring of codec).

    The tick is the venue's price step at ``price`` (:func:`.price_grid.tick_at`: 1 near
    28,000 for BTC), or the finest step ``10^−(6−szDecimals)`` without a price; the
    5-significant-figure rule stays on the instrument (``sig_figs``) either way."""
    if not 0 <= sz_decimals <= MAX_DECIMALS_PERP:
        raise ProtocolError(f"meta: {coin} szDecimals {sz_decimals} outside 0..6")
    exponent = finest_exponent(sz_decimals) if price is None else tick_exponent(price, sz_decimals)
    try:
        return Instrument(
            symbol=coin,
            tick_size=Decimal(1).scaleb(exponent),
            lot_size=Decimal(1).scaleb(-sz_decimals),
            min_qty=1,
            max_qty=MAX_LOTS,
            min_notional=MIN_NOTIONAL,
            base_asset=coin,
            quote_asset=QUOTE_ASSET,
            sig_figs=SIG_FIGS,
        )
    except InstrumentError as exc:
        raise ProtocolError(f"meta: {coin}: {exc}") from None


def parse_meta(body: Any) -> dict[str, Asset]:
    """Every listed (not delisted) perp of ``meta``, by coin name."""
    universe = field(body, "universe", "meta")
    if not isinstance(universe, list):
        raise ProtocolError("meta: universe is not a list")
    out: dict[str, Asset] = {}
    for index, entry in enumerate(universe):
        name = field(entry, "name", f"meta universe[{index}]")
        if not isinstance(name, str) or not name:
            raise ProtocolError(f"meta universe[{index}]: name {name!r} is not a coin name")
        if entry.get("isDelisted"):
            continue
        sz = int_of(field(entry, "szDecimals", f"meta {name}"), f"meta {name} szDecimals")
        lev = int_of(entry.get("maxLeverage", 1), f"meta {name} maxLeverage")
        out[name] = Asset(index, instrument_of(name, sz), lev, sz)
    return out


def asset_for(body: Any, coin: str) -> Asset:
    """The asset ``coin`` in ``meta``; ConfigError naming a few listed coins otherwise."""
    assets = parse_meta(body)
    asset = assets.get(coin)
    if asset is None:
        listed = ", ".join(sorted(assets)[:12])
        raise ConfigError(
            f"Hyperliquid lists no perpetual {coin!r} (coins are names like BTC, ETH: "
            f"[venue] symbol); listed: {listed}{'…' if len(assets) > 12 else ''}"
        )
    return asset


def asset_at_price(body: Any, coin: str) -> tuple[Asset, Decimal]:
    """``metaAndAssetCtxs`` (``[meta, [ctx per universe entry]]``) → the asset ``coin`` with
    the tick of its price level (:mod:`.price_grid`), and that price (``midPx``, else
    ``markPx``). A context without a usable price is a ProtocolError: a tick guessed without
    one would be up to 10,000× off."""
    if not isinstance(body, list) or len(body) != 2 or not isinstance(body[1], list):
        raise ProtocolError("metaAndAssetCtxs: expected [meta, [asset contexts]]")
    asset = asset_for(body[0], coin)
    ctxs = body[1]
    price = reference_price(ctxs[asset.index]) if asset.index < len(ctxs) else None
    if price is None:
        raise ProtocolError(f"metaAndAssetCtxs: {coin} has neither a midPx nor a markPx")
    inst = instrument_of(coin, asset.sz_decimals, price)
    return Asset(asset.index, inst, asset.max_leverage, asset.sz_decimals), price


@dataclass(frozen=True, slots=True)
class Clearinghouse:
    account_value: Decimal
    withdrawable: Decimal
    maintenance_margin: Decimal
    position_lots: int
    entry_price: Decimal
    liquidation_price: Decimal | None
    leverage: int | None
    max_leverage: int | None
    time: int


def parse_clearinghouse(body: Any, inst: Instrument) -> Clearinghouse:
    """``clearinghouseState`` for the account, the position in ``inst`` only."""
    what = "clearinghouseState"
    summary = field(body, "marginSummary", what)
    value = decimal_of(field(summary, "accountValue", what), f"{what} accountValue")
    withdrawable = decimal_of(field(body, "withdrawable", what), f"{what} withdrawable")
    mm = decimal_of(body.get("crossMaintenanceMarginUsed", "0"), f"{what} maintenance margin")
    positions = field(body, "assetPositions", what)
    if not isinstance(positions, list):
        raise ProtocolError(f"{what}: assetPositions is not a list")
    lots, entry, liq, lev, max_lev = 0, Decimal(0), None, None, None
    for row in positions:
        pos = field(row, "position", f"{what} assetPositions")
        if field(pos, "coin", what) != inst.symbol:
            continue
        lots = lots_of(inst, str(field(pos, "szi", what)).lstrip("-"), f"{what} szi")
        if str(pos["szi"]).startswith("-"):
            lots = -lots
        entry = decimal_of(pos.get("entryPx") or "0", f"{what} entryPx")
        if pos.get("liquidationPx") is not None:
            liq = decimal_of(pos["liquidationPx"], f"{what} liquidationPx")
        leverage = pos.get("leverage")
        if isinstance(leverage, dict) and isinstance(leverage.get("value"), int):
            lev = leverage["value"]
        if isinstance(pos.get("maxLeverage"), int):
            max_lev = pos["maxLeverage"]
    time = body.get("time", 0)
    return Clearinghouse(
        value, withdrawable, mm, lots, entry, liq, lev, max_lev,
        time if isinstance(time, int) and not isinstance(time, bool) else 0,
    )  # fmt: skip


def parse_order(obj: Any, inst: Instrument, status: str, ts: int) -> OrderState:
    """One order object (openOrders row, orderStatus ``order.order``, orderUpdates ``order``)."""
    what = "order"
    cloid = obj.get("cloid") if isinstance(obj, dict) else None
    tif = obj.get("tif") if isinstance(obj, dict) else None
    return OrderState(
        coin=field(obj, "coin", what),
        cloid=cloid.lower() if isinstance(cloid, str) else "",
        oid=int_of(field(obj, "oid", what), f"{what} oid"),
        side=side_of(field(obj, "side", what), f"{what} side"),
        price=ticks_of(inst, field(obj, "limitPx", what), f"{what} limitPx"),
        orig_qty=lots_of(inst, field(obj, "origSz", what), f"{what} origSz"),
        remaining=lots_of(inst, field(obj, "sz", what), f"{what} sz"),
        status=status,
        ts=ts,
        reduce_only=bool(obj.get("reduceOnly", False)),
        tif=TIF_OF_WIRE.get(tif) if isinstance(tif, str) else None,
    )


def parse_open_orders(body: Any, inst: Instrument) -> list[OrderState]:
    """``openOrders``, the orders in ``inst`` only."""
    if not isinstance(body, list):
        raise ProtocolError("openOrders: expected a list")
    out = []
    for row in body:
        if field(row, "coin", "openOrders row") != inst.symbol:
            continue
        ts = int_of(row.get("timestamp", 0), "openOrders timestamp")
        out.append(parse_order(row, inst, "open", ts))
    return out


def parse_order_status(body: Any, inst: Instrument) -> OrderState | None:
    """``orderStatus``: the order, or None for ``unknownOid``."""
    status = field(body, "status", "orderStatus")
    if status == "unknownOid":
        return None
    if status != "order":
        raise ProtocolError(f"orderStatus: status {status!r} is neither order nor unknownOid")
    wrap = field(body, "order", "orderStatus")
    ts = int_of(wrap.get("statusTimestamp", 0), "orderStatus statusTimestamp")
    venue_status = field(wrap, "status", "orderStatus")
    if not isinstance(venue_status, str):
        raise ProtocolError(f"orderStatus: status {venue_status!r} is not a word")
    return parse_order(field(wrap, "order", "orderStatus"), inst, venue_status, ts)


def parse_fill(row: Any, inst: Instrument) -> Fill:
    """One fill row (``userFills``, ``userFillsByTime`` or the ``userFills`` stream)."""
    what = "fill"
    time = int_of(field(row, "time", what), f"{what} time")
    tid = int_of(field(row, "tid", what), f"{what} tid")
    fee = decimal_of(field(row, "fee", what), f"{what} fee")
    if row.get("builderFee") is not None:
        fee += decimal_of(row["builderFee"], f"{what} builderFee")
    cloid = row.get("cloid")
    return Fill(
        symbol=inst.symbol,
        trade_id=fill_trade_id(time, tid),
        client_id=cloid.lower() if isinstance(cloid, str) else "",
        order_id=int_of(field(row, "oid", what), f"{what} oid"),
        side=side_of(field(row, "side", what), f"{what} side"),
        price=ticks_of(inst, field(row, "px", what), f"{what} px"),
        qty=lots_of(inst, field(row, "sz", what), f"{what} sz"),
        fee=fee,  # positive paid, negative a rebate: the venue's sign is ours
        fee_asset=str(row.get("feeToken") or QUOTE_ASSET),
        is_maker=not bool(field(row, "crossed", what)),
        ts=time,
    )


def parse_fills(body: Any, inst: Instrument) -> list[Fill]:
    """Fills of ``inst`` from a list of fill rows, oldest first (by neutral trade id)."""
    if not isinstance(body, list):
        raise ProtocolError("userFills: expected a list")
    fills = [parse_fill(row, inst) for row in body if isinstance(row, dict)
             and row.get("coin") == inst.symbol]  # fmt: skip
    fills.sort(key=lambda f: f.trade_id)
    return fills


def parse_rate_limit(body: Any) -> int:
    """``userRateLimit``: the actions the address has left (may be negative: throttled)."""
    cap = int_of(field(body, "nRequestsCap", "userRateLimit"), "userRateLimit nRequestsCap")
    used = int_of(field(body, "nRequestsUsed", "userRateLimit"), "userRateLimit nRequestsUsed")
    return cap - used
