"""The process's sections: [execution], [runtime] with [runtime.restart], [journal],
[metrics] and [logging]."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ValidationInfo

from mmtrio.config.checks import _fail
from mmtrio.config.fields import Section, resolve_path, setting

# A Unix socket path lives in sockaddr_un.sun_path: 108 bytes on Linux including the NUL.
UNIX_SOCKET_PATH_MAX = 107
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")


class ExecutionConfig(Section):
    """[execution]: request handling. Immutable: it parameterises live in-flight bookkeeping."""

    request_timeout_ms: int = setting(
        5000, reload=False, unit="ms", ge=100, le=30_000, doc="after this a request is unknown"
    )
    cancel_confirm_deadline_ms: int = setting(
        10_000,
        reload=False,
        unit="ms",
        ge=100,
        le=120_000,
        doc="an unconfirmed cancel frees its slot after this",
    )
    breaker_failures: int = setting(
        5, reload=False, ge=1, le=100, doc="consecutive failures that open the circuit breaker"
    )
    breaker_probe_interval_ms: int = setting(
        5000, reload=False, unit="ms", ge=100, le=600_000, doc="probe period while open"
    )
    rate_budget_margin: float = setting(
        0.2, reload=False, ge=0.0, le=0.9, doc="share of the venue's order-rate budget held back"
    )

    @model_validator(mode="after")
    def _check(self) -> ExecutionConfig:
        if self.cancel_confirm_deadline_ms < self.request_timeout_ms:
            _fail(
                [
                    f"cancel_confirm_deadline_ms ({self.cancel_confirm_deadline_ms}) must be >= "
                    f"request_timeout_ms ({self.request_timeout_ms}): a slot must not be freed "
                    "before the cancel request itself has timed out"
                ]
            )
        return self


class RestartConfig(Section):
    """[runtime.restart]: the supervisor's restart policy (mmtrio.runtime.supervisor)."""

    base_delay_s: float = setting(
        0.5, reload=False, unit="s", ge=0.01, le=60.0, doc="first backoff ceiling"
    )
    cap_s: float = setting(30.0, reload=False, unit="s", ge=0.1, le=3600.0, doc="backoff cap")
    max_restarts: int = setting(
        5, reload=False, ge=0, le=100, doc="failures tolerated per window; one more escalates"
    )
    window_s: float = setting(
        300.0, reload=False, unit="s", ge=1.0, le=86_400.0, doc="failure-counting window"
    )

    @model_validator(mode="after")
    def _check(self) -> RestartConfig:
        if self.base_delay_s > self.cap_s:
            _fail([f"base_delay_s ({self.base_delay_s}) must be <= cap_s ({self.cap_s})"])
        return self


class RuntimeConfig(Section):
    """[runtime]: process-level settings. Immutable except the reconcile interval.

    ``name``, ``state_dir`` and ``control_socket`` have computed defaults (bot name
    ``<venue>-<symbol>``, ``<state root>/<name>``, ``<state_dir>/control.sock``) filled in
    before validation by :func:`mmtrio.config.locations.with_location_defaults`.
    """

    name: str = setting(
        reload=False,
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$",
        doc="bot name: metric label `bot` and state directory name (default <venue>-<symbol>)",
    )
    state_dir: Path = setting(
        reload=False,
        strict=False,
        doc="journal, order-id counter, lock, control socket and kill file (default: per-user "
        "state directory / name)",
    )
    control_socket: Path = setting(
        reload=False, strict=False, doc="Unix socket for `mmtrio status`/`kill`/`resume`"
    )
    reconcile_interval_s: float = setting(
        30.0, reload=True, unit="s", ge=1.0, le=3600.0, doc="periodic venue reconciliation"
    )
    deadman_countdown_ms: int = setting(
        30_000, reload=False, unit="ms", ge=5000, le=600_000, doc="venue-side cancel-all timer"
    )
    deadman_refresh_ms: int = setting(
        10_000, reload=False, unit="ms", ge=500, le=300_000, doc="how often the timer is reset"
    )
    shutdown_deadline_s: float = setting(
        15.0, reload=False, unit="s", ge=1.0, le=300.0, doc="budget for the shielded cleanup"
    )
    foreign_orders: Literal["cancel", "adopt"] = setting(
        "cancel", reload=False, doc="open orders found at start that this bot did not place"
    )
    fault_injection: bool = setting(
        False,
        reload=False,
        doc="accept `crash` requests on the control socket (chaos runs only, never in production)",
    )
    restart: RestartConfig = setting(
        RestartConfig(), reload=False, strict=False, doc="supervisor restart policy"
    )

    @field_validator("state_dir", "control_socket")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        return resolve_path(value, info)

    @model_validator(mode="after")
    def _check(self) -> RuntimeConfig:
        problems: list[str] = []
        if self.deadman_refresh_ms * 2 >= self.deadman_countdown_ms:
            problems.append(
                f"deadman_refresh_ms ({self.deadman_refresh_ms}) must be < "
                f"deadman_countdown_ms / 2 ({self.deadman_countdown_ms / 2:g}): one late "
                "refresh must not let the venue cancel everything"
            )
        if len(str(self.control_socket).encode()) > UNIX_SOCKET_PATH_MAX:
            problems.append(
                f"control_socket path is {len(str(self.control_socket).encode())} bytes; a Unix "
                f"socket path must be at most {UNIX_SOCKET_PATH_MAX}: choose a shorter path"
            )
        if self.state_dir.exists() and not self.state_dir.is_dir():
            problems.append(f"state_dir {self.state_dir} exists and is not a directory")
        _fail(problems)
        return self


