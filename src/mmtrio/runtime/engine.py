"""The engine: the bot's task tree, its start-up, and the one shutdown path every exit takes.

Task tree (DESIGN.md §3)::

    run_bot
    └── outer nursery          signal watcher
        └── infra nursery      journal writer (outlives the bot: the cleanup is journaled)
            └── bot nursery    (cancel scope = the bot's lifetime)
                ├── execution          commands → venue requests → outcome events
                ├── supervisor         market feed · user feed · dead-man · reconciler ·
                │                      instrument watch · status log
                ├── control socket · kill-file watcher · operator surface
                └── trading loop       inbox → apply all → decide once → commands

The engine knows no venue: it is handed a :class:`~mmtrio.venues.protocol.VenueFactory`,
the settings and the credentials (the CLI resolved them through the registry, and in paper
mode started the simulated venue and pointed the settings at it). Start-up, in order, before
anything is quoted: wait out a venue back-off left by an earlier process, sync the clock,
read the instrument from the venue, build the strategy on it (:mod:`.assembly`: the parts and
the supervised children), recover from the journal and reconcile with the venue
(:mod:`.reconciler`).

Every way out of the bot nursery — a signal, a supervisor escalation, a crash of any task —
runs the same shielded cleanup (:mod:`.shutdown`). The signal receiver is held by the outer
nursery, so a second Ctrl-C during cleanup is logged, not obeyed.

Decisions where the spec is silent are documented where they are made (the config → strategy
mapping is :func:`mmtrio.config.strategy.build_strategy_config`, shared with the backtester).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from loguru import logger

from mmtrio import __version__, determinism
from mmtrio.config import Config
from mmtrio.core.ratelimit import RateBudget
from mmtrio.core.strategy import MarketMaker
from mmtrio.errors import (
    AccountError,
    AuthError,
    JournalError,
    MmtrioError,
    RateLimited,
    StateDirError,
    StateDirMismatchError,
    VenueError,
)
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.account_watch import check_account_at_start
from mmtrio.runtime.assembly import JournalFacts, Running, Watches, assemble, supervise
from mmtrio.runtime.control import serve_control, watch_kill_file, watch_signals
from mmtrio.runtime.execution import Execution
from mmtrio.runtime.exit_summary import ExitSummary
from mmtrio.runtime.hangup import early_signals
from mmtrio.runtime.inbox import Inbox
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_aside import set_aside, venue_replaced
from mmtrio.runtime.journal_writer import JournalWriter, wall_ms
from mmtrio.runtime.logging import register_secret
from mmtrio.runtime.operator import Operator
from mmtrio.runtime.rate_usage import RateUsageFile
from mmtrio.runtime.runtime_reload import apply_runtime_reload, retention_of
from mmtrio.runtime.shutdown import EXIT_FAILED, HowItEnded, Parts, cleanup
from mmtrio.runtime.startup_budget import StartupBudget
from mmtrio.runtime.status import StatusSources, log_status
from mmtrio.runtime.supervisor import SupervisorEscalation
from mmtrio.runtime.surface import OperatorSurface
from mmtrio.runtime.trading import JournalRecorder, TradingLoop, make_clock_ms
from mmtrio.runtime.venue_block import VenueBlock
from mmtrio.venues.protocol import (
    AccountSnapshot,
    PacedRequests,
    SessionHooks,
    VenueCredentials,
    VenueFactory,
    VenueSession,
    VenueSettings,
)

STATUS_LOG_INTERVAL_S = 5.0
SESSION_START_TIMEOUT_S = 30.0


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


class Engine:
    """One bot run. ``run`` returns the exit code; see the module docstring."""

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

    # --- run --------------------------------------------------------------------------------
    async def run(self) -> int:
        """The whole life of the bot; returns the exit code."""
        if not self.transports.signals:
            return await self._run_session()
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
            self._early_signals()
            async with trio.open_nursery() as outer:
                outer.start_soon(watch_signals, signals, self.request_stop, self.reload)
                code = await self._run_session()
                outer.cancel_scope.cancel()
        return code

    def _early_signals(self) -> None:
        """Act on the signals `mmtrio run` noted before this receiver existed (:mod:`.hangup`)."""
        for sig in early_signals():
            if sig == signal.SIGHUP:
                logger.warning(
                    "SIGHUP received while the bot was starting: the configuration in use is "
                    "the one read at start; send SIGHUP again to reload"
                )
            else:
                logger.info("{} received during start-up: stopping", sig.name)
                self.request_stop(f"{sig.name} received")

    async def _run_session(self) -> int:
        try:
            return await self._run_journaled()
        except StateDirError as exc:
            logger.error("{}", exc)  # a usage error (exit 2), not a journal failure
            raise
        except JournalError as exc:
            # Raised only before the session's writer runs (its failures stop the bot inside):
            # nothing was sent to the venue yet. The CLI prints the same error on stderr.
            logger.error("journal failed: {} (at start: nothing was sent to the venue)", exc)
            raise

    async def _run_journaled(self) -> int:
        for secret in self.credentials.secrets():
            register_secret(secret)
        cfg = self.config
        journal = await determinism.run_sync(Journal.open, cfg.runtime.state_dir)
        try:
            recovery = await determinism.run_sync(journal.load_recovery_state)
            self._check_journal_owner(recovery.last_start, journal.path)
            if venue_replaced(self.settings.instance, recovery.last_start):
                recovery = await determinism.run_sync(set_aside, journal)
            epoch = await determinism.run_sync(journal.next_epoch)
            writer = JournalWriter(journal, retention=retention_of(cfg))
            self._writer = writer  # a reload may change its retention (runtime_reload)
            known = set(recovery.known_trade_ids.get(self.symbol, frozenset()))
            last_id = recovery.last_trade_id.get(self.symbol)
            return await self._run_with_journal(
                writer, journal.path, epoch, recovery.last_session_clean, known, last_id
            )
        finally:
            await determinism.run_sync(journal.close)

    def _on_clock_offset(self, offset_ms: int) -> None:
        """A clock sync measured the venue-minus-local offset (runtime/clock_watch.py)."""
        if self.running is not None:
            self.running.mm.venue_offset_ms = offset_ms
        if self.surface.metrics is not None:
            self.surface.metrics.set_clock_offset(offset_ms)

    def _check_journal_owner(self, last_start: dict[str, Any] | None, path: Path) -> None:
        """Refuse a journal another venue or mode wrote: its positions, trade ids and open
        orders are that account's (a paper session must never adopt a live journal, nor an
        OKX bot a Binance one). Journals from before the seam name no venue: Binance."""
        if last_start is None:
            return
        venue = last_start.get("venue", "binance")
        mode = last_start.get("mode")
        here = (self.venue.name, self.settings.mode)
        if venue != here[0] or (mode is not None and mode != here[1]):
            raise StateDirMismatchError(
                f"the journal {path} belongs to a {venue} {mode or ''} bot, and this one is "
                f"{here[0]} {here[1]}: give this bot its own state directory ([runtime] "
                "state_dir, or [runtime] name when state_dir is left to its default), or move "
                "that journal away if it is no longer needed".replace("  ", " ")
            )

    async def _run_with_journal(  # noqa: PLR0917 - the journal's facts, passed once
        self,
        writer: JournalWriter,
        journal_path: Path,
        epoch: int,
        last_clean: bool | None,
        known_trade_ids: set[int],
        last_trade_id: int | None,
    ) -> int:
        cfg = self.config
        block = VenueBlock(cfg.runtime.state_dir, wall_ms)  # waited out in _startup
        rate_usage = RateUsageFile(cfg.runtime.state_dir)
        usage_to: list[Execution] = []

        def on_usage(usage: dict[str, int | None]) -> None:
            if usage_to:
                usage_to[0].on_usage(usage)

        session = self.venue.open(
            self.settings,
            self.credentials,
            SessionHooks(
                clock_ms=self.clock_ms,
                on_blocked=block.record,
                on_usage=on_usage,
                http_transport=self.transports.http,
                ws_connect=self.transports.ws_connect,
            ),
        )
        self.session = session
        # the budget counts from the session's first request (runtime/startup_budget.py)
        early = StartupBudget(
            session.rate_limits,
            margin=1.0 - cfg.execution.rate_budget_margin,
            usage=rate_usage,
            clock_ms=self.clock_ms,
        )

        def budget() -> RateBudget:  # start-up's, then the execution's
            return early.budget if self.running is None else self.running.execution.budget

        recorder = JournalRecorder(writer, wall_ms, book_top=self._book_top)
        self.sources.journal = writer
        self.sources.market, self.sources.user = (
            self.inbox.market_stats,
            self.inbox.user_stats,
        )
        code = EXIT_FAILED
        try:
            async with trio.open_nursery() as infra:
                await infra.start(self._run_writer, writer)
                infra.start_soon(rate_usage.keep, budget, self.clock_ms)
                recorder.note(
                    "start",
                    {
                        "pid": determinism.pid(),
                        "version": __version__,
                        "venue": self.venue.name,
                        "mode": self.settings.mode,
                        "instance": self.settings.instance,
                        "symbol": self.symbol,
                        "previous_clean": last_clean,
                    },
                    self.clock_ms(),
                )
                try:
                    started = await self._startup(
                        session,
                        block=block,
                        recorder=recorder,
                        writer=writer,
                        journal_path=journal_path,
                        epoch=epoch,
                        known_trade_ids=known_trade_ids,
                        last_trade_id=last_trade_id,
                        usage_to=usage_to,
                        early=early,
                    )
                    if started and self.running is not None:
                        self.sources.phase = "running"
                        await self._run_bot(session)
                except* SupervisorEscalation as group:
                    self.ended.escalated = str(group.exceptions[0])
                except* JournalError as group:
                    # The journal cannot take the next record (a full disk): whichever task
                    # met it first ends the bot the same designed way, not as a crash — the
                    # cleanup still runs.
                    if self.ended.crashed is None:
                        self.ended.crashed = f"journal failed: {group.exceptions[0]}"
                        logger.error("{}; stopping", self.ended.crashed)
                except* Exception as group:
                    first = group.exceptions[0]
                    self.ended.crashed = f"{type(first).__name__}: {first}"
                    logger.opt(exception=first).error("the bot crashed: {}", self.ended.crashed)
                finally:
                    self.sources.phase = "stopping"
                    run = self.running
                    parts = Parts(
                        bot=cfg.runtime.name,
                        symbol=self.symbol,
                        execution=None if run is None else run.execution,
                        reconciler=None if run is None else run.reconciler,
                        mm=None if run is None else run.mm,
                        recorder=recorder,
                        writer=writer,
                        surface=self.surface,
                        clock_ms=self.clock_ms,
                        previous_clean=last_clean,
                        journal_path=journal_path,
                        deadman=session.capabilities.deadman,
                        gateway=session.gateway if run is None and self.instrument_read else None,
                    )
                    code = await cleanup(parts, self.ended, cfg.runtime.shutdown_deadline_s)
                    self.exit_summary = parts.summary
                    # what the stop itself sent, for the next process
                    rate_usage.save(budget(), self.clock_ms())
                infra.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await session.aclose()
        return code

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

            def waited(seconds: float, exc: VenueError) -> None:
                if isinstance(exc, RateLimited):  # the venue's wait: not start-up's slowness
                    scope.deadline += seconds
                logger.warning(
                    "start-up: {} ({}); trying again in {:.1f} s",
                    "a read was rate-limited" if isinstance(exc, RateLimited) else "a read failed",
                    exc.msg,
                    seconds,
                )

            session.on_read_retry = waited

            def budget_wait(seconds: float) -> None:  # the venue's window, not slowness
                scope.deadline += seconds
                logger.info("start-up: the rate budget is full; a read waits {:.1f} s", seconds)

            early.on_wait = budget_wait
            if isinstance(session, PacedRequests):
                session.pace_with(early.pace, early.charge)
            try:
                # A Retry-After from an earlier session or process still holds: not sent into.
                scope.deadline += block.remaining_ms() / 1000
                await block.wait()
                offset = await session.sync_clock()
                instrument = await session.load_instrument()
                self.instrument_read = True
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
                self._on_clock_offset(offset)
                report = await running.reconciler.recover(
                    adopt=self.config.runtime.foreign_orders == "adopt"
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
            except AccountError as exc:
                # Bad input like a bad config: refused before anything was sent, exit 2.
                self.ended.start_refused = str(exc)
                logger.error("{}. Nothing was traded.", exc)
                return False
            finally:
                session.on_read_retry = None
        if scope.cancelled_caught:
            if self.ended.stop_reason is not None:
                logger.info("stopped during start-up ({})", self.ended.stop_reason)
                return False
            raise trio.TooSlowError(
                f"start-up (clock sync, instrument and reconciliation) took over "
                f"{SESSION_START_TIMEOUT_S} s"
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

    # --- the running bot --------------------------------------------------------------------
    async def _run_bot(self, session: VenueSession) -> None:
        run = self.running
        if run is None:  # pragma: no cover - _startup sets it before returning True
            raise MmtrioError("the bot was not built")
        cfg = self.config
        sup = supervise(
            cfg,
            session,
            run,
            self.inbox,
            self.clock_ms,
            lambda: self.config.runtime.reconcile_interval_s,
            # the live screen replaces the status log line
            None
            if self.surface.screen_active
            else lambda: log_status(self.sources, STATUS_LOG_INTERVAL_S),
            self.extra_children,
            Watches(self._account, self._on_clock_offset),
        )
        self.sources.supervisor = sup
        inbox = self.inbox

        with trio.CancelScope() as scope:
            self._bot_scope = scope
            if self.ended.stop_reason is not None:
                scope.cancel()
            async with trio.open_nursery() as bot:
                bot.start_soon(run.execution.run, run.cmd_recv)
                if self.transports.control_socket:
                    bot.start_soon(serve_control, cfg.runtime.control_socket, self.operator.control)
                bot.start_soon(watch_kill_file, cfg.risk.kill_file, self.operator.kill_now)
                bot.start_soon(run.loop.run, inbox)
                await bot.start(self.surface.run)  # after start-up reconciliation: READY=1
                await sup.run()

    async def _run_writer(
        self,
        writer: JournalWriter,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The journal writer; its failure (a full disk, an I/O error) stops the bot cleanly.

        Nothing may be decided that cannot be journaled, so a failed write is a stop with exit
        code 1, not a crash: the shielded cleanup still cancels every order at the venue.
        """
        try:
            await writer.run(task_status=task_status)
        except JournalError as exc:
            self.ended.crashed = f"journal failed: {exc}"
            logger.error("{}; stopping", self.ended.crashed)
            self.request_stop(self.ended.crashed)

    def _book_top(self) -> tuple[int | None, int | None]:
        """Best bid and ask prices (ticks) of the strategy's book, None when a side is empty."""
        mm = self.mm
        if mm is None:
            return None, None
        bid, ask = mm.book.best_bid(), mm.book.best_ask()
        return (None if bid is None else bid[0], None if ask is None else ask[0])


async def run_bot(
    config: Config,
    *,
    config_path: Path,
    venue: VenueFactory,
    settings: VenueSettings,
    credentials: VenueCredentials,
    console: Any = None,
) -> int:
    """Run the bot until a signal, a guard or a crash; return the exit code.

    ``console``: the live status screen's rich Console (foreground terminal), None headless.
    """
    engine = Engine(
        config,
        config_path=config_path,
        venue=venue,
        settings=settings,
        credentials=credentials,
        console=console,
    )
    return await engine.run()


__all__ = ["Engine", "run_bot"]
