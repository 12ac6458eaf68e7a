"""The engine's state: what one bot run holds, and the small hooks its layers share.

:class:`EngineBase` builds what exists before the venue is reached (inbox, operator, operator
surface, status sources) and the stop request every way out goes through; the layers are
:mod:`.engine_startup` (start-up) and :mod:`.engine_bot` (the running bot's task tree), and
:class:`~mmtrio.runtime.engine.Engine` puts them together with the session and its exit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from mmtrio.config import Config
from mmtrio.core.strategy import MarketMaker
from mmtrio.runtime.assembly import Running
from mmtrio.runtime.backoffs import Backoffs
from mmtrio.runtime.clock_watch import ClockResync
from mmtrio.runtime.exit_summary import ExitSummary
from mmtrio.runtime.inbox import Inbox
from mmtrio.runtime.journal_writer import JournalWriter
from mmtrio.runtime.operator import Operator
from mmtrio.runtime.runtime_reload import apply_runtime_reload
from mmtrio.runtime.shutdown import HowItEnded
from mmtrio.runtime.status import StatusSources
from mmtrio.runtime.surface import OperatorSurface
from mmtrio.runtime.trading import TradingLoop, make_clock_ms
from mmtrio.venues.protocol import (
    AccountSnapshot,
    VenueCredentials,
    VenueFactory,
    VenueSession,
    VenueSettings,
)


@dataclass(frozen=True)
class Transports:
    """How the bot reaches the world when it is not the real network (the deterministic
    simulation, :mod:`mmtrio.chaos.dst`): the venue's transports (see
    :class:`~mmtrio.venues.protocol.SessionHooks`), whether to serve the control socket
    (a simulation talks to :attr:`Engine.operator` directly: no socket), and whether the
    process's signals are the bot's (a simulation signals its bots itself: a SIGTERM sent to
    a deterministic campaign is the campaign's, not a simulated bot's)."""

    http: Any = None
    ws_connect: Any = None
    control_socket: bool = True
    signals: bool = True


class EngineBase:
    """The state of one bot run and the hooks every layer uses (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        *,
        config_path: Path,
        venue: VenueFactory,
        settings: VenueSettings,
        credentials: VenueCredentials,
        console: Any = None,
        reload_config: Callable[[], Config] | None = None,
        transports: Transports | None = None,
    ) -> None:
        self.transports = transports or Transports()
        self.config_path = config_path
        self.venue = venue
        self.settings = settings
        self.credentials = credentials
        self.symbol = settings.symbol
        self.clock_ms = make_clock_ms()
        self.ended = HowItEnded()
        self._bot_scope: trio.CancelScope | None = None
        self.sources = StatusSources(
            symbol=self.symbol, clock_ms=self.clock_ms, bot=config.runtime.name, venue=venue.name
        )
        self.backoffs = Backoffs(self.clock_ms)  # the process's, across sessions
        self.sources.backoffs = self.backoffs
        self.exit_summary: ExitSummary | None = None  # set by the cleanup (runtime/shutdown)
        self.inbox = Inbox(clock_ms=self.clock_ms)
        self.operator = Operator(
            config=config,
            config_path=config_path,
            reload_config=reload_config,
            sources=self.sources,
            clock_ms=self.clock_ms,
            request_stop=self.request_stop,
        )
        self.running: Running | None = None
        self._account: AccountSnapshot | None = None  # read at start (runtime/account_watch.py)
        self.deadman_armed_at: float | None = None  # start-up's first arm (Trio time)
        self.clock_resync = ClockResync()  # execution asks, the clock watch measures
        self.session: VenueSession | None = None
        self.instrument_read = False  # start-up read the instrument: the gateway can be used
        # Extra supervised children (name, async fn): a hook for tests and future tasks.
        self.extra_children: list[tuple[str, Any]] = []
        # Operator surface (screen, metrics, sd_notify, disk guard): runtime/surface.py.
        self.surface = OperatorSurface(
            config, self.sources, console=console, control=self.operator.control
        )
        self._writer: JournalWriter | None = None
        self.operator.on_reload.append(
            lambda old, new: apply_runtime_reload(
                old, new, disk=self.surface.disk, writer=self._writer
            )
        )

    @property
    def config(self) -> Config:
        """The live configuration (a SIGHUP reload replaces it: :mod:`.operator`)."""
        return self.operator.config

    async def reload(self) -> None:
        """SIGHUP: apply the reloadable keys of the file (see :meth:`Operator.reload`)."""
        await self.operator.reload()

    @property
    def mm(self) -> MarketMaker | None:
        return None if self.running is None else self.running.mm

    @property
    def loop(self) -> TradingLoop | None:
        return None if self.running is None else self.running.loop

    def request_stop(self, reason: str) -> None:
        """Graceful stop: cancel the bot scope; the shielded cleanup follows."""
        if self.ended.stop_reason is None:
            self.ended.stop_reason = reason
        if self._bot_scope is not None:
            self._bot_scope.cancel()

    def _on_clock_skew(self) -> None:
        """The venue refused a request for its timestamp: measure the offset again now
        (runtime/clock_watch.py) and count it for the metrics."""
        self.clock_resync.request()
        if self.surface.metrics is not None:
            self.surface.metrics.count_clock_reject()

    def _on_clock_offset(self, offset_ms: int) -> None:
        """A clock sync measured the venue-minus-local offset (runtime/clock_watch.py)."""
        if self.running is not None:
            self.running.mm.venue_offset_ms = offset_ms
        if self.surface.metrics is not None:
            self.surface.metrics.set_clock_offset(offset_ms)

    def _book_top(self) -> tuple[int | None, int | None]:
        """Best bid and ask prices (ticks) of the strategy's book, None when a side is empty."""
        mm = self.mm
        if mm is None:
            return None, None
        bid, ask = mm.book.best_bid(), mm.book.best_ask()
        return (None if bid is None else bid[0], None if ask is None else ask[0])
