"""The configuration sections, one pydantic model per TOML table.

Every numeric field has a real operational lower and upper bound (what a market maker on one
Binance USD-M perpetual can sensibly use), a unit, and a reload marker. Cross-field rules of a
section live in that section's ``_check`` validator, which reports all of its problems at once.
The shipped ``config.toml`` documents each key; keep the two in step.
"""

from __future__ import annotations

from mmtrio.config.operations import (
    UNIX_SOCKET_PATH_MAX,
    ExecutionConfig,
    JournalConfig,
    LoggingConfig,
    MetricsConfig,
    RestartConfig,
    RuntimeConfig,
)
from mmtrio.config.quoting import DefenceConfig, EstimatorsConfig, QuotingConfig
from mmtrio.config.risk import RiskConfig
from mmtrio.config.venue import SimConfig, VenueConfig

# The sections live in one module per subject: venue.py ([venue], [sim]), quoting.py
# ([quoting], [estimators], [defence]), risk.py ([risk]) and operations.py ([execution],
# [runtime], [runtime.restart], [journal], [metrics], [logging]); their shared validation
# helpers are in checks.py. This module re-exports every public name it used to define.
__all__ = [
    "UNIX_SOCKET_PATH_MAX",
    "DefenceConfig",
    "EstimatorsConfig",
    "ExecutionConfig",
    "JournalConfig",
    "LoggingConfig",
    "MetricsConfig",
    "QuotingConfig",
    "RestartConfig",
    "RiskConfig",
    "RuntimeConfig",
    "SimConfig",
    "VenueConfig",
]
