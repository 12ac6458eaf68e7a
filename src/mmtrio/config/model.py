"""The whole configuration: the sections plus the rules that span them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
        _fail(cross_section_problems({name: getattr(self, name) for name in CROSS_SECTIONS}))
        return self


# The sections the rules spanning sections read (:func:`cross_section_problems`).
CROSS_SECTIONS = ("venue", "sim", "quoting", "risk", "runtime", "execution")


def cross_section_problems(sections: Mapping[str, Any]) -> list[str]:
    """The problems of the rules that span sections, each checked when the sections it reads
    are in ``sections`` (name → validated section; ``sim`` may be ``None``, absent).

    :class:`Config` passes all of its own; when some section is invalid pydantic never runs
    :meth:`Config._check`, and :func:`mmtrio.config.loading.parse_config` passes the sections
    that validated on their own, so these problems are listed with the others all the same.
    """
    problems: list[str] = []
    venue = sections.get("venue")
    if isinstance(venue, VenueConfig) and venue.mode == "paper" and "sim" in sections:
        sim = sections["sim"]
        if sim is None:
            problems.append("venue.mode = 'paper' needs a [sim] table (data_files or synthetic)")
        elif isinstance(sim, SimConfig) and not sim.synthetic and not sim.data_files:
            problems.append(
                "sim.data_files is empty: list recordings to replay, or "
                "sim.synthetic = true (or leave the key out for the packaged sample)"
            )
    quoting, risk = sections.get("quoting"), sections.get("risk")
    if (
        isinstance(quoting, QuotingConfig)
        and isinstance(risk, RiskConfig)
        and quoting.base_qty > risk.max_position
    ):
        problems.append(
            f"quoting.base_qty = {quoting.base_qty} exceeds risk.max_position = "
            f"{risk.max_position}: no quote could ever be sent"
        )
    runtime, execution = sections.get("runtime"), sections.get("execution")
    # The stop's cancel-all and its confirmation get 3/4 of the deadline (the final
    # reconciliation and the flush the rest: runtime/shutdown.py, STOP_CANCEL_SHARE).
    if (
        isinstance(runtime, RuntimeConfig)
        and isinstance(execution, ExecutionConfig)
        and runtime.shutdown_deadline_s * 1000 * 3 / 4 < execution.request_timeout_ms * 2
    ):
        problems.append(
            f"runtime.shutdown_deadline_s = {runtime.shutdown_deadline_s:g} s leaves no "
            f"time for a cancel-all and its confirmation query: they get 3/4 of it, "
            f"{runtime.shutdown_deadline_s * 3 / 4:g} s, and need "
            f"2 × execution.request_timeout_ms = "
            f"{execution.request_timeout_ms * 2 / 1000:g} s"
        )
    return problems
