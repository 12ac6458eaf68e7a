"""The account's leverage: ``GET`` and ``PATCH /api/v1/user/leverage`` (Extended's "Get current
leverage" and "Update leverage").

The leverage is recorded per account (the sim has one market) and starts at
:data:`DEFAULT_LEVERAGE`. It is what the account shows: a position's ``leverage`` and
``margin`` (value / leverage), the balance's ``initialMargin`` and ``availableForTrade``
(:mod:`.render`), on REST and on the account stream, where an update pushes a BALANCE and a
POSITION at once. The engine itself checks no margin by leverage.

``PATCH {"market", "leverage"}`` (the leverage a decimal string, as the SDK sends it, or a JSON
number) is checked in Extended's codes: a market other than the sim's (1001); a leverage below
1 (1049) or above the market's ``maxLeverage`` (1050, :data:`~.words.MAX_LEVERAGE`); more than
two decimals (1053: the sim's precision, that of ``maxLeverage``'s "50.00"); the initial
margin of the open position at the new leverage above the equity (1052). The sim's margin
schedule has one bracket, so no leverage lowers the maximum position value (10501 never
arises). A malformed body is 400. The answer is ``{"market", "leverage"}``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mmtrio.sim.extended import render
from mmtrio.sim.extended.params import Query, market_ok
from mmtrio.sim.extended.words import MAX_LEVERAGE, ApiError

if TYPE_CHECKING:
    from mmtrio.sim.extended.frontend import ExtendedFrontEnd

DEFAULT_LEVERAGE = Decimal(20)
MIN_LEVERAGE = Decimal(1)
LEVERAGE_STEP = Decimal("0.01")


def leverage_json(front: ExtendedFrontEnd) -> dict[str, str]:
    return {"market": front.symbol, "leverage": str(front.leverage)}


def get_leverage(front: ExtendedFrontEnd, q: Query, body: Any, a: list[str]) -> Any:
    """``GET /user/leverage[?market=…]``: the sim's one market."""
    market_ok(front, q, required=False)
    return [leverage_json(front)]


def _leverage(body: dict[str, Any]) -> Decimal:
    raw = body.get("leverage")
    if raw is None:
        raise ApiError(400, "leverage is required")
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ApiError(400, "leverage must be a decimal string")
    try:
        lev = Decimal(str(raw))
    except InvalidOperation:
        raise ApiError(400, f"leverage is not a number: {raw!r}") from None
    if not lev.is_finite():
        raise ApiError(400, f"leverage is not a number: {raw!r}")
    return lev


def update_leverage(front: ExtendedFrontEnd, q: Query, body: Any, a: list[str]) -> Any:
    """``PATCH /user/leverage {"market", "leverage"}`` (module docstring)."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object with market and leverage")
    market = body.get("market")
    if not isinstance(market, str):
        raise ApiError(400, "market is required")
    if market != front.symbol:
        raise ApiError(1001, f"Market not found: {market}")
    lev = _leverage(body)
    if lev < MIN_LEVERAGE:
        raise ApiError(1049, f"Leverage below min leverage: {lev} < {MIN_LEVERAGE}")
    if lev > MAX_LEVERAGE:
        raise ApiError(1050, f"Leverage exceeds max leverage: {lev} > {MAX_LEVERAGE}")
    if lev != lev.quantize(LEVERAGE_STEP):
        raise ApiError(1053, f"Leverage has invalid precision: {lev} (steps of {LEVERAGE_STEP})")
    venue = front.venue
    margin = render.exposure(venue) / lev
    equity = venue.account.balance + venue.account.unrealized(venue.mark_price())
    if margin > equity:
        raise ApiError(1052, f"Insufficient margin for new leverage: {margin} > {equity}")
    # "10", not "1E+1" or "10.00": the leverage as Extended writes it
    front.leverage = Decimal(int(lev)) if lev == lev.to_integral_value() else lev.normalize()
    front.market.on_account()  # the account stream shows the new margins at once
    return leverage_json(front)
