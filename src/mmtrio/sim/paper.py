"""Paper venues: a simulated venue built from ``[sim]``, for a venue's protocol (assembly).

The CLI assembles paper trading (never the runtime): it builds the simulated venue here,
serves it on loopback, and points the bot's venue settings at it with the paper keys. This
module is assembly, not engine: it wires the recorded venue's reader
(:class:`~mmtrio.venues.binance.recording.RecordingReader`, the shipped recordings' format)
into the neutral replay driver, and the front end the venue name selects
(:mod:`mmtrio.sim.frontends`) onto the shared engine.

The instrument comes from the data: a recording names its symbol and its prices and sizes
give the grid (:func:`mmtrio.venues.binance.recording.scan_recording`); a configured symbol
must match it. The synthetic market has no data to read: it trades a documented instrument
(:data:`SYNTHETIC_TICK`, :data:`SYNTHETIC_LOT`) under the configured symbol.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from mmtrio.core.events import Event
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError, DataFileError, ProtocolError
from mmtrio.exchange.matching import FeeSchedule
from mmtrio.sim import frontends
from mmtrio.sim.market import EventSource, MarketDriver
from mmtrio.sim.replay import ReplayDriver
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.binance.recording import RecordingReader, scan_recording

SYNTHETIC_TICK = Decimal("0.10")
SYNTHETIC_LOT = Decimal("0.001")
SYNTHETIC_SYMBOL = "BTCUSDT"
SYNTHETIC_MIN_NOTIONAL = Decimal(5)
PAPER_VENUES = frontends.names()
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
    # what the front end accepts (its ``credential_fields``); None: its public paper keys
    credentials: Mapping[str, str] | None = None


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
    try:
        return scan_recording(list(spec.data_files), symbol=symbol).instrument
    except ProtocolError as exc:
        raise ConfigError(str(exc)) from exc


def recording_source(paths: Sequence[Path], instrument: Instrument) -> EventSource:
    """The shipped recordings' reader as the replay driver's neutral event source."""
    if not paths:
        raise ProtocolError("replay needs at least one recording file")
    files = [Path(p) for p in paths]
    for p in files:
        if not p.is_file():
            raise DataFileError(f"recording file {p} does not exist")

    def events() -> Iterator[Event]:
        for _, ev in RecordingReader(files, instrument):
            yield ev

    return events


def replay_driver(paths: Sequence[Path], instrument: Instrument, loop: bool = True) -> ReplayDriver:
    """A replay of recording ``paths`` (one continuous recording, in order)."""
    name = ", ".join(str(p) for p in paths)
    return ReplayDriver(recording_source(paths, instrument), instrument, loop=loop, name=name)


def build_paper_venue(venue: str, spec: PaperSpec, symbol: str | None = None) -> SimVenue:
    """The simulated venue for ``venue``'s protocol (see :data:`PAPER_VENUES`), with its
    front end attached (``venue.front``)."""
    front = frontends.factory(venue)
    instrument = paper_instrument(spec, None if symbol is None else front.data_symbol(symbol))
    driver: MarketDriver
    if spec.synthetic:
        from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams

        driver = SyntheticDriver(instrument, spec.seed, SyntheticParams())
    else:
        driver = replay_driver(list(spec.data_files), instrument)
    fees = FeeSchedule(
        maker_rate=Decimal(str(spec.maker_fee_bps)) / 10_000,
        taker_rate=Decimal(str(spec.taker_fee_bps)) / 10_000,
    )
    sim = SimVenue(
        driver,
        SimConfig(
            speed=spec.speed,
            initial_balance=spec.balance,
            fees=fees,
            latency_ms=spec.latency_ms,
        ),
    )
    front.create(sim, spec.credentials)
    return sim
