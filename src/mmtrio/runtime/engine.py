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
from functools import partial
from pathlib import Path
from typing import Any

import trio
from loguru import logger

from mmtrio import __version__, determinism
from mmtrio.config import Config
from mmtrio.core.ratelimit import RateBudget
from mmtrio.error_text import error_text
from mmtrio.errors import (
    ConfigError,
    JournalError,
    StartupTimeout,
    StateDirError,
    StateDirMismatchError,
)
from mmtrio.runtime.control import watch_signals
from mmtrio.runtime.engine_base import Transports
from mmtrio.runtime.engine_bot import STATUS_LOG_INTERVAL_S, EngineBot
from mmtrio.runtime.engine_startup import SESSION_START_TIMEOUT_S, EngineStartup
from mmtrio.runtime.execution import Execution
from mmtrio.runtime.hangup import early_signals
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_aside import keep_latch, set_aside, venue_replaced
from mmtrio.runtime.journal_recorder import JournalRecorder
from mmtrio.runtime.journal_writer import JournalWriter, wall_ms
from mmtrio.runtime.logging import register_secret
from mmtrio.runtime.rate_usage import RateUsageFile
from mmtrio.runtime.runtime_reload import retention_of
from mmtrio.runtime.shutdown import EXIT_FAILED, Parts, cleanup
from mmtrio.runtime.startup_budget import StartupBudget
from mmtrio.runtime.supervisor import SupervisorEscalation
from mmtrio.runtime.venue_block import VenueBlock
from mmtrio.venues.protocol import (
    Gateway,
    OrderSocket,
    SessionHooks,
    VenueCredentials,
    VenueFactory,
    VenueSession,
    VenueSettings,
)


class Engine(EngineStartup, EngineBot):
    """One bot run. ``run`` returns the exit code; see the module docstring."""

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
            try:
                register_secret(secret)
            except ConfigError as exc:
                # Say where the too-short secret came from (QA, Hyperliquid: a key file
                # holding "0xzz" drew only "a secret to redact must be at least 8 characters").
                raise ConfigError(f"{exc} (from {self.credentials.source})") from None
        cfg = self.config
        sync = cfg.journal.sync.upper()  # SQLite's synchronous=FULL | NORMAL
        journal = await determinism.run_sync(
            partial(Journal.open, synchronous=sync), cfg.runtime.state_dir
        )
        try:
            recovery = await determinism.run_sync(journal.load_recovery_state)
            self._check_journal_owner(recovery.last_start, journal.path)
            carried = None
            if venue_replaced(self.settings.instance, recovery.last_start):
                recovery, carried = await determinism.run_sync(
                    set_aside, journal, self.clock_ms(), cfg.risk.day_start_hour_utc
                )
            epoch = await determinism.run_sync(journal.next_epoch)
            if carried is not None:  # a latch of the journal set aside (journal_aside.py)
                await determinism.run_sync(keep_latch, journal, carried)
            writer = JournalWriter(journal, retention=retention_of(cfg))
            self._writer = writer  # a reload may change its retention (runtime_reload)
            known = set(recovery.known_trade_ids.get(self.symbol, frozenset()))
            last_id = recovery.last_trade_id.get(self.symbol)
            return await self._run_with_journal(
                writer, journal.path, epoch, recovery.last_session_clean, known, last_id
            )
        finally:
            await determinism.run_sync(journal.close)

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

        def on_blocked(until_ms: int, banned: bool) -> None:
            block.record_on_clock(until_ms, self.clock_ms)  # a restart honours it too
            self.backoffs.venue(until_ms, banned)  # the metrics count it

        session = self.venue.open(
            self.settings,
            self.credentials,
            SessionHooks(
                clock_ms=self.clock_ms,
                on_blocked=on_blocked,
                on_usage=on_usage,
                http_transport=self.transports.http,
                ws_connect=self.transports.ws_connect,
            ),
        )
        self.session = session
        # its order socket, on the screen and in the metrics (ws="orders"), when it has one
        self.sources.orders = session.order_socket if isinstance(session, OrderSocket) else None
        # the budget counts from the session's first request (runtime/startup_budget.py)
        early = StartupBudget(
            session.rate_limits,
            margin=1.0 - cfg.execution.rate_budget_margin,
            usage=rate_usage,
            clock_ms=self.clock_ms,
        )
        early.backoffs = self.backoffs

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
                    self.ended.escalated = error_text(group)
                except* JournalError as group:
                    # The journal cannot take the next record (a full disk): whichever task
                    # met it first ends the bot the same designed way, not as a crash — the
                    # cleanup still runs.
                    if self.ended.crashed is None:
                        self.ended.crashed = f"journal failed: {error_text(group)}"
                        logger.error("{}; stopping", self.ended.crashed)
                except* StartupTimeout as group:
                    # A slow or silent venue, not a bug: said plainly, no traceback; the
                    # cleanup still cancels whatever this process could have sent.
                    self.ended.crashed = error_text(group)
                    logger.error("{}; stopping", self.ended.crashed)
                except* Exception as group:
                    first = group.exceptions[0]
                    self.ended.crashed = error_text(group, typed=True)
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
                        # nothing is sent into a back-off the venue asked for (a ban's risk)
                        open_gateway=(
                            partial(_gateway_after_instrument, session)
                            if run is None and not self.instrument_read and not block.remaining_ms()
                            else None
                        ),
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


async def _gateway_after_instrument(session: VenueSession) -> Gateway:
    """The session's gateway, once the instrument it trades is read (a stop during start-up)."""
    await session.load_instrument()
    return session.gateway


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


__all__ = [
    "SESSION_START_TIMEOUT_S",
    "STATUS_LOG_INTERVAL_S",
    "Engine",
    "Transports",
    "run_bot",
]
