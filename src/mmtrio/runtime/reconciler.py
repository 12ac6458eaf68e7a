"""The reconciler service: start-up recovery, periodic and after-reconnect passes, the last one.

It owns what reconciliation remembers across passes (the trade ids fed to the strategy, the
verified trade-id watermark, the foreign orders already named) and turns each pass into a
journal checkpoint. The passes themselves are :mod:`.reconcile` and :mod:`.recovery`.

Decisions:

- A pass the venue rate-limits is postponed by the venue's wait, not crashed into a
  supervisor restart (chaos seeds 102, 1007); a pass that fails on a read (5xx, a lost
  connection, a clock skew) is tried again after a second.
- The trade-id memory is bounded (DESIGN §4): above ``MAX_KNOWN_TRADE_IDS`` the newest half
  is kept (older ids are below the watermark and never re-read).
- Each foreign open order is named once; the memory keeps only what is open now.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio
from loguru import logger

from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.events import Event
from mmtrio.core.instruments import Instrument
from mmtrio.core.strategy import MarketMaker
from mmtrio.errors import (
    ClockSkewError,
    ConnectionFailed,
    MmtrioError,
    OutcomeUnknownError,
    RateLimited,
)
from mmtrio.runtime.inbox import Inbox
from mmtrio.runtime.journal_recorder import JournalRecorder
from mmtrio.runtime.journal_view import PHASE_PERIODIC
from mmtrio.runtime.journal_writer import JournalWriter, wall_ms
from mmtrio.runtime.reconcile import ReconcileReport, reconcile
from mmtrio.runtime.recovery import (
    Checkpointer,
    StartArgs,
    checkpoint_record,
    reconcile_at_stop,
    recover_at_start,
)
from mmtrio.venues.protocol import Gateway

MAX_KNOWN_TRADE_IDS = 50_000
READ_RETRY_S = 1.0
STOP_STEP_MIN_S = 0.5  # the final pass gets what is left of the stop's deadline, at least this
FALLBACK_WAIT_S = 60.0


class ReconcilerService:
    """Reconciliation for one bot run (see the module docstring)."""

    def __init__(
        self,
        *,
        gateway: Gateway,
        mm: MarketMaker,
        instrument: Instrument,
        ids: ClientIdGenerator,
        journal_path: Path,
        recorder: JournalRecorder,
        writer: JournalWriter,
        clock_ms: Callable[[], int],
        tolerance_lots: int,
        known_trade_ids: set[int],
        last_trade_id: int | None,
    ) -> None:
        self.gateway = gateway
        self.mm = mm
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.ids = ids
        self.journal_path = journal_path
        self.recorder = recorder
        self.writer = writer
        self.clock_ms = clock_ms
        self.tolerance_lots = tolerance_lots
        self.known_trade_ids = known_trade_ids
        self.last_trade_id = last_trade_id
        self.recovered = False
        self.venue_position_at_stop: int | None = None  # what the stop's reconciliation read
        self.now = trio.Event()  # set: run a pass at once (after a user-stream reconnect)
        self._checkpointer = Checkpointer(journal_path, self.symbol)
        self._foreign_seen: set[str] = set()

    def _record(self, event: Event) -> object:
        return self.recorder.event(event, self.clock_ms())

    def request_pass(self) -> None:
        """Reconcile at once (the user stream reconnected: fills may have been missed)."""
        self.now.set()

    async def recover(self, *, adopt: bool) -> ReconcileReport:
        """Start-up: books rebuilt from the journal, then reconciled with the venue (missed
        fills booked and journaled once, orders cancelled or adopted, position compared)."""
        report = await recover_at_start(
            StartArgs(
                journal_path=self.journal_path,
                gateway=self.gateway,
                mm=self.mm,
                instrument=self.instrument,
                adopt=adopt,
                tolerance_lots=self.tolerance_lots,
                known_trade_ids=self.known_trade_ids,
                is_ours=self.ids.is_ours,
                clock_ms=self.clock_ms,
                wall_ms=wall_ms,
                record=self._record,
                sink=self.writer,
            )
        )
        self.recovered = True
        self.last_trade_id = report.last_trade_id
        self.report_foreign(report.foreign)
        return report

    async def run(self, inbox: Inbox, interval_s: Callable[[], float]) -> None:
        """Periodic passes, and one at once after a user-stream reconnect (supervised).
        ``interval_s`` is read before each wait: ``runtime.reconcile_interval_s`` is
        reloadable (SIGHUP), and a reload applies from the next pass."""
        while True:
            with trio.move_on_after(interval_s()):
                await self.now.wait()
            self.now = trio.Event()
            try:
                report = await reconcile(
                    self.gateway,
                    self.mm,
                    self.symbol,
                    adopt=False,
                    tolerance_lots=self.tolerance_lots,
                    known_trade_ids=self.known_trade_ids,
                    is_ours=self.ids.is_ours,
                    clock_ms=self.clock_ms,
                    startup=False,
                    since_trade_id=self.last_trade_id,
                    events_out=inbox,
                )
            except RateLimited as exc:
                wait_s = exc.retry_after_s if exc.retry_after_s is not None else FALLBACK_WAIT_S
                logger.warning(
                    "reconciliation postponed {:g} s: the venue rate-limited us ({})", wait_s, exc
                )
                await trio.sleep(wait_s)
                self.now.set()
                continue
            except (ClockSkewError, OutcomeUnknownError, ConnectionFailed) as exc:
                # Reads only: a 5xx or a lost connection on a query is a failed pass, not an
                # unknown outcome; a clock skew means the client has already resynced. Try
                # again shortly (chaos: clock_skew, unknown_error, drops).
                logger.warning("reconciliation pass failed, retrying in 1 s ({})", exc)
                await trio.sleep(READ_RETRY_S)
                self.now.set()
                continue
            self.last_trade_id = report.last_trade_id
            self.report_foreign(report.foreign)
            await self._checkpoint(report)
            self._bound_memory()

    async def _checkpoint(self, report: ReconcileReport) -> None:
        """Journal a periodic pass with its verified trade-id checkpoint."""
        mark = await self._checkpointer.after_pass(report)
        self.writer.append(
            checkpoint_record(
                PHASE_PERIODIC, self.symbol, report, self.mm.ledger, mark, now_ms=wall_ms()
            )
        )

    def _bound_memory(self) -> None:
        if len(self.known_trade_ids) > MAX_KNOWN_TRADE_IDS:
            keep = sorted(self.known_trade_ids)[-MAX_KNOWN_TRADE_IDS // 2 :]
            self.known_trade_ids.clear()
            self.known_trade_ids.update(keep)

    def report_foreign(self, foreign: list[str]) -> None:
        """Name each open order that is not ours, once: the operator must know that something
        else trades this account (the periodic pass only counts them)."""
        # Named already when its first user-stream update came (core/foreign.py): once.
        new = [
            cid
            for cid in foreign
            if cid not in self._foreign_seen and not self.mm.foreign.named(cid)
        ]
        if new:
            logger.warning("foreign open orders left alone: {}", ", ".join(new))
        self._foreign_seen = set(foreign)

    async def at_stop(self, time_left_s: float) -> None:
        """In the shielded cleanup, after the cancel-all: journal fills that raced the stop
        and the books' final position (again after a watch for late orders: each pass reads
        on from the last). Skipped when start-up recovery never finished (the books were not
        rebuilt); the next start reconciles."""
        if not self.recovered:
            return
        with trio.move_on_after(max(STOP_STEP_MIN_S, time_left_s)) as scope:
            try:
                report = await reconcile_at_stop(
                    self.gateway,
                    self.mm,
                    self.symbol,
                    since_trade_id=self.last_trade_id,
                    tolerance_lots=self.tolerance_lots,
                    known_trade_ids=self.known_trade_ids,
                    is_ours=self.ids.is_ours,
                    clock_ms=self.clock_ms,
                    wall_ms=wall_ms,
                    record=self._record,
                    sink=self.writer,
                )
            except MmtrioError as exc:
                logger.error("final reconciliation failed ({}); the next start reconciles", exc)
            else:
                self.venue_position_at_stop = report.venue_position
                self.last_trade_id = report.last_trade_id
        if scope.cancelled_caught:
            logger.error("final reconciliation timed out; the next start reconciles")
