"""Paper venues: a simulated venue built from ``[sim]``, for a venue's protocol (assembly).

The CLI assembles paper trading (never the runtime): it builds the simulated venue here,
serves it on loopback, and points the bot's venue settings at it with the paper keys. This
module is assembly, not engine: it wires the recorded venue's reader
(:class:`~mmtrio.venues.binance.recording.RecordingReader`, the shipped recordings' format)
into the neutral replay driver, and the front end the venue name selects
(:mod:`mmtrio.sim.frontends`) onto the shared engine.

An event store (``mmtrio data convert``: a directory given alone as the data) holds the same
neutral events already decoded; it is read by memory map instead
(:func:`mmtrio.data.source.iter_events`), with the instrument its meta document states.

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
from mmtrio.data.source import iter_events
from mmtrio.data.store import is_store, open_store
from mmtrio.errors import ConfigError, DataFileError, ProtocolError
from mmtrio.exchange.matching import FeeSchedule
from mmtrio.packaged import SAMPLE_RECORDING
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


def paper_instrument(
    spec: PaperSpec, symbol: str | None, symbol_option: str = "venue.symbol"
) -> Instrument:
    """The instrument a paper venue trades: from the data, or the synthetic one.

    ``symbol_option`` is how the operator set ``symbol``, named when the data holds another
    one: the config key ``venue.symbol`` (`mmtrio run`, `config check`) or ``--symbol``
    (`mmtrio sim`)."""
    if spec.synthetic:
        return synthetic_instrument(symbol)
    if not spec.data_files:
        raise ConfigError("a paper venue needs data files to replay, or synthetic = true")
    files = list(spec.data_files)
    config_key = symbol_option == "venue.symbol"
    fix = _SYMBOL_FIX if config_key else f"drop {symbol_option} or pass that symbol's files"
    if config_key and files == [SAMPLE_RECORDING]:
        fix += (
            f" ([sim] data_files is not set, so the sample recording packaged with mmtrio, "
            f"{SAMPLE_RECORDING.name}, is replayed)"
        )
    if len(files) == 1 and is_store(files[0]):  # an event store (mmtrio data convert)
        inst = open_store(files[0]).instrument
        if symbol is not None and symbol.upper() != inst.symbol:
            raise ConfigError(
                f"{symbol_option} {symbol} does not match the store {files[0]}, which holds "
                f"{inst.symbol}; {fix}"
            )
        return inst
    try:
        return scan_recording(files, symbol=symbol, symbol_option=symbol_option).instrument
    except ProtocolError as exc:
        text = str(exc)
        mismatch = f"; drop {symbol_option} or pass that symbol's files"
        if text.endswith(mismatch):
            text = text.removesuffix(mismatch) + f"; {fix}"
        raise ConfigError(text) from exc


_SYMBOL_FIX = (
    "unset venue.symbol (in paper mode the recording names it) or set it to the recording's "
    "symbol ([venue] symbol in the config, or --set venue.symbol=...), or list that symbol's "
    "recordings in [sim] data_files"
)


def check_paper_data(
    venue: str, spec: PaperSpec, symbol: str | None, symbol_option: str = "venue.symbol"
) -> Instrument:
    """The instrument a paper venue for ``venue``'s protocol would trade, checked against the
    configured ``symbol``: raises ``ConfigError`` when the data is missing, unreadable or of
    another symbol. `mmtrio run` (through :func:`build_paper_venue`) and `mmtrio config
    check` call this one function."""
    front = frontends.factory(venue)
    data_symbol = None if symbol is None else front.data_symbol(symbol)
    return paper_instrument(spec, data_symbol, symbol_option)


def recording_source(paths: Sequence[Path], instrument: Instrument) -> EventSource:
    """The shipped recordings' reader (or an event store's arrays) as the replay driver's
    neutral event source."""
    if not paths:
        raise ProtocolError("replay needs at least one recording file")
    files = [Path(p) for p in paths]
    if len(files) == 1 and is_store(files[0]):
        store = files[0]

        def stored() -> Iterator[Event]:
            for _, ev in iter_events(open_store(store), book_ticker=True):
                yield ev

        return stored
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


def build_paper_venue(
    venue: str, spec: PaperSpec, symbol: str | None = None, symbol_option: str = "venue.symbol"
) -> SimVenue:
    """The simulated venue for ``venue``'s protocol (see :data:`PAPER_VENUES`), with its
    front end attached (``venue.front``); ``symbol_option`` as in :func:`paper_instrument`."""
    front = frontends.factory(venue)
    instrument = check_paper_data(venue, spec, symbol, symbol_option)
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
