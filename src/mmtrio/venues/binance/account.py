"""The Binance account as the venue seam's neutral :class:`AccountSnapshot`.

Three signed reads (weights 5 + 30 + 5): ``GET /fapi/v2/account`` (balances, ``canTrade``,
the total maintenance margin and margin balance), ``GET /fapi/v1/positionSide/dual`` (the
position mode: hedge mode, ``dualSidePosition: true``, refuses every order mmtrio sends with
-4061) and ``GET /fapi/v2/positionRisk`` for the symbol (the leverage, its bracket's maximum
notional and the liquidation price).

``margin_ratio`` is Binance's own "margin ratio": total maintenance margin / total margin
balance (liquidation at 1). ``liquidation_price`` is None when flat (Binance says "0").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mmtrio.core.instruments import Instrument
from mmtrio.errors import ProtocolError
from mmtrio.venues.binance.codec_fields import (
    get_bool,
    get_dec,
    get_int_lenient,
    get_list,
    get_str,
)
from mmtrio.venues.binance.rest import BinanceRest
from mmtrio.venues.protocol import AccountSnapshot

HEDGE_MODE_FIX = (
    "the Binance account is in hedge mode (dualSidePosition: true), where every order "
    "mmtrio sends is refused (-4061); switch it to one-way mode: Futures > Preferences > "
    "Position Mode > One-way (needs no open position or order), or POST "
    "/fapi/v1/positionSide/dual dualSidePosition=false"
)


def account_snapshot(account: Any, dual: Any, risks: Any, inst: Instrument) -> AccountSnapshot:
    """Parse the three bodies (module docstring); ProtocolError naming the field."""
    if not isinstance(account, dict) or not isinstance(dual, dict):
        raise ProtocolError("account: expected JSON objects from account and positionSide/dual")
    if not isinstance(risks, list):
        raise ProtocolError(f"positionRisk: expected a list, got {type(risks).__name__}")
    k = "account"
    quote = inst.quote_asset
    wallet = available = Decimal(0)
    for a in get_list(account, "assets", k):
        if get_str(a, "asset", k) == quote:
            wallet = get_dec(a, "walletBalance", k)
            available = get_dec(a, "availableBalance", k)
    maint = get_dec(account, "totalMaintMargin", k)
    balance = get_dec(account, "totalMarginBalance", k)
    ratio = maint / balance if balance > 0 else (Decimal(0) if maint == 0 else Decimal(1))
    hedge = get_bool(dual, "dualSidePosition", "positionSide/dual")
    leverage: int | None = None
    liquidation: Decimal | None = None
    max_notional: Decimal | None = None
    mark: Decimal | None = None
    for r in risks:
        if get_str(r, "symbol", "positionRisk") != inst.symbol:
            continue
        leverage = get_int_lenient(r, "leverage", "positionRisk")
        max_notional = get_dec(r, "maxNotionalValue", "positionRisk")
        mark = get_dec(r, "markPrice", "positionRisk")
        liq = get_dec(r, "liquidationPrice", "positionRisk")
        if liq > 0:
            liquidation = liq
    return AccountSnapshot(
        wallet_balance=wallet,
        available_balance=available,
        margin_ratio=ratio,
        leverage=leverage,
        position_mode_ok=not hedge,
        mode_fix=HEDGE_MODE_FIX if hedge else "",
        liquidation_price=liquidation,
        can_trade=get_bool(account, "canTrade", k),
        max_notional=max_notional,
        mark_price=mark if mark is not None and mark > 0 else None,
        detail={"margin_balance": str(balance)},
    )


async def read_account(rest: BinanceRest, inst: Instrument) -> AccountSnapshot:
    """The account now (three reads; see the module docstring)."""
    account = await rest.read_signed("/fapi/v2/account", [])
    dual = await rest.read_signed("/fapi/v1/positionSide/dual", [])
    risks = await rest.read_signed("/fapi/v2/positionRisk", [("symbol", inst.symbol)])
    return account_snapshot(account, dual, risks, inst)


__all__ = ["HEDGE_MODE_FIX", "account_snapshot", "read_account"]
