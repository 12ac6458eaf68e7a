"""The engine: the bot's task tree, its start-up, and the one shutdown path every exit takes.

Task tree (DESIGN.md §3)::

    run_bot
    └── outer nursery          signal watcher · in-process sim venue (kind = "sim")
        └── infra nursery      journal writer (outlives the bot: the cleanup is journaled)
            └── bot nursery    (cancel scope = the bot's lifetime)
                ├── execution          commands → venue requests → outcome events
                ├── supervisor         market feed · user stream · dead-man · reconciler
                ├── control socket · kill-file watcher · status log
                └── trading loop       events → mm.step → commands

Every way out of the bot nursery — a signal, a supervisor escalation, a crash of any task —
runs the same cleanup, shielded with ``runtime.shutdown_deadline_s``: stop quoting (the bot
nursery is gone, nothing steps the strategy any more) → ``cancel_all_and_confirm`` at the
venue → journal ``stop`` and flush → exit code. The signal receiver is held by the outer
nursery, so a second Ctrl-C during cleanup is logged, not obeyed.

Exit codes (cli/__init__): 0 stopped on request with zero open orders confirmed; 1 a crash,
or open orders could not be confirmed gone; 3 a guard stopped the bot (supervisor escalation)
or the kill switch was latched at exit.

Decisions where the spec is silent are documented where they are made (the config → strategy
mapping is :func:`mmtrio.config.strategy.build_strategy_config`, shared with the backtester).
"""

from __future__ import annotations

import os
import random
import signal
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio
from loguru import logger

from mmtrio import __version__
from mmtrio.config import Config, diff_reload, load_config, load_credentials
from mmtrio.config.strategy import build_strategy_config
from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import Command
from mmtrio.core.events import KillSwitch, Resume
from mmtrio.core.guards import TradingState
from mmtrio.core.ratelimit import RateBudget
from mmtrio.core.strategy import MarketMaker
from mmtrio.errors import ConfigError, JournalError, MmtrioError, VenueAuthError, VenueError
from mmtrio.runtime.breaker import CircuitBreaker
from mmtrio.runtime.control import serve_control, watch_kill_file, watch_signals
from mmtrio.runtime.deadman import deadman_heartbeat
from mmtrio.runtime.execution import Execution
from mmtrio.runtime.feeds import FeedStats, UserFeed, run_market_feed
from mmtrio.runtime.gateway import RestGateway
from mmtrio.runtime.journal import Journal, Retention
from mmtrio.runtime.journal_writer import JournalWriter, wall_ms
from mmtrio.runtime.logging import register_secret
from mmtrio.runtime.reconcile import ReconcileReport, reconcile
from mmtrio.runtime.recovery import (
    PHASE_PERIODIC,
    Checkpointer,
    StartArgs,
    checkpoint_record,
    reconcile_at_stop,
    recover_at_start,
)
from mmtrio.runtime.status import StatusSources, build_snapshot, log_status
from mmtrio.runtime.supervisor import RestartPolicy, Supervisor, SupervisorEscalation
from mmtrio.runtime.surface import OperatorSurface
from mmtrio.runtime.trading import (
    ApplyConfig,
    JournalRecorder,
    LoopItem,
    TradingLoop,
    make_clock_ms,
)
from mmtrio.runtime.venue_block import VenueBlock
from mmtrio.venues.binance.codec import BinanceDecoder
from mmtrio.venues.binance.errors import (
    ConnectionFailed,
    OutcomeUnknownError,
    RateLimited,
    TimestampError,
)
from mmtrio.venues.binance.rest import BinanceRest
from mmtrio.venues.binance.signing import Signer
from mmtrio.venues.binance.streams import MarketStream, UserStream, market_stream_url

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SAFE_STOP = 0, 1, 2, 3
EVENT_CHANNEL_SIZE = 4096
COMMAND_CHANNEL_SIZE = 256
CLIENT_ID_PREFIX = "mmt"
MAX_KNOWN_TRADE_IDS = 50_000
STATUS_LOG_INTERVAL_S = 5.0
SESSION_START_TIMEOUT_S = 30.0
SIM_DUMP_NAME = "sim_final.json"
STOP_CANCEL_SHARE = 0.75  # of runtime.shutdown_deadline_s for the cancel-all and its confirm
STOP_MIN_STEP_S = 0.5  # the final reconciliation and the flush each get at least this


