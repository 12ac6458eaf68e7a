"""[risk]: the hard limits (position, notional, losses, margin, stale data) and the kill switch."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import field_validator, model_validator
from pydantic_core.core_schema import ValidationInfo

from mmtrio.config.checks import _fail, _positive_size
from mmtrio.config.fields import Section, resolve_path, setting


class RiskConfig(Section):
    """[risk]: hard limits. Reloadable (a tighter limit applies at once), except kill_file."""

    max_position: Decimal = setting(
        reload=True,
        strict=False,
        unit="base asset",
        gt=0,
        le=1000,
        doc="absolute position limit, counting open and in-flight orders",
    )
    max_notional: Decimal = setting(
        reload=True,
        strict=False,
        unit="USDT",
        gt=0,
        le=10_000_000,
        doc="absolute position value limit at mark price",
    )
    warn_fraction: float = setting(
        0.5, reload=True, gt=0.0, le=1.0, doc="usage of a limit that logs a warning"
    )
    critical_fraction: float = setting(
        0.8, reload=True, gt=0.0, le=1.0, doc="usage that quotes only the reducing side"
    )
    hard_fraction: float = setting(
        1.0, reload=True, gt=0.0, le=1.0, doc="usage at which no increasing order is sent"
    )
    max_drawdown: Decimal = setting(
        reload=True,
        strict=False,
        unit="USDT",
        gt=0,
        le=1_000_000,
        doc="session equity drop from its peak that latches the kill switch",
    )
    max_daily_loss: Decimal | None = setting(
        None,
        reload=True,
        strict=False,
        unit="USDT",
        gt=0,
        le=1_000_000,
        doc="loss since the trading day began (UTC) that latches the kill switch; none: off",
    )
    max_cumulative_loss: Decimal | None = setting(
        None,
        reload=True,
        strict=False,
        unit="USDT",
        gt=0,
        le=10_000_000,
        doc="loss since the journal began (or the last override) that latches the kill "
        "switch; none: off",
    )
    day_start_hour_utc: int = setting(
        0, reload=True, unit="h", ge=0, le=23, doc="hour (UTC) the trading day starts at"
    )
    max_leverage: int | None = setting(
        None,
        reload=False,
        unit="x",
        ge=1,
        le=125,
        doc="start is refused while the venue's leverage on the symbol is above this; "
        "none: not checked",
    )
    min_balance: Decimal | None = setting(
        None,
        reload=True,
        strict=False,
        unit="USDT",
        gt=0,
        le=100_000_000,
        doc="available balance below this refuses the start and, while running, sends only "
        "reducing orders; none: off",
    )
    margin_ratio_reduce: float | None = setting(
        0.5,
        reload=True,
        gt=0.0,
        le=1.0,
        doc="venue margin ratio (liquidation at 1) from which only reducing orders are sent",
    )
    margin_ratio_halt: float | None = setting(
        0.8, reload=True, gt=0.0, le=1.0, doc="venue margin ratio at which quoting halts"
    )
    stale_book_ms: int = setting(
        2000, reload=True, unit="ms", ge=100, le=60_000, doc="no book update for this: stop quoting"
    )
    max_feed_latency_ms: int = setting(
        1000, reload=True, unit="ms", ge=10, le=60_000, doc="event-to-receipt lag that halts"
    )
    kill_file: Path = setting(
        reload=False, strict=False, doc="if this file exists, the kill switch is on"
    )
    flatten_on_kill: bool = setting(
        False, reload=True, doc="on kill, close the position with bounded-slippage orders"
    )
    flatten_max_slippage_bps: float = setting(
        20.0, reload=True, unit="bps", gt=0.0, le=500.0, doc="flatten price limit from mark"
    )

    _max_position_positive = field_validator("max_position")(_positive_size)

    @field_validator("kill_file")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        return resolve_path(value, info)

    @model_validator(mode="after")
    def _check(self) -> RiskConfig:
        problems: list[str] = []
        if not self.warn_fraction < self.critical_fraction < self.hard_fraction:
            problems.append(
                f"need warn_fraction < critical_fraction < hard_fraction, got "
                f"{self.warn_fraction} / {self.critical_fraction} / {self.hard_fraction}"
            )
        daily, total = self.max_daily_loss, self.max_cumulative_loss
        if daily is not None and total is not None and daily > total:
            problems.append(
                f"max_daily_loss = {daily} exceeds max_cumulative_loss = {total}: the daily "
                "limit could never be reached before the cumulative one; lower it or raise "
                "max_cumulative_loss"
            )
        low, high = self.margin_ratio_reduce, self.margin_ratio_halt
        if low is not None and high is not None and not low < high:
            problems.append(
                f"margin_ratio_reduce = {low} must be below margin_ratio_halt = {high}: "
                "reducing comes before halting"
            )
        _fail(problems)
        return self


__all__ = ["RiskConfig"]