class JournalConfig(Section):
    """[journal]: retention and disk guards (reloadable), and the commit durability (not)."""

    retention_days: int = setting(
        30, reload=True, unit="days", ge=1, le=3650, doc="journal segments older are deleted"
    )
    max_size_mb: int = setting(
        2048, reload=True, unit="MB", ge=10, le=1_000_000, doc="oldest segments go above this"
    )
    disk_warn_free_mb: int = setting(
        1024, reload=True, unit="MB", ge=10, le=1_000_000, doc="free space that warns"
    )
    disk_halt_free_mb: int = setting(
        256, reload=True, unit="MB", ge=10, le=1_000_000, doc="free space that stops quoting"
    )
    # "full": an fsync per commit (the writer commits batches), so a commit survives a power
    # loss. "normal": WAL without that fsync (SQLite's synchronous=NORMAL); a commit survives
    # a crash of the process (kill -9) but the last ones can be lost with the power, and a
    # lost fill is a wrong position until reconciliation. The deterministic simulation uses
    # "normal": it simulates kill -9, never a power loss, and the fsync was ~10 % of its wall
    # time (issue 21). Opened once at start: not reloadable.
    sync: Literal["full", "normal"] = setting(
        "full", reload=False, doc="fsync every commit (full) or survive only a crash (normal)"
    )

    @model_validator(mode="after")
    def _check(self) -> JournalConfig:
        if self.disk_warn_free_mb <= self.disk_halt_free_mb:
            _fail(
                [
                    f"disk_warn_free_mb ({self.disk_warn_free_mb}) must be > disk_halt_free_mb "
                    f"({self.disk_halt_free_mb}): the warning has to come before the halt"
                ]
            )
        return self


class MetricsConfig(Section):
    """[metrics]: Prometheus exposition. Immutable (the port is bound at start)."""

    enabled: bool = setting(False, reload=False, doc="serve /metrics")
    host: str = setting(
        "127.0.0.1", reload=False, doc="listen address; keep loopback unless firewalled"
    )
    port: int = setting(9464, reload=False, ge=1024, le=65_535, doc="listen port (unprivileged)")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _HOSTNAME.match(value):
                raise PydanticCustomError("bad_host", "not an IP address or host name") from None
        return value


class LoggingConfig(Section):
    """[logging]: level reloads; the output format is fixed at start."""

    level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = setting(
        "INFO", reload=True, doc="minimum level logged"
    )
    json_lines: bool = setting(
        False, reload=False, alias="json", doc="one JSON object per line (headless/systemd)"
    )


__all__ = [
    "UNIX_SOCKET_PATH_MAX",
    "ExecutionConfig",
    "JournalConfig",
    "LoggingConfig",
    "MetricsConfig",
    "RestartConfig",
    "RuntimeConfig",
]