# --- the venue endpoints -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoints:
    rest: str
    market_ws: str
    user_ws: str
    api_key: str
    api_secret: str
    key_source: str = "the simulated venue's paper keys"  # safe to log; never the values


def build_sim_venue(config: Config) -> Any:
    """The in-process simulated venue described by ``[sim]`` (paper keys)."""
    from mmtrio.exchange.matching import FeeSchedule
    from mmtrio.sim.venue import SimConfig, SimVenue

    sim = config.sim
    if sim is None:
        raise ConfigError("venue.kind = 'sim' needs a [sim] table")
    inst = config.instrument
    if sim.synthetic:
        from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams

        driver: Any = SyntheticDriver(inst, sim.seed, SyntheticParams())
    else:
        from mmtrio.sim.replay import ReplayDriver

        driver = ReplayDriver(list(sim.data_files), inst)
    fees = FeeSchedule(
        maker_rate=Decimal(str(sim.maker_fee_bps)) / 10_000,
        taker_rate=Decimal(str(sim.taker_fee_bps)) / 10_000,
    )
    return SimVenue(
        driver,
        SimConfig(
            speed=sim.speed,
            initial_balance=sim.paper_balance_usdt,
            fees=fees,
            latency_ms=sim.latency_ms,
        ),
    )


# --- the engine ----------------------------------------------------------------------------


