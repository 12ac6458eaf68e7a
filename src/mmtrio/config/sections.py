"""The configuration sections, one pydantic model per TOML table.

Every numeric field has a real operational lower and upper bound (what a market maker on one
Binance USD-M perpetual can sensibly use), a unit, and a reload marker. Cross-field rules of a
section live in that section's ``_check`` validator, which reports all of its problems at once.
The shipped ``config.toml`` documents each key; keep the two in step.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ValidationInfo

from mmtrio.config.fields import Section, resolve_path, setting

# A Unix socket path lives in sockaddr_un.sun_path: 108 bytes on Linux including the NUL.
UNIX_SOCKET_PATH_MAX = 107
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")


def _positive_size(value: Decimal, info: ValidationInfo) -> Decimal:
    """A base-asset quantity must be positive and finite; its lot grid is the venue's.

    The instrument (and so the lot step and minimum size) is read from the venue at start, or
    from the recording in paper mode and backtests: sizes are checked against it there
    (:func:`mmtrio.config.strategy.build_strategy_config`), with the key named.
    """
    if not value.is_finite() or value <= 0:
        raise PydanticCustomError("not_positive", "must be a positive number", {})
    return value


def _fail(problems: list[str]) -> None:
    """Raise one error carrying every cross-field problem of a section."""
    if problems:
        raise PydanticCustomError("cross_field", "{problems}", {"problems": "; ".join(problems)})


class VenueConfig(Section):
    """[venue]: where orders go. Immutable: changing venue, mode or symbol needs a restart."""

    name: str = setting(
        "binance",
        reload=False,
        doc="venue package (mmtrio.venues.registry): binance, extended, hyperliquid, okx; checked "
        "with the venue's own URL rules by `mmtrio config check` and `mmtrio run`",
    )
    mode: Literal["paper", "testnet", "live"] = setting(
        "paper",
        reload=False,
        doc="'paper' = the built-in simulated venue for this venue's protocol (in-process, "
        "paper keys); 'testnet' = the venue's test environment; 'live' = real money",
    )
    symbol: str | None = setting(
        None,
        reload=False,
        doc="instrument as the venue spells it (e.g. BTCUSDT); its grid is read from the "
        "venue. Required in testnet/live; in paper mode the recording names it",
    )
    rest_url: str | None = setting(
        None, reload=False, doc="REST base URL (testnet/live; default: the venue's own)"
    )
    market_ws_url: str | None = setting(
        None, reload=False, doc="market-data websocket base URL (testnet/live; default: venue's)"
    )
    private_ws_url: str | None = setting(
        None, reload=False, doc="private websocket base URL (testnet/live; default: venue's)"
    )
    order_ws_url: str | None = setting(
        None,
        reload=False,
        doc="order-entry websocket URL (the venue's WebSocket API; testnet/live; default: "
        "venue's, or none when rest_url is set; REST carries orders while it is down)",
    )
    api_key_file: Path | None = setting(
        None, reload=False, strict=False, doc="file holding the API key (mode 0600), or use env"
    )
    api_secret_file: Path | None = setting(
        None, reload=False, strict=False, doc="file holding the API secret (mode 0600), or use env"
    )
    passphrase_file: Path | None = setting(
        None, reload=False, strict=False, doc="file holding the API passphrase (OKX), or use env"
    )
    private_key_file: Path | None = setting(
        None,
        reload=False,
        strict=False,
        doc="file holding a signing private key (agent wallet, Stark key), or use env",
    )
    account: str | None = setting(
        None, reload=False, doc="account address or vault id, where the venue needs one"
    )
    recv_window_ms: int = setting(
        5000, reload=False, unit="ms", ge=500, le=60_000, doc="signed-request validity window"
    )

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: object) -> object:
        # The pre-registry keys, refused with the keys that replace them (a silent default
        # could send a paper config live, or the reverse).
        if isinstance(data, dict):
            problems = []
            if "kind" in data:
                kind = data["kind"]
                new = (
                    'name = "binance" and mode = "paper"'
                    if kind == "sim"
                    else 'name = "binance" and mode = "live" (or "testnet")'
                )
                problems.append(f"venue.kind = {kind!r} is replaced by {new}")
            if "testnet" in data:
                problems.append('venue.testnet is replaced by mode = "testnet" (or "live")')
            if problems:
                raise PydanticCustomError(
                    "renamed_keys", "{problems}", {"problems": "; ".join(problems)}
                )
        return data

    @field_validator("symbol")
    @classmethod
    def _symbol_text(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value or not value.isprintable() or any(c.isspace() for c in value):
            raise PydanticCustomError("bad_symbol", "must be the venue's instrument name", {})
        return value

    @field_validator("api_key_file", "api_secret_file", "passphrase_file", "private_key_file")
    @classmethod
    def _resolve(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else resolve_path(value, info)

    @property
    def url_overrides(self) -> dict[str, str]:
        """The URLs the file sets, under the venue protocol's endpoint names."""
        pairs = {
            "rest": self.rest_url,
            "market_ws": self.market_ws_url,
            "private_ws": self.private_ws_url,
            "order_ws": self.order_ws_url,
        }
        return {k: v for k, v in pairs.items() if v is not None}

    @model_validator(mode="after")
    def _check(self) -> VenueConfig:
        problems: list[str] = []
        secrets = ("api_key_file", "api_secret_file", "passphrase_file", "private_key_file")
        if self.mode == "paper":
            for key in (*self._url_keys(), *secrets):
                if getattr(self, key) is not None:
                    problems.append(
                        f"{key} is set but mode = 'paper' runs the built-in simulated venue "
                        "with its own URLs and paper keys: remove it, or set mode = 'testnet' "
                        "or 'live'"
                    )
        elif self.symbol is None:
            problems.append(f"symbol is required with mode = {self.mode!r}")
        _fail(problems)
        return self

    @staticmethod
    def _url_keys() -> tuple[str, ...]:
        return ("rest_url", "market_ws_url", "private_ws_url", "order_ws_url")


