"""[venue] and [sim]: where orders go, and the built-in simulated venue. Restart-only."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ValidationInfo

from mmtrio.config.checks import _fail
from mmtrio.config.fields import Section, resolve_path, setting

MIN_MARKET_SILENCE_S = 1.0  # [venue] market_silence_s: 0 (off) or at least this


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
    # Restart-only like the whole section: the market stream is built with it at start.
    # 10 s (mmtrio.venues.silence.DEFAULT_MARKET_SILENCE_S, which says why) is five times the
    # default stale-book guard; a book silent that long is already unquoted.
    market_silence_s: float = setting(
        10.0,
        reload=False,
        unit="s",
        ge=0.0,
        le=3600.0,
        doc="a market stream connected but without a market message for this long is "
        "reconnected (a stream that only answers pings is mute); 0 = off, else at least 1 s. "
        "User streams and order sockets are not watched",
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

    @field_validator("market_silence_s")
    @classmethod
    def _silence_limit(cls, value: float) -> float:
        if 0 < value < MIN_MARKET_SILENCE_S:
            raise PydanticCustomError(
                "silence_too_short",
                "must be 0 (off) or at least {low} s: a shorter silence is a normal gap between "
                "two market messages, and every one would reconnect the stream",
                {"low": MIN_MARKET_SILENCE_S},
            )
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
        if isinstance(info.context, dict) and info.context.get("paper") is False:
            return resolved  # testnet/live: [sim] is not read (config.toml says so)
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
        # An empty data_files is refused by Config, in paper mode only: [sim] is read only
        # then, and a testnet/live config made from `mmtrio init` must not fail on it.
        _fail(problems)
        return self


__all__ = ["SimConfig", "VenueConfig"]