class Engine:
    """One bot run. ``run`` returns the exit code; see the module docstring."""

    def __init__(
        self, config: Config, *, config_path: Path, sim: bool, console: Any = None
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.sim = sim
        self.symbol = config.instrument.symbol
        self.clock_ms = make_clock_ms()
        self.stop_reason: str | None = None
        self.escalated: str | None = None
        self.crashed: str | None = None
        self.auth_failed: str | None = None  # the venue refused the credentials at start
        self._bot_scope: trio.CancelScope | None = None
        self._events: trio.MemorySendChannel[LoopItem] | None = None
        self.sources = StatusSources(symbol=self.symbol, clock_ms=self.clock_ms)
        self.mm: MarketMaker | None = None
        self.loop: TradingLoop | None = None
        self.sim_venue: Any = None
        self._reconcile_now = trio.Event()
        self._known_trade_ids: set[int] = set()
        self._last_trade_id: int | None = None
        self._foreign_seen: set[str] = set()  # foreign client ids already named in the log
        self._ids: ClientIdGenerator | None = None
        # Crash recovery (runtime/recovery.py): set once the journal is open / state rebuilt.
        self._journal_path: Path | None = None
        self._recorder: JournalRecorder | None = None
        self._writer: JournalWriter | None = None
        self._gateway: RestGateway | None = None
        self._checkpointer: Checkpointer | None = None
        self._recovered = False
        self._key_source = "?"
        # Extra supervised children (name, async fn): a hook for tests and future tasks.
        self.extra_children: list[tuple[str, Any]] = []
        # Operator surface (screen, metrics, sd_notify, disk guard): runtime/surface.py.
        self.surface = OperatorSurface(config, self.sources, console=console)

    # --- operator entry points (signals, control socket) ----------------------------------
    def request_stop(self, reason: str) -> None:
        """Graceful stop: cancel the bot scope; the shielded cleanup follows."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if self._bot_scope is not None:
            self._bot_scope.cancel()

    async def _send(self, item: LoopItem) -> None:
        if self._events is None:
            raise MmtrioError("the bot is not running yet")
        await self._events.send(item)

    def _kill_now(self, reason: str) -> None:
        if self._events is not None:
            try:
                self._events.send_nowait(
                    KillSwitch(reason, self.config.risk.flatten_on_kill, self.clock_ms())
                )
            except trio.WouldBlock:
                # The loop is saturated; a kill must still get through: stop the bot instead.
                logger.error("event channel full; kill request escalated to a full stop")
                self.request_stop(reason)

    async def reload(self) -> None:
        """SIGHUP: load the file, apply reloadable changes atomically, refuse the rest."""
        try:
            new = await trio.to_thread.run_sync(load_config, self.config_path)
        except ConfigError as exc:
            logger.error("config reload failed, nothing changed: {}", exc)
            return
        plan = diff_reload(self.config, new)
        if plan.empty:
            logger.info(plan.describe())
            return
        if not plan.ok:
            logger.error(plan.describe())
            return
        try:
            strat = build_strategy_config(new)
        except MmtrioError as exc:
            logger.error("config reload refused, nothing changed: {}", exc)
            return
        self.config = new
        await self._send(ApplyConfig(strat, plan.describe()))

    async def control(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one control-socket request (status, kill, resume)."""
        cmd = request["cmd"]
        if cmd == "status":
            return {"ok": True, "status": build_snapshot(self.sources)}
        if cmd == "crash":
            # Fault injection for the chaos harness: off unless the config turns it on.
            if not self.config.runtime.fault_injection:
                return {"ok": False, "error": "fault injection is off (runtime.fault_injection)"}
            sup = self.sources.supervisor
            if sup is None:
                return {"ok": False, "error": "no supervisor is running yet"}
            try:
                sup.crash(str(request["child"]), str(request.get("reason", "control socket")))
            except MmtrioError as exc:
                return {"ok": False, "error": str(exc)}
            return {"ok": True}
        if cmd == "kill":
            flatten = bool(request.get("flatten", self.config.risk.flatten_on_kill))
            reason = str(request.get("reason", "operator kill (control socket)"))
            await self._send(KillSwitch(reason, flatten, self.clock_ms()))
            await self._settle()
            return {"ok": True, "status": build_snapshot(self.sources)}
        kill_file = self.config.risk.kill_file
        if await trio.to_thread.run_sync(kill_file.exists):
            return {"ok": False, "error": f"kill file {kill_file} exists: remove it, then resume"}
        await self._send(Resume("operator resume (control socket)", self.clock_ms()))
        await self._settle()
        snap = build_snapshot(self.sources)
        state = snap.get("strategy", {}).get("trading_state")
        if state == TradingState.HALTED.value:
            reason = snap.get("strategy", {}).get("reason")
            return {"ok": False, "error": f"resume refused by risk: {reason}", "status": snap}
        return {"ok": True, "status": snap}

    async def _settle(self) -> None:
        # Let the trading loop process what was just queued before answering.
        if self.loop is None:
            return
        target = self.loop.steps + 1
        with trio.move_on_after(2.0):
            while self.loop.steps < target:  # noqa: ASYNC110 - polls a counter, rare operator call
                await trio.sleep(0.01)

    # --- run --------------------------------------------------------------------------------
    async def run(self) -> int:
        """The whole life of the bot; returns the exit code."""
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
            async with trio.open_nursery() as outer:
                outer.start_soon(watch_signals, signals, self.request_stop, self.reload)
                if self.sim:
                    from mmtrio.sim.server import serve_sim
                    from mmtrio.sim.venue import DEFAULT_CREDENTIALS

                    self.sim_venue = build_sim_venue(self.config)
                    urls = await outer.start(serve_sim, self.sim_venue)
                    logger.info(
                        "simulated venue on {} (ws {}, admin {})", urls.rest, urls.ws, urls.admin
                    )
                    endpoints = Endpoints(
                        urls.rest,
                        urls.ws,
                        urls.ws,
                        DEFAULT_CREDENTIALS.api_key,
                        DEFAULT_CREDENTIALS.api_secret,
                    )
                else:
                    endpoints = self._live_endpoints()
                code = await self._run_session(endpoints)
                if self.sim_venue is not None:
                    await self._dump_sim()
                outer.cancel_scope.cancel()
        return code

    async def _dump_sim(self) -> None:
        """Paper trading: the venue's ground truth at exit (orders, fills, position) in
        ``<state_dir>/sim_final.json``, so a run can be audited after the sim is gone."""
        from mmtrio.sim.rest import dump_state

        target = self.config.runtime.state_dir / SIM_DUMP_NAME
        with trio.CancelScope(shield=True):
            try:
                await dump_state(self.sim_venue, str(target))
            except OSError as exc:
                logger.error("could not write the sim ground truth to {}: {}", target, exc)

    def _live_endpoints(self) -> Endpoints:
        venue = self.config.venue
        creds = load_credentials(venue)
        if (
            creds is None
            or not venue.rest_url
            or not venue.market_ws_url
            or not venue.private_ws_url
        ):
            raise ConfigError(
                "venue.kind = 'binance' needs rest_url, market_ws_url, private_ws_url and keys"
            )
        return Endpoints(
            venue.rest_url,
            venue.market_ws_url,
            venue.private_ws_url,
            creds.api_key,
            creds.api_secret,
            creds.source,
        )

    async def _run_session(self, ep: Endpoints) -> int:
        try:
            return await self._run_journaled(ep)
        except JournalError as exc:
            # Raised only before the session's writer runs (its failures stop the bot inside):
            # nothing was sent to the venue yet. The CLI prints the same error on stderr.
            logger.error("journal failed: {} (at start: nothing was sent to the venue)", exc)
            raise

    async def _run_journaled(self, ep: Endpoints) -> int:
        register_secret(ep.api_key)
        register_secret(ep.api_secret)
        self._key_source = ep.key_source
        cfg = self.config
        journal = await trio.to_thread.run_sync(Journal.open, cfg.runtime.state_dir)
        self._journal_path = journal.path
        try:
            recovery = await trio.to_thread.run_sync(journal.load_recovery_state)
            epoch = await trio.to_thread.run_sync(journal.next_epoch)
            self._known_trade_ids = set(recovery.known_trade_ids.get(self.symbol, frozenset()))
            self._last_trade_id = recovery.last_trade_id.get(self.symbol)
            writer = JournalWriter(
                journal,
                retention=Retention(
                    max_age_days=cfg.journal.retention_days, max_size_mb=cfg.journal.max_size_mb
                ),
            )
            return await self._run_with_journal(ep, writer, epoch, recovery.last_session_clean)
        finally:
            await trio.to_thread.run_sync(journal.close)

    async def _run_with_journal(
        self, ep: Endpoints, writer: JournalWriter, epoch: int, last_clean: bool | None
    ) -> int:
        cfg = self.config
        inst = cfg.instrument
        decoder = BinanceDecoder([inst])
        execution_ref: list[Execution] = []

        def on_headers(w: int | None, o10: int | None, o1m: int | None) -> None:
            if execution_ref:
                execution_ref[0].on_headers(w, o10, o1m)

        block = VenueBlock(cfg.runtime.state_dir, wall_ms)
        await block.wait()  # a Retry-After from an earlier session or process still holds
        rest = BinanceRest(
            ep.rest,
            decoder,
            signer=Signer(ep.api_key, ep.api_secret),
            on_headers=on_headers,
            recv_window_ms=cfg.venue.recv_window_ms,
            on_blocked=block.record,
        )
        events_send, events_recv = trio.open_memory_channel[LoopItem](EVENT_CHANNEL_SIZE)
        cmd_send, cmd_recv = trio.open_memory_channel[Command](COMMAND_CHANNEL_SIZE)
        self._events = events_send
        gateway = RestGateway(rest, inst)
        execution = Execution(
            gateway,
            inst,
            RateBudget(margin=1.0 - cfg.execution.rate_budget_margin),
            CircuitBreaker(cfg.execution.breaker_failures, cfg.execution.breaker_probe_interval_ms),
            events_send,
            self.clock_ms,
        )
        execution_ref.append(execution)
        ids = ClientIdGenerator(CLIENT_ID_PREFIX, epoch)
        self._ids = ids
        mm = MarketMaker(build_strategy_config(cfg), ids)
        self.mm = mm
        recorder = JournalRecorder(writer, wall_ms, book_top=lambda: _top(mm))
        self._recorder, self._writer, self._gateway = recorder, writer, gateway
        loop = TradingLoop(mm, cmd_send, self.clock_ms, recorder)
        self.loop = loop
        loop.on_user_reconnect = self._reconcile_now.set
        self.surface.bind(loop, execution, events_send)
        market_stats, user_stats = FeedStats(), FeedStats()
        self.sources.strategy, self.sources.execution, self.sources.loop = mm, execution, loop
        self.sources.market, self.sources.user, self.sources.journal = (
            market_stats,
            user_stats,
            writer,
        )

        code = EXIT_FAILED
        async with rest.closing(), trio.open_nursery() as infra:
            await infra.start(self._run_writer, writer)
            recorder.note(
                "start",
                {
                    "pid": os.getpid(),
                    "version": __version__,
                    "symbol": self.symbol,
                    "previous_clean": last_clean,
                },
                self.clock_ms(),
            )
            try:
                if await self._startup(rest=rest, gateway=gateway, mm=mm, ids=ids, loop=loop):
                    self.sources.phase = "running"
                    await self._run_bot(
                        ep=ep,
                        decoder=decoder,
                        rest=rest,
                        gateway=gateway,
                        execution=execution,
                        loop=loop,
                        events_recv=events_recv,
                        cmd_recv=cmd_recv,
                        market_stats=market_stats,
                        user_stats=user_stats,
                    )
            except* SupervisorEscalation as group:
                self.escalated = str(group.exceptions[0])
            except* JournalError as group:
                # The journal cannot take the next record (a full disk): whichever task met
                # it first (the trading loop awaiting its commit, the writer itself) ends the
                # bot the same designed way, not as a crash — the cleanup still runs.
                if self.crashed is None:
                    self.crashed = f"journal failed: {group.exceptions[0]}"
                    logger.error("{}; stopping", self.crashed)
            except* Exception as group:
                first = group.exceptions[0]
                self.crashed = f"{type(first).__name__}: {first}"
                logger.opt(exception=first).error("the bot crashed: {}", self.crashed)
            finally:
                self.sources.phase = "stopping"
                code = await self._cleanup(execution, recorder, writer)
            infra.cancel_scope.cancel()
        return code

    async def _startup(
        self,
        *,
        rest: BinanceRest,
        gateway: RestGateway,
        mm: MarketMaker,
        ids: ClientIdGenerator,
        loop: TradingLoop,
    ) -> bool:
        """Time sync and the startup reconciliation, before anything is quoted.

        False when a stop request ended it first (the cleanup follows; nothing was quoted).
        A 429/418 met here is waited out as the venue asks, and the wait does not count
        against the start-up deadline: crashing would only restart into the same back-off.
        A read that failed otherwise (5xx, lost connection, -1021) is tried again after a
        second, within the deadline (chaos seed 50: one 500 crashed a restarted bot).
        """
        with trio.CancelScope() as scope:
            self._bot_scope = scope  # SIGTERM during start-up stops it at once
            if self.stop_reason is not None:
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

            rest.on_read_retry = waited
            try:
                await rest.sync_time()
                report = await self._recover(gateway, mm, ids)
            except VenueAuthError as exc:
                # Bad input, not a crash: one line, exit 2, and not one more request (each
                # would be refused the same way; issue #20, finding 5).
                self.auth_failed = (
                    f"the venue refused the API credentials from {self._key_source}: "
                    f"{exc.msg} (code {exc.code}); check the key and secret, the key's "
                    "futures permission and its IP allow-list. Nothing was traded."
                )
                logger.error(self.auth_failed)
                return False
            finally:
                rest.on_read_retry = None
        if scope.cancelled_caught:
            if self.stop_reason is not None:
                logger.info("stopped during start-up ({})", self.stop_reason)
                return False
            raise trio.TooSlowError(
                f"start-up (time sync and reconciliation) took over {SESSION_START_TIMEOUT_S} s"
            )
        self._last_trade_id = report.last_trade_id
        self._report_foreign(report.foreign)
        if report.commands:
            # Start-up steps happened before the loop runs; their commands go out first.
            await loop.emit(report.commands, self.clock_ms())
        return True

    async def _recover(
        self, gateway: RestGateway, mm: MarketMaker, ids: ClientIdGenerator
    ) -> ReconcileReport:
        """Books rebuilt from the journal, then reconciled with the venue (missed fills
        booked and journaled once, orders cancelled or adopted, position compared)."""
        recorder, writer, path = self._recorder, self._writer, self._journal_path
        if recorder is None or writer is None or path is None:
            raise MmtrioError("recovery needs the journal open")
        self._checkpointer = Checkpointer(path, self.symbol)
        report = await recover_at_start(
            StartArgs(
                journal_path=path,
                gateway=gateway,
                mm=mm,
                instrument=self.config.instrument,
                # An earlier process's orders: cancelled, or adopted (the strategy then
                # cancels them: a fresh quote replaces them).
                adopt=self.config.runtime.foreign_orders == "adopt",
                tolerance_lots=self._tolerance_lots(),
                known_trade_ids=self._known_trade_ids,
                is_ours=ids.is_ours,
                clock_ms=self.clock_ms,
                wall_ms=wall_ms,
                record=lambda event: recorder.event(event, self.clock_ms()),
                sink=writer,
            )
        )
        self._recovered = True
        return report

    async def _checkpoint(self, report: ReconcileReport) -> None:
        """Journal a periodic pass with its verified trade-id checkpoint."""
        if self._checkpointer is None or self._writer is None or self.mm is None:
            return
        mark = await self._checkpointer.after_pass(report)
        self._writer.append(
            checkpoint_record(
                PHASE_PERIODIC, self.symbol, report, self.mm.ledger, mark, now_ms=wall_ms()
            )
        )

    async def _reconcile_at_stop(self, time_left_s: float) -> None:
        """In the shielded cleanup, after the cancel-all: journal fills that raced the stop
        and the books' final position. Skipped when start-up recovery never finished (the
        books were not rebuilt); the next start reconciles."""
        mm, ids, gw = self.mm, self._ids, self._gateway
        recorder, writer = self._recorder, self._writer
        if not self._recovered or mm is None or ids is None or gw is None:
            return
        if recorder is None or writer is None:
            return
        with trio.move_on_after(max(STOP_MIN_STEP_S, time_left_s)) as scope:
            try:
                await reconcile_at_stop(
                    gw,
                    mm,
                    self.symbol,
                    since_trade_id=self._last_trade_id,
                    tolerance_lots=self._tolerance_lots(),
                    known_trade_ids=self._known_trade_ids,
                    is_ours=ids.is_ours,
                    clock_ms=self.clock_ms,
                    wall_ms=wall_ms,
                    record=lambda event: recorder.event(event, self.clock_ms()),
                    sink=writer,
                )
            except MmtrioError as exc:
                logger.error("final reconciliation failed ({}); the next start reconciles", exc)
        if scope.cancelled_caught:
            logger.error("final reconciliation timed out; the next start reconciles")

    async def _disarm_deadman(self, time_left_s: float) -> None:
        """At a stop, with zero open orders confirmed: the venue's countdown is disarmed, so
        it cannot fire into the next run's orders. Never before the cancel-all (it would
        leave orders unprotected if that failed); skipped when start-up never armed it."""
        gw = self._gateway
        if gw is None or not self._recovered:
            return
        with trio.move_on_after(max(STOP_MIN_STEP_S, time_left_s)):
            try:
                await gw.arm_deadman(self.symbol, 0)
            except MmtrioError as exc:
                logger.warning("dead-man disarm failed (its countdown cancels nothing: no order "
                               "is open): {}", exc)  # fmt: skip

    def _tolerance_lots(self) -> int:
        # One quote's size: a fill racing the position query cannot trip the halt; a real
        # booking gap of more than one order does.
        return self.config.base_qty_lots

    async def _run_bot(
        self,
        *,
        ep: Endpoints,
        decoder: BinanceDecoder,
        rest: BinanceRest,
        gateway: RestGateway,
        execution: Execution,
        loop: TradingLoop,
        events_recv: trio.MemoryReceiveChannel[LoopItem],
        cmd_recv: trio.MemoryReceiveChannel[Command],
        market_stats: FeedStats,
        user_stats: FeedStats,
    ) -> None:
        cfg = self.config
        events = self._events
        if events is None:  # pragma: no cover - set by the caller
            raise MmtrioError("event channel missing")
        rs = cfg.runtime.restart
        policy = RestartPolicy(
            base_delay_s=rs.base_delay_s,
            cap_s=rs.cap_s,
            max_restarts=rs.max_restarts,
            window_s=rs.window_s,
        )
        sup = Supervisor(rng=random.Random(), default_policy=policy)
        self.sources.supervisor = sup
        market = MarketStream(
            market_stream_url(ep.market_ws, self.symbol), decoder, self.symbol, rest.depth_snapshot
        )
        user = UserFeed(lambda send: UserStream(ep.user_ws, decoder, rest, send), user_stats)
        loop.on_book_resync = market.request_resync

        async def market_child() -> None:
            await run_market_feed(market, events, market_stats)

        async def user_child() -> None:
            await user.run(events)

        async def deadman_child(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            await deadman_heartbeat(
                gateway,
                self.symbol,
                cfg.runtime.deadman_countdown_ms,
                cfg.runtime.deadman_refresh_ms,
                task_status,
                disarm_on_exit=False,  # the cleanup disarms, once no order is left
            )

        sup.add("market-feed", market_child)
        sup.add("user-stream", user_child)
        sup.add("deadman", deadman_child, signals_ready=True)
        sup.add("reconciler", lambda: self._reconciler(gateway, loop))
        if not self.surface.screen_active:  # the live screen replaces the status log line
            sup.add("status-log", lambda: log_status(self.sources, STATUS_LOG_INTERVAL_S))
        for name, fn in self.extra_children:
            sup.add(name, fn)

        with trio.CancelScope() as scope:
            self._bot_scope = scope
            if self.stop_reason is not None:
                scope.cancel()
            async with trio.open_nursery() as bot:
                bot.start_soon(execution.run, cmd_recv)
                bot.start_soon(serve_control, cfg.runtime.control_socket, self.control)
                bot.start_soon(watch_kill_file, cfg.risk.kill_file, self._kill_now)
                bot.start_soon(loop.run, events_recv)
                await bot.start(self.surface.run)  # after start-up reconciliation: READY=1
                await sup.run()

    async def _reconciler(self, gateway: RestGateway, loop: TradingLoop) -> None:
        """Periodic reconciliation, and at once after a user-stream reconnect."""
        mm, ids = self.mm, self._ids
        if mm is None or ids is None or self._events is None:
            raise MmtrioError("the reconciler started before the strategy exists")
        while True:
            with trio.move_on_after(self.config.runtime.reconcile_interval_s):
                await self._reconcile_now.wait()
            self._reconcile_now = trio.Event()
            loop.on_user_reconnect = self._reconcile_now.set
            try:
                report = await reconcile(
                    gateway,
                    mm,
                    self.symbol,
                    adopt=False,
                    tolerance_lots=self._tolerance_lots(),
                    known_trade_ids=self._known_trade_ids,
                    is_ours=ids.is_ours,
                    clock_ms=self.clock_ms,
                    startup=False,
                    since_trade_id=self._last_trade_id,
                    events_out=self._events,
                )
            except RateLimited as exc:
                # The venue said wait: skip this pass and try again once Retry-After is over,
                # rather than crash the task into a supervisor restart (chaos seeds 102, 1007).
                wait_s = exc.retry_after_s if exc.retry_after_s is not None else 60.0
                logger.warning(
                    "reconciliation postponed {:g} s: the venue rate-limited us ({})", wait_s, exc
                )
                await trio.sleep(wait_s)
                self._reconcile_now.set()
                continue
            except (TimestampError, OutcomeUnknownError, ConnectionFailed) as exc:
                # Reads only: a 5xx or a lost connection on a query is a failed pass, not an
                # unknown outcome; -1021 means the client has already resynced its clock. Try
                # again shortly (chaos: clock_skew, unknown_error, drops).
                logger.warning("reconciliation pass failed, retrying in 1 s ({})", exc)
                await trio.sleep(1.0)
                self._reconcile_now.set()
                continue
            self._last_trade_id = report.last_trade_id
            self._report_foreign(report.foreign)
            await self._checkpoint(report)
            if len(self._known_trade_ids) > MAX_KNOWN_TRADE_IDS:
                # Trade ids grow: keep the newest half (bounded memory, DESIGN §4).
                keep = sorted(self._known_trade_ids)[-MAX_KNOWN_TRADE_IDS // 2 :]
                self._known_trade_ids.clear()
                self._known_trade_ids.update(keep)

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
            self.crashed = f"journal failed: {exc}"
            logger.error("{}; stopping", self.crashed)
            self.request_stop(self.crashed)

    def _report_foreign(self, foreign: list[str]) -> None:
        """Name each open order that is not ours, once: the operator must know that something
        else trades this account (the periodic pass only counts them)."""
        new = [cid for cid in foreign if cid not in self._foreign_seen]
        if new:
            logger.warning("foreign open orders left alone: {}", ", ".join(new))
        # Remember only what is open now: the set stays as small as the venue's order list.
        self._foreign_seen = set(foreign)

    async def _cleanup(
        self, execution: Execution, recorder: JournalRecorder, writer: JournalWriter
    ) -> int:
        """Stop quoting → cancel all and confirm → journal stop → exit code. Shielded."""
        deadline = self.config.runtime.shutdown_deadline_s
        reason = self.escalated or self.crashed or self.stop_reason or "trading loop ended"
        if self.auth_failed is not None:
            reason = "the venue refused the API credentials"
            logger.info("stopping ({}): nothing is sent to the venue any more", reason)
        else:
            logger.info(
                "stopping ({}): cancelling all {} orders (deadline {:g} s)",
                reason,
                self.symbol,
                deadline,
            )
        self.surface.stopping(reason, deadline)
        with trio.CancelScope(shield=True):
            # One deadline for the whole stop: the cancel-all may use most of it, the final
            # reconciliation and the flush what is left (chaos seed 3010: over a silent link
            # each step ran to its own timeout, 6.7 s for a 5 s deadline).
            ends = trio.current_time() + deadline
            if self.auth_failed is None:
                left = await execution.cancel_all_and_confirm(
                    self.symbol, deadline * STOP_CANCEL_SHARE
                )
                await self._reconcile_at_stop(ends - trio.current_time())
                if left == 0:
                    await self._disarm_deadman(ends - trio.current_time())
            else:
                left = 0  # refused at start: this process placed nothing (see _startup)
            # Only a latch is a guard's stop: a stale book halts and clears by itself, and a
            # SIGTERM that met it so was a plain stop (issue #20, finding 4: exit 3, no reason).
            latched = None if self.mm is None else self.mm.risk.kill_switch.reason
            if self.auth_failed is not None:
                code = EXIT_USAGE
            elif left != 0:
                code = EXIT_FAILED
                logger.error(
                    "could not confirm zero open orders at the venue ({}); check the account now",
                    "venue did not answer" if left < 0 else f"{left} still open",
                )
            elif self.crashed is not None:
                code = EXIT_FAILED
            elif self.escalated is not None or latched is not None:
                code = EXIT_SAFE_STOP
            else:
                code = EXIT_OK
            if left == 0 and self.auth_failed is None:
                logger.info("zero open orders confirmed at the venue")
            try:
                recorder.note(
                    "stop",
                    {"reason": reason, "exit_code": code, "open_orders": left},
                    self.clock_ms(),
                )
            except JournalError as exc:  # a full disk: the venue side is settled; say so
                code = EXIT_FAILED
                logger.error("the stop is not journaled: {}", exc)
            with trio.move_on_after(max(STOP_MIN_STEP_S, ends - trio.current_time())):
                try:
                    await writer.flush()
                except MmtrioError as exc:
                    logger.error("journal flush failed at stop: {}", exc)
        if code == EXIT_SAFE_STOP:
            why = self.escalated or f"the kill switch is latched: {latched}"
            logger.warning("stopped: exit code 3, stopped safely by a guard ({})", why)
        else:
            logger.info("stopped: exit code {}", code)
        self.surface.stopped(code)
        return code


async def run_bot(config: Config, *, config_path: Path, sim: bool, console: Any = None) -> int:
    """Run the bot until a signal, a guard or a crash; return the exit code.

    ``console``: the live status screen's rich Console (foreground terminal), None headless.
    """
    engine = Engine(config, config_path=config_path, sim=sim, console=console)
    return await engine.run()


__all__ = ["Engine", "run_bot"]


def _top(mm: MarketMaker) -> tuple[int | None, int | None]:
    """Best bid and ask prices (ticks) of the strategy's book, None when a side is empty."""
    bid, ask = mm.book.best_bid(), mm.book.best_ask()
    return (None if bid is None else bid[0], None if ask is None else ask[0])
