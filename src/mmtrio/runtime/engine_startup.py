"""The engine's start-up: from the venue's back-off to a reconciled bot, before any quote.

:meth:`EngineStartup._startup` waits out a back-off an earlier process left, syncs the clock,
reads the instrument, checks the account, builds the parts (:mod:`.assembly`) and recovers and
reconciles (:mod:`.reconciler`); :meth:`EngineStartup._bind` hooks the built parts to the
operator surface, the operator and the status.
"""

from __future__ import annotations

from pathlib import Path

import trio
from loguru import logger

from mmtrio.errors import (
    AccountError,
    AuthError,
    ConfigError,
    RateLimited,
    StartupTimeout,
    VenueError,
)
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.account_watch import check_account_at_start
from mmtrio.runtime.assembly import JournalFacts, Running, assemble
from mmtrio.runtime.deadman import first_arm
from mmtrio.runtime.engine_base import EngineBase
from mmtrio.runtime.execution import Execution
from mmtrio.runtime.journal_recorder import JournalRecorder
from mmtrio.runtime.journal_writer import JournalWriter, wall_ms
from mmtrio.runtime.startup_budget import StartupBudget, room_to_refresh
from mmtrio.runtime.venue_block import VenueBlock
from mmtrio.venues.protocol import PacedRequests, VenueSession

SESSION_START_TIMEOUT_S = 30.0


def step_deadline(deadline: float, now: float) -> float:
    """Start-up's deadline once a step has finished at ``now``: a whole
    :data:`SESSION_START_TIMEOUT_S` for the next step (never earlier than it was)."""
    return max(deadline, now + SESSION_START_TIMEOUT_S)


