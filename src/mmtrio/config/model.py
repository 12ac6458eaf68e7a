"""The whole configuration: the sections plus the rules that span them."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationInfo, model_validator

from mmtrio.config.fields import Section, setting
from mmtrio.config.sections import (
    EstimatorsConfig,
    ExecutionConfig,
    JournalConfig,
    LoggingConfig,
    MetricsConfig,
    QuotingConfig,
    RiskConfig,
    RuntimeConfig,
    SimConfig,
    VenueConfig,
    _fail,
)
from mmtrio.core.instruments import KNOWN_INSTRUMENTS, Instrument, instrument_for


class Config(Section):
    """The validated configuration of one bot (one venue, one symbol).

    Required tables: [venue], [quoting], [risk], [runtime]; [sim] is required when
    venue.kind = 'sim' and ignored otherwise; the rest have documented defaults.
    """

    venue: VenueConfig = setting(reload=False, strict=False, doc="venue and credentials")
    sim: SimConfig | None = setting(
        None, reload=False, strict=False, doc="simulated venue (venue.kind = 'sim')"
    )
    quoting: QuotingConfig = setting(reload=True, strict=False, doc="quote model")
    estimators: EstimatorsConfig = setting(
        EstimatorsConfig(), reload=True, strict=False, doc="volatility and intensity estimation"
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

    @property
    def instrument(self) -> Instrument:
        """The instrument of ``venue.symbol`` (its tick, lot and notional grid)."""
        return instrument_for(self.venue.symbol)

    @property
    def base_qty_lots(self) -> int:
        """``quoting.base_qty`` in lots (exact: validation guarantees a whole number)."""
        return self.instrument.qty_to_lots(self.quoting.base_qty)

    @property
    def max_position_lots(self) -> int:
        """``risk.max_position`` in lots (exact: validation guarantees a whole number)."""
        return self.instrument.qty_to_lots(self.risk.max_position)

    @model_validator(mode="before")
    @classmethod
    def _share_instrument(cls, data: Any, info: ValidationInfo) -> Any:
        # Let the sections check sizes against the lot grid while they validate, so those
        # problems are listed together with all the others (see sections._lot_aligned).
        if isinstance(data, dict) and isinstance(info.context, dict):
            venue = data.get("venue")
            symbol = venue.get("symbol") if isinstance(venue, dict) else None
            if isinstance(symbol, str) and symbol in KNOWN_INSTRUMENTS:
                info.context["instrument"] = KNOWN_INSTRUMENTS[symbol]
        return data

    @model_validator(mode="after")
    def _check(self) -> Config:
        problems: list[str] = []
        if self.venue.kind == "sim" and self.sim is None:
            problems.append("venue.kind = 'sim' needs a [sim] table (data_files or synthetic)")
        inst = self.instrument
        for key, qty in (
            ("quoting.base_qty", self.quoting.base_qty),
            ("risk.max_position", self.risk.max_position),
        ):
            if qty % inst.lot_size != 0:
                problems.append(
                    f"{key} = {qty} is not a multiple of {inst.symbol}'s lot step {inst.lot_size}"
                )
        min_qty = inst.lot_size * inst.min_qty
        if self.quoting.base_qty < min_qty:
            problems.append(
                f"quoting.base_qty = {self.quoting.base_qty} is below {inst.symbol}'s minimum "
                f"order size {min_qty}"
            )
        if self.quoting.base_qty > self.risk.max_position:
            problems.append(
                f"quoting.base_qty = {self.quoting.base_qty} exceeds risk.max_position = "
                f"{self.risk.max_position}: no quote could ever be sent"
            )
        # Every order must meet the venue's min notional, and the notional limit has to leave
        # room for one quote per level on a side, or the bot can never show its full ladder.
        need = inst.min_notional * self.quoting.levels
        if self.risk.max_notional < need:
            problems.append(
                f"risk.max_notional = {self.risk.max_notional} USDT is below "
                f"{self.quoting.levels} level(s) × {inst.symbol} min notional "
                f"{inst.min_notional} = {need} USDT"
            )
        # The stop's cancel-all and its confirmation get 3/4 of the deadline (the final
        # reconciliation and the flush the rest: runtime/engine.py, STOP_CANCEL_SHARE).
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
