"""The risk layer's limits and the inventory bands they define.

:class:`RiskLimits` is validated on construction (ParameterError naming the field); the bands
are |position| / max_position: NORMAL < warn ≤ WARN < critical ≤ CRITICAL < hard ≤ HARD (what
each band does: :mod:`mmtrio.core.risk`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from decimal import Decimal

from mmtrio.core.loss_limits import LossLimits, positive_money
from mmtrio.errors import ParameterError


def _fraction(name: str, value: float, *, low_open: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if not low_open < value <= high:
        raise ParameterError(f"{name} must be in ({low_open}, {high}], got {value}")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Hard limits of the risk layer; every value is validated on construction.

    Lots/ms are positive ints; money is a positive finite ``Decimal`` in quote currency;
    the band thresholds are fractions of ``max_position_lots`` with 0 < warn < critical ≤
    hard ≤ 1. ``max_quote_to_trade`` None means the ratio is shown but never warned about.
    ``max_daily_loss``/``max_cumulative_loss`` None: that limit is off; the trading day starts
    at ``day_start_hour_utc`` (UTC). ``margin_ratio_reduce`` < ``margin_ratio_halt`` (fractions,
    each optional) and ``min_balance`` are the margin guard's thresholds
    (:mod:`mmtrio.core.account_guard`).
    """

    max_position_lots: int
    max_notional: Decimal
    max_drawdown: Decimal
    stale_book_ms: int
    max_feed_latency_ms: int
    max_orders_per_window: int
    order_rate_window_ms: int = 60_000
    warn_fraction: float = 0.5
    critical_fraction: float = 0.8
    hard_fraction: float = 1.0
    max_quote_to_trade: float | None = None
    max_daily_loss: Decimal | None = None
    max_cumulative_loss: Decimal | None = None
    day_start_hour_utc: int = 0
    margin_ratio_reduce: float | None = None
    margin_ratio_halt: float | None = None
    min_balance: Decimal | None = None

    def __post_init__(self) -> None:
        for name in (
            "max_position_lots",
            "stale_book_ms",
            "max_feed_latency_ms",
            "max_orders_per_window",
            "order_rate_window_ms",
        ):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val <= 0:
                raise ParameterError(f"risk limit {name} must be a positive integer, got {val!r}")
        for name in ("max_notional", "max_drawdown"):
            val = getattr(self, name)
            if not isinstance(val, Decimal) or not val.is_finite() or val <= 0:
                raise ParameterError(
                    f"risk limit {name} must be a positive finite Decimal (quote currency), "
                    f"got {val!r}"
                )
        _fraction("warn_fraction", self.warn_fraction, low_open=0.0, high=1.0)
        _fraction("critical_fraction", self.critical_fraction, low_open=0.0, high=1.0)
        _fraction("hard_fraction", self.hard_fraction, low_open=0.0, high=1.0)
        if not self.warn_fraction < self.critical_fraction <= self.hard_fraction:
            raise ParameterError(
                "inventory bands need warn < critical <= hard, got "
                f"{self.warn_fraction}, {self.critical_fraction}, {self.hard_fraction}"
            )
        if self.order_rate_window_ms % 1000 != 0:
            raise ParameterError(
                f"order_rate_window_ms must be whole seconds, got {self.order_rate_window_ms}"
            )
        if self.max_quote_to_trade is not None:
            _fraction("max_quote_to_trade", self.max_quote_to_trade, low_open=0.0, high=math.inf)
        for name in ("max_daily_loss", "max_cumulative_loss"):
            val = getattr(self, name)
            if val is not None and not positive_money(val):
                raise ParameterError(
                    f"risk limit {name} must be a positive finite Decimal or None, got {val!r}"
                )
        if (
            self.max_daily_loss is not None
            and self.max_cumulative_loss is not None
            and self.max_daily_loss > self.max_cumulative_loss
        ):
            raise ParameterError(
                f"max_daily_loss {self.max_daily_loss} exceeds max_cumulative_loss "
                f"{self.max_cumulative_loss}: one day could never reach the daily limit"
            )
        for name in ("margin_ratio_reduce", "margin_ratio_halt"):
            val = getattr(self, name)
            if val is not None:
                _fraction(name, val, low_open=0.0, high=1.0)
        reduce, halt = self.margin_ratio_reduce, self.margin_ratio_halt
        if reduce is not None and halt is not None and not reduce < halt:
            raise ParameterError(
                f"margin_ratio_reduce {reduce} must be below margin_ratio_halt {halt}"
            )
        if self.min_balance is not None and not positive_money(self.min_balance):
            raise ParameterError(
                f"risk limit min_balance must be a positive finite Decimal or None, "
                f"got {self.min_balance!r}"
            )
        hour = self.day_start_hour_utc
        if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
            raise ParameterError(f"day_start_hour_utc must be an integer 0..23, got {hour!r}")

    def loss_limits(self) -> LossLimits:
        """Fresh loss limits for these settings."""
        return LossLimits(
            self.max_drawdown,
            self.max_daily_loss,
            self.max_cumulative_loss,
            self.day_start_hour_utc,
        )


class InventoryBand(enum.Enum):
    """|position| / max_position: NORMAL < warn ≤ WARN < critical ≤ CRITICAL < hard ≤ HARD."""

    NORMAL = "NORMAL"
    WARN = "WARN"
    CRITICAL = "CRITICAL"
    HARD = "HARD"


def band_for(position_lots: int, limits: RiskLimits) -> InventoryBand:
    """The inventory band of ``position_lots`` (a threshold reached belongs to the band)."""
    ratio = abs(position_lots) / limits.max_position_lots
    if ratio >= limits.hard_fraction:
        return InventoryBand.HARD
    if ratio >= limits.critical_fraction:
        return InventoryBand.CRITICAL
    if ratio >= limits.warn_fraction:
        return InventoryBand.WARN
    return InventoryBand.NORMAL


__all__ = ["InventoryBand", "RiskLimits", "band_for"]