class EngineStartup(EngineBase):
    """The start-up layer of :class:`~mmtrio.runtime.engine.Engine`."""

    # --- start-up ---------------------------------------------------------------------------
    async def _startup(
        self,
        session: VenueSession,
        *,
        block: VenueBlock,
        recorder: JournalRecorder,
        writer: JournalWriter,
        journal_path: Path,
        epoch: int,
        known_trade_ids: set[int],
        last_trade_id: int | None,
        usage_to: list[Execution],
        early: StartupBudget,
    ) -> bool:
        """The venue's back-off left by an earlier process, then clock sync, the instrument,
        the strategy, recovery and reconciliation.

        False when a stop request ended it first (the cleanup follows; nothing was quoted).
        A rate-limit met here is waited out as the venue asks, and the wait does not count
        against the start-up deadline: crashing would only restart into the same back-off.
        A read that failed otherwise (5xx, lost connection, clock skew) is tried again after
        a second, within the deadline (chaos seed 50: one 500 crashed a restarted bot).
        The deadline is for a venue that stopped answering, so each step that finishes
        (clock sync, the instrument, the account, reconciliation) gives the next one a whole
        :data:`SESSION_START_TIMEOUT_S` again (decision, DST seed 213239: a bot restarted
        into 37 s of stacked faults, an 8 s half-open link, 1.4 s latency spikes, 429s and a
        12 s clock skew and its reversal, finished a step every few seconds and was stopped,
        exit 1, only because the whole start-up had passed 30 s). Start-up stays bounded: five
        steps of at most 30 s each, plus the waits the venue asked for.
        The persisted back-off (``venue_block.json``) is waited out here too, inside the
        scope a stop request cancels: waited before it (as it was), a SIGTERM was noted and
        ignored until the wait ended (chaos seed 26: a bot restarted into a 418 ban slept
        105 s, and a SIGTERM 37 s in left it running past the stop budget until SIGKILL).
        """
        with trio.CancelScope() as scope:
            self._bot_scope = scope  # SIGTERM during start-up stops it at once
            if self.ended.stop_reason is not None:
                scope.cancel()
            scope.deadline = trio.current_time() + SESSION_START_TIMEOUT_S
            step = "clock sync"

            def finished(done: str, following: str) -> None:  # progress: a new 30 s
                nonlocal step
                step = following
                later = step_deadline(scope.deadline, trio.current_time())
                if later > scope.deadline:
                    scope.deadline = later
                    self.surface.extend_start(SESSION_START_TIMEOUT_S)
                logger.debug("start-up: {} done; {} next", done, following)

            def waited(seconds: float, exc: VenueError) -> None:
                if isinstance(exc, RateLimited):  # the venue's wait: not start-up's slowness
                    scope.deadline += seconds
                    self.surface.extend_start(seconds)  # and systemd's TimeoutStartSec
                logger.warning(
                    "start-up: {} ({}); trying again in {:.1f} s",
                    "a read was rate-limited" if isinstance(exc, RateLimited) else "a read failed",
                    exc.msg,
                    seconds,
                )

            session.on_read_retry = waited

            def budget_wait(seconds: float) -> None:  # the venue's window, not slowness
                scope.deadline += seconds
                self.surface.extend_start(seconds)
                logger.info("start-up: the rate budget is full; a read waits {:.1f} s", seconds)

            early.on_wait = budget_wait

            def refresh_wait(seconds: float) -> None:  # the venue's window, not slowness
                scope.deadline += seconds
                self.surface.extend_start(seconds)
                logger.info(
                    "start-up: the dead-man is armed once the rate budget can keep it "
                    "refreshed; waiting {:.1f} s",
                    seconds,
                )

            if isinstance(session, PacedRequests):
                session.pace_with(early.pace, early.charge)
            try:
                # A Retry-After from an earlier session or process still holds: not sent into.
                blocked_s = block.remaining_ms() / 1000
                if blocked_s > 0:  # the metrics count it as the venue's back-off it is
                    self.backoffs.venue(self.clock_ms() + block.remaining_ms())
                scope.deadline += blocked_s
                self.surface.extend_start(blocked_s)
                await block.wait()
                clock = await session.sync_clock()
                finished("clock sync", "the instrument")
                if not clock.measured:  # trading goes on: a refused timestamp resyncs it
                    logger.warning(
                        "clock offset not measured at start, {} ms assumed: {}",
                        clock.offset_ms,
                        clock.why_kept(),
                    )
                instrument = await session.load_instrument()
                self.instrument_read = True
                finished("the instrument", "the account")
                writer.append(js.instrument_record(instrument, wall_ms()))
                logger.info(
                    "{} {} ({}): tick {}, lot {}, min notional {} (read from the venue)",
                    self.venue.name,
                    instrument.symbol,
                    self.settings.mode,
                    instrument.tick_size,
                    instrument.base_per_lot,
                    instrument.min_notional,
                )
                self._account = await check_account_at_start(session, instrument, self.config)
                finished("the account", "reconciliation")
                running = assemble(
                    self.config,
                    self.venue,
                    session,
                    instrument,
                    JournalFacts(journal_path, epoch, known_trade_ids, last_trade_id),
                    recorder,
                    writer,
                    self.inbox,
                    self.clock_ms,
                )
                # the earlier process's share and start-up's reads, before its first paced
                # request (runtime/startup_budget.py)
                early.hand_over(running.execution.budget)
                self._bind(running, session)
                usage_to.append(running.execution)
                self.running = running
                self._on_clock_offset(clock.offset_ms)
                report = await running.reconciler.recover(
                    adopt=self.config.runtime.foreign_orders == "adopt"
                )
                finished("reconciliation", "the dead-man's first arm")
                if session.capabilities.deadman:
                    # Before the loop runs: no order of ours goes out unprotected, and an
                    # earlier process's countdown (even one its refresh held by a silent
                    # link re-armed late) is replaced before it can cancel ours.
                    rt = self.config.runtime
                    if session.costs.deadman is not None:  # paid from the budget: room first
                        await room_to_refresh(
                            running.execution.budget,
                            session.costs.deadman,
                            rt.deadman_refresh_ms,
                            self.clock_ms,
                            refresh_wait,
                        )
                    self.deadman_armed_at = await first_arm(
                        session.gateway,
                        instrument.symbol,
                        rt.deadman_countdown_ms,
                        rt.deadman_refresh_ms,
                        patient=True,  # no order of this process exists yet
                    )
            except AuthError as exc:
                # Bad input, not a crash: one line, exit 2, and not one request more (each
                # would be refused the same way; issue #20, finding 5).
                self.ended.auth_failed = (
                    f"the venue refused the API credentials from "
                    f"{self.credentials.source or 'the configuration'}: {exc.msg} (code "
                    f"{exc.code}); check the key and secret, the key's permissions and its IP "
                    "allow-list. Nothing was traded."
                )
                logger.error(self.ended.auth_failed)
                return False
            except (AccountError, ConfigError) as exc:
                # Bad input like a bad config (or a config the venue cannot take, e.g. a
                # dead-man countdown outside its range): refused before any order, exit 2.
                self.ended.start_refused = str(exc)
                logger.error("{}. Nothing was traded.", exc)
                return False
            finally:
                session.on_read_retry = None
        if scope.cancelled_caught:
            if self.ended.stop_reason is not None:
                logger.info("stopped during start-up ({})", self.ended.stop_reason)
                return False
            raise StartupTimeout(
                f"start-up made no progress for {SESSION_START_TIMEOUT_S:g} s ({step} did "
                "not finish): the venue answers too slowly or not at all (check its status "
                "page and this host's network)"
            )
        running.loop.drain_startup(self.clock_ms())
        if report.commands:
            # Start-up steps happened before the loop runs; their commands go out first.
            await running.loop.emit(report.commands, self.clock_ms())
        return True

    def _bind(self, run: Running, session: VenueSession) -> None:
        """Hook the built parts to the operator surface, the operator and the status."""
        self.surface.bind(run.loop, run.execution, self.inbox)
        self.operator.bind(
            self.inbox,
            run.loop,
            run.instrument,
            session.rate_limits.orders_per_minute,
            session.capabilities,
        )
        run.loop.on_fatal = self.request_stop  # the reject policy's stop (core/reject_policy.py)
        self.sources.strategy, self.sources.execution = run.mm, run.execution
        self.sources.loop, self.sources.instrument = run.loop, run.instrument
