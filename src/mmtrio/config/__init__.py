"""mmtrio's configuration: pydantic models, TOML loading, credentials and reload planning.

- :func:`load_config` reads a TOML file into a validated, immutable :class:`Config`, or raises
  :class:`mmtrio.errors.ConfigError` listing every problem (key, value, allowed range).
- :func:`load_credentials` gets the API key pair from the environment or owner-only files.
- :func:`diff_reload` tells a SIGHUP handler what may change live and what is refused.

The sections are in :mod:`mmtrio.config.sections`; the shipped ``config.toml`` documents
every key with its unit and bounds.
"""

from __future__ import annotations

from mmtrio.config.credentials import (
    ENV_API_KEY,
    ENV_API_SECRET,
    Credentials,
    load_credentials,
    load_venue_credentials,
)
from mmtrio.config.loading import ConfigValidationError, Problem, load_config, parse_config
from mmtrio.config.model import Config
from mmtrio.config.operations import (
    ExecutionConfig,
    JournalConfig,
    LoggingConfig,
    MetricsConfig,
    RestartConfig,
    RuntimeConfig,
)
from mmtrio.config.quoting import EstimatorsConfig, QuotingConfig
from mmtrio.config.reload import ConfigChange, ReloadPlan, diff_reload
from mmtrio.config.risk import RiskConfig
from mmtrio.config.venue import SimConfig, VenueConfig

__all__ = [
    "ENV_API_KEY",
    "ENV_API_SECRET",
    "Config",
    "ConfigChange",
    "ConfigValidationError",
    "Credentials",
    "EstimatorsConfig",
    "ExecutionConfig",
    "JournalConfig",
    "LoggingConfig",
    "MetricsConfig",
    "Problem",
    "QuotingConfig",
    "ReloadPlan",
    "RestartConfig",
    "RiskConfig",
    "RuntimeConfig",
    "SimConfig",
    "VenueConfig",
    "diff_reload",
    "load_config",
    "load_credentials",
    "load_venue_credentials",
    "parse_config",
]
