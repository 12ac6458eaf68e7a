"""The pre-trade check: every place and amend is judged here before it leaves.

Rules (the decisions are recorded in :mod:`mmtrio.core.risk`): the worst case counts every
open, in-flight and unknown-outcome order on the side; notional is valued at max(mark, order
price); reduce-only orders pass in every state when they reduce; HALTED refuses the rest;
REDUCING_ONLY passes only what moves the position toward zero; the position and notional
limits refuse what moves a worst case further out; the HARD band refuses anything adding to
the position.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mmtrio.core.events import Side
from mmtrio.core.frozen import fast_init
from mmtrio.core.guards import GuardVerdict, TradingState
from mmtrio.core.instruments import Instrument
from mmtrio.core.risk_limits import InventoryBand, RiskLimits, band_for
from mmtrio.errors import ParameterError


@fast_init
@dataclass(frozen=True, slots=True)
class RiskDecision:
    """Outcome of a pre-trade check; ``reason`` always says why (accepted or not)."""

    allowed: bool
    reason: str
    worst_case_lots: int
    worst_case_notional: Decimal


def _validate(side: Side, price_ticks: int, qty_lots: int, exposure: tuple[int, int]) -> None:
    if not isinstance(side, Side):
        raise ParameterError(f"order side must be a Side, got {side!r}")
    if price_ticks <= 0:
        raise ParameterError(f"order price must be a positive number of ticks, got {price_ticks}")
    if qty_lots <= 0:
        raise ParameterError(f"order quantity must be a positive number of lots, got {qty_lots}")
    if exposure[0] < 0 or exposure[1] < 0:
        raise ParameterError(f"open exposure (buy_lots, sell_lots) must be >= 0, got {exposure}")


def _reduces(side: Side, qty_lots: int, position_lots: int) -> bool:
    return position_lots * side.sign < 0 and qty_lots <= abs(position_lots)


def _core_check(
    limits: RiskLimits,
    instrument: Instrument,
    state: GuardVerdict,
    *,
    side: Side,
    price_ticks: int,
    extra_lots: int,
    total_lots: int,
    reduce_only: bool,
    position_lots: int,
    exposure: tuple[int, int],
    mark_price: Decimal | None,
    what: str,
) -> RiskDecision:
    """Shared rule: ``extra_lots`` is what this request can add to the side's worst case."""
    side_exposure = exposure[0] if side is Side.BUY else exposure[1]
    without = position_lots + side.sign * side_exposure
    worst = without + side.sign * extra_lots
    ref = instrument.ticks_to_price(price_ticks)
    if mark_price is not None:
        if not mark_price.is_finite() or mark_price <= 0:
            raise ParameterError(f"mark price must be a positive finite Decimal, got {mark_price}")
        ref = max(ref, mark_price)
    lot = instrument.base_per_lot
    notional, notional_without = abs(worst) * lot * ref, abs(without) * lot * ref

    def qty(lots: int) -> str:  # messages speak the operator's units, not lots
        return f"{instrument.lots_to_base(lots)} {instrument.base_asset}"

    if reduce_only:
        if _reduces(side, total_lots, position_lots):
            return RiskDecision(True, f"reduce-only {what} reduces the position", worst, notional)
        return RiskDecision(
            False,
            f"reduce-only {side.value} {what} of {qty(total_lots)} would not reduce position "
            f"{qty(position_lots)}",
            worst,
            notional,
        )
    if state.state is TradingState.HALTED:
        return RiskDecision(False, f"trading halted: {state.reason}", worst, notional)
    if extra_lots == 0:
        return RiskDecision(True, f"{what} does not grow the worst case", worst, notional)
    if state.state is TradingState.REDUCING_ONLY:
        # Only orders that move the position toward zero without crossing it.
        if position_lots * side.sign < 0 and worst * position_lots >= 0:
            return RiskDecision(True, f"{what} reduces the position", worst, notional)
        return RiskDecision(
            False,
            f"reducing only ({state.reason}): {side.value} {what} would not reduce position "
            f"{qty(position_lots)} in the worst case ({qty(worst)})",
            worst,
            notional,
        )
    if abs(worst) > limits.max_position_lots and abs(worst) > abs(without):
        return RiskDecision(
            False,
            f"{side.value} {what} worst-case position {qty(worst)} exceeds the limit "
            f"{qty(limits.max_position_lots)} (position {qty(position_lots)}, open "
            f"{side.value.lower()}s {qty(side_exposure)}, this {qty(extra_lots)})",
            worst,
            notional,
        )
    if notional > limits.max_notional and notional > notional_without:
        return RiskDecision(
            False,
            f"{side.value} {what} worst-case notional {notional:.2f} {instrument.quote_asset} "
            f"exceeds the limit {limits.max_notional} ({qty(abs(worst))} at {ref})",
            worst,
            notional,
        )
    if position_lots * side.sign > 0 and band_for(position_lots, limits) is InventoryBand.HARD:
        # The position is at the HARD band: nothing may add to it, whatever sent it.
        return RiskDecision(
            False,
            f"inventory HARD band: {side.value} {what} would increase position "
            f"{qty(position_lots)}",
            worst,
            notional,
        )
    return RiskDecision(True, f"{what} within limits", worst, notional)


def check_order(
    limits: RiskLimits,
    instrument: Instrument,
    state: GuardVerdict,
    *,
    side: Side,
    price_ticks: int,
    qty_lots: int,
    reduce_only: bool,
    position_lots: int,
    exposure: tuple[int, int],
    mark_price: Decimal | None,
) -> RiskDecision:
    """Pre-trade check of a new order under ``state``.

    ``exposure`` is (buy_lots, sell_lots) of every open, in-flight and unknown-outcome order
    (remaining quantity), not including this one.
    """
    _validate(side, price_ticks, qty_lots, exposure)
    return _core_check(
        limits,
        instrument,
        state,
        side=side,
        price_ticks=price_ticks,
        extra_lots=qty_lots,
        total_lots=qty_lots,
        reduce_only=reduce_only,
        position_lots=position_lots,
        exposure=exposure,
        mark_price=mark_price,
        what="order",
    )


def check_amend(
    limits: RiskLimits,
    instrument: Instrument,
    state: GuardVerdict,
    *,
    side: Side,
    new_price_ticks: int,
    new_remaining_lots: int,
    old_remaining_lots: int,
    reduce_only: bool,
    position_lots: int,
    exposure: tuple[int, int],
    mark_price: Decimal | None,
) -> RiskDecision:
    """Pre-trade check of an amend; ``exposure`` still includes the order's old remaining."""
    _validate(side, new_price_ticks, new_remaining_lots, exposure)
    side_exposure = exposure[0] if side is Side.BUY else exposure[1]
    if not 0 <= old_remaining_lots <= side_exposure:
        raise ParameterError(
            f"amended order's old remaining {old_remaining_lots} lots must be within the "
            f"{side.value} exposure {side_exposure} lots passed with it"
        )
    extra = max(new_remaining_lots - old_remaining_lots, 0)
    return _core_check(
        limits,
        instrument,
        state,
        side=side,
        price_ticks=new_price_ticks,
        extra_lots=extra,
        total_lots=new_remaining_lots,
        reduce_only=reduce_only,
        position_lots=position_lots,
        exposure=exposure,
        mark_price=mark_price,
        what="amend",
    )


__all__ = ["RiskDecision", "check_amend", "check_order"]
