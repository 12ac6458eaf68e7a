"""Paper venues: a simulated venue built from ``[sim]``, for a venue's protocol.

The CLI assembles paper trading (never the runtime): it builds the simulated venue here,
serves it on loopback, and points the bot's venue settings at it with the paper keys.

The instrument comes from the data: a recording names its symbol and its prices and sizes
give the grid (:func:`mmtrio.venues.binance.recording.scan_recording`); a configured symbol
must match it. The synthetic market has no data to read: it trades a documented instrument
(:data:`SYNTHETIC_TICK`, :data:`SYNTHETIC_LOT`) under the configured symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from mmtrio.core.instruments import Instrument
from mmtrio.data.store import is_store, open_store
from mmtrio.errors import ConfigError, ProtocolError
from mmtrio.exchange.matching import FeeSchedule
from mmtrio.sim.auth import Credentials
from mmtrio.sim.market import MarketDriver
from mmtrio.sim.venue import DEFAULT_CREDENTIALS, SimConfig, SimVenue
from mmtrio.venues.binance.recording import scan_recording

SYNTHETIC_TICK = Decimal("0.10")
SYNTHETIC_LOT = Decimal("0.001")
SYNTHETIC_SYMBOL = "BTCUSDT"
SYNTHETIC_MIN_NOTIONAL = Decimal(5)
PAPER_VENUES = ("binance",)
"""Venues with a simulated front end (``mmtrio sim --venue``, ``mode = "paper"``)."""


@dataclass(frozen=True, slots=True)
class PaperSpec:
    """What a paper venue replays and how (the ``[sim]`` section, or ``mmtrio sim`` flags)."""

    data_files: tuple[Path, ...] = ()
    synthetic: bool = False
    seed: int = 0
    speed: float = 1.0
    latency_ms: int = 0
    maker_fee_bps: float = 2.0
    taker_fee_bps: float = 5.0
    balance: Decimal = Decimal(10_000)
    credentials: Credentials = DEFAULT_CREDENTIALS


def synthetic_instrument(symbol: str | None) -> Instrument:
    """The synthetic market's instrument (documented constants, the configured symbol)."""
    name = symbol or SYNTHETIC_SYMBOL
    return Instrument(
        symbol=name,
        tick_size=SYNTHETIC_TICK,
        lot_size=SYNTHETIC_LOT,
        min_qty=1,
        max_qty=1_000_000,
        min_notional=SYNTHETIC_MIN_NOTIONAL,
        base_asset=name.removesuffix("USDT") or name,
    )


def paper_instrument(spec: PaperSpec, symbol: str | None) -> Instrument:
    """The instrument a paper venue trades: from the data, or the synthetic one."""
    if spec.synthetic:
        return synthetic_instrument(symbol)
    if not spec.data_files:
        raise ConfigError("a paper venue needs data files to replay, or synthetic = true")
    files = list(spec.data_files)
    if len(files) == 1 and is_store(files[0]):  # an event store (mmtrio data convert)
        inst = open_store(files[0]).instrument
        if symbol is not None and symbol.upper() != inst.symbol:
            raise ConfigError(f"the store {files[0]} holds {inst.symbol}, not {symbol}")
        return inst
    try:
        return scan_recording(files, symbol=symbol).instrument
    except ProtocolError as exc:
        raise ConfigError(str(exc)) from exc


def build_paper_venue(venue: str, spec: PaperSpec, symbol: str | None = None) -> SimVenue:
    """The simulated venue for ``venue``'s protocol (see :data:`PAPER_VENUES`)."""
    if venue not in PAPER_VENUES:
        raise ConfigError(
            f"no simulated front end for venue {venue!r}; paper trading supports "
            f"{', '.join(PAPER_VENUES)}"
        )
    instrument = paper_instrument(spec, symbol)
    driver: MarketDriver
    if spec.synthetic:
        from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams

        driver = SyntheticDriver(instrument, spec.seed, SyntheticParams())
    else:
        from mmtrio.sim.replay import ReplayDriver

        driver = ReplayDriver(list(spec.data_files), instrument)
    fees = FeeSchedule(
        maker_rate=Decimal(str(spec.maker_fee_bps)) / 10_000,
        taker_rate=Decimal(str(spec.taker_fee_bps)) / 10_000,
    )
    return SimVenue(
        driver,
        SimConfig(
            speed=spec.speed,
            credentials=spec.credentials,
            initial_balance=spec.balance,
            fees=fees,
            latency_ms=spec.latency_ms,
        ),
    )