class SimConfig(Section):
    """[sim]: the built-in simulated venue (read only when venue.mode = 'paper')."""

    data_files: list[Annotated[Path, Field(strict=False)]] = setting(
        [],
        reload=False,
        strict=False,
        max_length=64,
        doc=(
            "recorded market data to replay, in order (a continuous pair is two files), "
            "or one event store directory (mmtrio data convert)"
        ),
    )
    synthetic: bool = setting(
        False, reload=False, doc="generate a synthetic market instead of replaying data_files"
    )
    speed: float = setting(
        1.0, reload=False, unit="× real time", ge=0.01, le=1000.0, doc="replay/clock speed"
    )
    seed: int = setting(
        0, reload=False, ge=0, le=2**32 - 1, doc="RNG seed of the synthetic market and faults"
    )
    latency_ms: int = setting(
        5, reload=False, unit="ms", ge=0, le=5000, doc="one-way simulated venue latency"
    )
    maker_fee_bps: float = setting(
        2.0, reload=False, unit="bps", ge=-10.0, le=10.0, doc="maker fee (negative = rebate)"
    )
    taker_fee_bps: float = setting(5.0, reload=False, unit="bps", ge=0.0, le=20.0, doc="taker fee")
    paper_balance_usdt: Decimal = setting(
        Decimal(10_000),
        reload=False,
        strict=False,
        unit="USDT",
        ge=10,
        le=10_000_000,
        doc="paper account wallet balance at start",
    )

    @field_validator("data_files")
    @classmethod
    def _files_exist(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        resolved = [resolve_path(p, info) for p in value]
        # A file, or an event store directory (mmtrio data convert) named alone.
        missing = [str(p) for p in resolved if not p.is_file() and not (p / "meta.json").is_file()]
        if missing:
            raise PydanticCustomError(
                "missing_file",
                "data file(s) not found: {missing}; paths are relative to the config file",
                {"missing": ", ".join(missing)},
            )
        return resolved

    @model_validator(mode="after")
    def _check(self) -> SimConfig:
        problems: list[str] = []
        if self.synthetic and self.data_files:
            problems.append("synthetic = true and data_files are both set: choose one market")
        if not self.synthetic and not self.data_files:
            problems.append("data_files is empty: list recordings to replay, or synthetic = true")
        _fail(problems)
        return self


class QuotingConfig(Section):
    """[quoting]: the quote model and its ladder. Reloadable (applied on the next requote)."""

    model: Literal["as", "as_infinite", "glft"] = setting(
        reload=True, doc="Avellaneda–Stoikov finite horizon, its infinite-horizon form, or GLFT"
    )
    gamma: float = setting(
        reload=True,
        unit="1/(USDT·base unit)",
        ge=1e-6,
        le=10.0,
        doc="risk aversion γ of the quote model",
    )
    horizon_s: float = setting(
        60.0, reload=True, unit="s", ge=1.0, le=86_400.0, doc="horizon T of model 'as'"
    )
    levels: int = setting(1, reload=True, ge=1, le=10, doc="quotes per side")
    level_spacing_ticks: int = setting(
        1, reload=True, unit="ticks", ge=1, le=10_000, doc="distance between successive levels"
    )
    base_qty: Decimal = setting(
        reload=True,
        strict=False,
        unit="base asset",
        gt=0,
        le=100,
        doc='size of each quote, e.g. "0.002" (must be a whole number of lots)',
    )
    inventory_skew: float = setting(
        1.0, reload=True, ge=0.0, le=10.0, doc="multiplier on the model's inventory skew"
    )
    funding_bias: float = setting(
        0.0,
        reload=True,
        ge=0.0,
        le=2.0,
        doc="share of the expected funding to next settlement priced into the reservation",
    )
    min_half_spread_ticks: int = setting(
        1, reload=True, unit="ticks", ge=1, le=10_000, doc="narrowest half spread quoted"
    )
    max_half_spread_ticks: int = setting(
        1000, reload=True, unit="ticks", ge=1, le=100_000, doc="widest half spread quoted"
    )
    reprice_tolerance_ticks: int = setting(
        0, reload=True, unit="ticks", ge=0, le=1000, doc="keep a resting quote within this"
    )
    amend_vs_replace: Literal["amend", "replace"] = setting(
        "amend", reload=True, doc="reprice by modifying the order, or by cancel + new"
    )
    post_only_safety_ticks: int = setting(
        1, reload=True, unit="ticks", ge=0, le=1000, doc="extra distance after a post-only reject"
    )
    post_only_safety_max_ticks: int = setting(
        20, reload=True, unit="ticks", ge=0, le=10_000, doc="cap of that extra distance"
    )
    requote_interval_ms: int = setting(
        100, reload=True, unit="ms", ge=10, le=60_000, doc="minimum time between requotes"
    )

    _base_qty_positive = field_validator("base_qty")(_positive_size)

    @model_validator(mode="after")
    def _check(self) -> QuotingConfig:
        problems: list[str] = []
        if self.min_half_spread_ticks > self.max_half_spread_ticks:
            problems.append(
                f"min_half_spread_ticks ({self.min_half_spread_ticks}) must be <= "
                f"max_half_spread_ticks ({self.max_half_spread_ticks})"
            )
        if self.post_only_safety_ticks > self.post_only_safety_max_ticks:
            problems.append(
                f"post_only_safety_ticks ({self.post_only_safety_ticks}) must be <= "
                f"post_only_safety_max_ticks ({self.post_only_safety_max_ticks})"
            )
        _fail(problems)
        return self


class EstimatorsConfig(Section):
    """[estimators]: volatility and fill-intensity estimation.

    Windows and warm-up are immutable: they define the estimators' state, and mixing
    statistics gathered under two windows would be wrong. Thresholds and fallbacks reload.
    """

    vol_half_life_ms: int = setting(
        30_000, reload=False, unit="ms", ge=1000, le=3_600_000, doc="EWMA volatility half-life"
    )
    intensity_window_ms: int = setting(
        300_000, reload=False, unit="ms", ge=10_000, le=3_600_000, doc="trade-intensity window"
    )
    min_trades: int = setting(
        50, reload=True, ge=1, le=100_000, doc="trades needed before the fit replaces fallbacks"
    )
    fallback_a: float = setting(
        1.0, reload=True, unit="1/s", gt=0.0, le=1000.0, doc="fill intensity A at distance 0"
    )
    fallback_k: float = setting(
        0.5, reload=True, unit="1/tick", gt=0.0, le=100.0, doc="intensity decay k per tick"
    )
    warmup_ms: int = setting(
        30_000, reload=False, unit="ms", ge=0, le=3_600_000, doc="no quoting before this"
    )
    min_fit_r2: float = setting(
        0.8,
        reload=True,
        ge=0.0,
        le=1.0,
        doc="quality gate of the intensity fit: an r² below this quotes on fallback_a/fallback_k",
    )


class DefenceConfig(Section):
    """[defence]: widen the side our markouts say is picked off; widen in a fast regime.

    Every key reloads except regime_window_ms (a new window starts its statistics empty).
    ``max_widen_ticks = 0`` turns the markout defence off, ``regime_max_scale = 1`` the regime.
    """

    markout_horizon_ms: Literal[1000, 5000, 30000, 60000] = setting(
        1000, reload=True, unit="ms", doc="markout horizon the defence reads (one of 1/5/30/60 s)"
    )
    markout_half_life_ms: int = setting(
        60_000,
        reload=True,
        unit="ms",
        ge=1000,
        le=3_600_000,
        doc="memory of the per-side markout score (time decay)",
    )
    markout_threshold_ticks: float = setting(
        0.0,
        reload=True,
        unit="ticks",
        ge=0.0,
        le=10_000.0,
        doc="a side whose mean markout is below minus this is being picked off",
    )
    markout_gain: float = setting(
        1.0, reload=True, ge=0.0, le=100.0, doc="ticks of widening per tick of excess loss"
    )
    max_widen_ticks: int = setting(
        80, reload=True, unit="ticks", ge=0, le=10_000, doc="bound of the markout widening"
    )
    regime_window_ms: int = setting(
        15_000,
        reload=False,
        unit="ms",
        ge=5_000,
        le=600_000,
        doc="short window of the bipower volatility, compared with a window 8 times longer",
    )
    regime_max_scale: float = setting(
        1.5, reload=True, ge=1.0, le=10.0, doc="bound of the half-spread multiplier"
    )


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
    """[journal]: retention and disk guards. Reloadable."""

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
