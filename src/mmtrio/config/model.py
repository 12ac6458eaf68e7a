"""The whole configuration: the sections plus the rules that span them."""

from __future__ import annotations

from pydantic import model_validator

from mmtrio.config.checks import _fail
from mmtrio.config.fields import Section, setting
from mmtrio.config.notify import TelegramConfig
from mmtrio.config.operations import (
    ExecutionConfig,
    JournalConfig,
    LoggingConfig,
    MetricsConfig,
    RuntimeConfig,
)
from mmtrio.config.quoting import DefenceConfig, EstimatorsConfig, QuotingConfig
from mmtrio.config.risk import RiskConfig
from mmtrio.config.venue import SimConfig, VenueConfig


class Config(Section):
    """The validated configuration of one bot (one venue, one symbol).

    Required tables: [venue], [quoting], [risk], [runtime]; [sim] is required when
    venue.mode = 'paper' and ignored otherwise; the rest have documented defaults.

    Sizes are in base-asset units; their lot grid is the venue's instrument, read at start
    (:func:`mmtrio.config.strategy.build_strategy_config` checks them against it).
    """

    venue: VenueConfig = setting(reload=False, strict=False, doc="venue and credentials")
    sim: SimConfig | None = setting(
        None, reload=False, strict=False, doc="simulated venue (venue.mode = 'paper')"
    )
    quoting: QuotingConfig = setting(reload=True, strict=False, doc="quote model")
    estimators: EstimatorsConfig = setting(
        EstimatorsConfig(), reload=True, strict=False, doc="volatility and intensity estimation"
    )
    defence: DefenceConfig = setting(
        DefenceConfig(), reload=True, strict=False, doc="markout and volatility-regime widening"
    )
    risk: RiskConfig = setting(reload=True, strict=False, doc="limits")
    execution: ExecutionConfig = setting(
        ExecutionConfig(), reload=False, strict=False, doc="request handling"
    )
    runtime: RuntimeConfig = setting(reload=False, strict=False, doc="process settings")
    journal: JournalConfig = setting(
        JournalConfig(), reload=True, strict=False, doc="journal retention and disk guards"
    )
    metrics: MetricsConfig = setting(
        MetricsConfig(), reload=False, strict=False, doc="Prometheus exposition"
    )
    logging: LoggingConfig = setting(
        LoggingConfig(), reload=True, strict=False, doc="log level and format"
    )
    telegram: TelegramConfig = setting(
        TelegramConfig(), reload=False, strict=False, doc="Telegram notifier and commands"
    )

    @model_validator(mode="after")
    def _check(self) -> Config:
        problems: list[str] = []
        sim = self.sim
        if self.venue.mode == "paper" and sim is None:
            problems.append("venue.mode = 'paper' needs a [sim] table (data_files or synthetic)")
        elif self.venue.mode == "paper" and sim and not sim.synthetic and not sim.data_files:
            problems.append(
                "sim.data_files is empty: list recordings to replay, or "
                "sim.synthetic = true (or leave the key out for the packaged sample)"
            )
        if self.quoting.base_qty > self.risk.max_position:
            problems.append(
                f"quoting.base_qty = {self.quoting.base_qty} exceeds risk.max_position = "
                f"{self.risk.max_position}: no quote could ever be sent"
            )
        # The stop's cancel-all and its confirmation get 3/4 of the deadline (the final
        # reconciliation and the flush the rest: runtime/shutdown.py, STOP_CANCEL_SHARE).
        if self.runtime.shutdown_deadline_s * 1000 * 3 / 4 < self.execution.request_timeout_ms * 2:
            problems.append(
                f"runtime.shutdown_deadline_s = {self.runtime.shutdown_deadline_s:g} s leaves no "
                f"time for a cancel-all and its confirmation query: they get 3/4 of it, "
                f"{self.runtime.shutdown_deadline_s * 3 / 4:g} s, and need "
                f"2 × execution.request_timeout_ms = "
                f"{self.execution.request_timeout_ms * 2 / 1000:g} s"
            )
        _fail(problems)
        return self
