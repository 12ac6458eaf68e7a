"""Assembly: the bot's parts built once, from the config, the venue session and the
instrument the venue named — and the supervised children that keep them fed.

No I/O here: :func:`assemble` only constructs (strategy, client ids, execution, trading loop,
reconciler), and :func:`supervise` only registers children with a
:class:`~mmtrio.runtime.supervisor.Supervisor`. The engine (:mod:`.engine`) runs them, in
its task tree, after start-up has read the instrument.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from mmtrio import determinism
from mmtrio.config import Config
from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import Command
from mmtrio.core.instruments import Instrument
from mmtrio.core.ratelimit import RateBudget
from mmtrio.core.strategy import MarketMaker
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.runtime import account_watch, clock_watch, fee_prices
from mmtrio.runtime.account_watch import watch_account
from mmtrio.runtime.breaker import CircuitBreaker
from mmtrio.runtime.clock_watch import ClockResync, watch_clock
from mmtrio.runtime.deadman import deadman_heartbeat
from mmtrio.runtime.execution import Execution
from mmtrio.runtime.fee_prices import watch_fee_prices
from mmtrio.runtime.inbox import Inbox
from mmtrio.runtime.instrument_watch import watch_instrument
from mmtrio.runtime.journal_recorder import JournalRecorder
from mmtrio.runtime.journal_writer import JournalWriter
from mmtrio.runtime.reconciler import ReconcilerService
from mmtrio.runtime.supervisor import RestartPolicy, Supervisor
from mmtrio.runtime.trading import TradingLoop
from mmtrio.runtime.venue_fit import strategy_config
from mmtrio.venues.protocol import (
    AccountSnapshot,
    PacedRequests,
    SupervisedTasks,
    VenueFactory,
    VenueSession,
)

COMMAND_CHANNEL_SIZE = 256
CLIENT_ID_PREFIX = "mmt"


@dataclass
class Running:
    """What start-up built for one instrument."""

    instrument: Instrument
    strategy: StrategyConfig
    mm: MarketMaker
    ids: ClientIdGenerator
    execution: Execution
    loop: TradingLoop
    reconciler: ReconcilerService
    cmd_recv: trio.MemoryReceiveChannel[Command]


@dataclass(frozen=True, slots=True)
class JournalFacts:
    """What the journal told start-up: the session epoch and the trades it already holds."""

    path: Path
    epoch: int
    known_trade_ids: set[int]
    last_trade_id: int | None


def assemble(  # noqa: PLR0917 - assembly: every part once
    config: Config,
    venue: VenueFactory,
    session: VenueSession,
    instrument: Instrument,
    journal: JournalFacts,
    recorder: JournalRecorder,
    writer: JournalWriter,
    inbox: Inbox,
    clock_ms: Callable[[], int],
) -> Running:
    """Strategy, execution, loop and reconciler for ``instrument`` (no I/O)."""
    orders_per_minute = session.rate_limits.orders_per_minute
    strat = strategy_config(
        config,
        instrument,
        orders_per_minute=orders_per_minute,
        capabilities=session.capabilities,
        log=True,
    )
    ids = ClientIdGenerator(venue.client_ids(CLIENT_ID_PREFIX), journal.epoch)
    mm = MarketMaker(strat, ids)
    cmd_send, cmd_recv = trio.open_memory_channel[Command](COMMAND_CHANNEL_SIZE)
    ex = config.execution
    execution = Execution(
        session.gateway,
        instrument,
        RateBudget(session.rate_limits, margin=1.0 - ex.rate_budget_margin),
        CircuitBreaker(ex.breaker_failures, ex.breaker_probe_interval_ms),
        inbox,
        clock_ms,
        costs=session.costs,
    )
    if isinstance(session, PacedRequests):
        # its reads and dead-man refreshes are charged to the same budget as the orders
        session.pace_with(execution.pace, execution.charge)
    loop = TradingLoop(mm, cmd_send, clock_ms, recorder)
    reconciler = ReconcilerService(
        gateway=session.gateway,
        mm=mm,
        instrument=instrument,
        ids=ids,
        journal_path=journal.path,
        recorder=recorder,
        writer=writer,
        clock_ms=clock_ms,
        # One quote's size: a fill racing the position query cannot trip the halt; a real
        # booking gap of more than one order does.
        tolerance_lots=strat.quote.base_size_lots,
        known_trade_ids=journal.known_trade_ids,
        last_trade_id=journal.last_trade_id,
    )
    loop.on_user_reconnect = reconciler.request_pass
    loop.on_reconcile_request = reconciler.request_pass  # the reject policy's reduce-only rule
    return Running(instrument, strat, mm, ids, execution, loop, reconciler, cmd_recv)


@dataclass(frozen=True, slots=True)
class Watches:
    """The account and clock watches' inputs: the account read at start (handed to the
    strategy first) and where each clock-sync offset goes."""

    account: AccountSnapshot | None
    on_clock_offset: Callable[[int], None]
    clock_resync: ClockResync | None = None  # measure at once when execution asks


def supervise(  # noqa: PLR0917 - the children's parts, passed once
    config: Config,
    session: VenueSession,
    run: Running,
    inbox: Inbox,
    clock_ms: Callable[[], int],
    reconcile_interval_s: Callable[[], float],
    status_log: Callable[[], Awaitable[None]] | None,
    extra: list[tuple[str, Any]],
    watches: Watches | None = None,
    deadman_armed_at: float | None = None,
) -> Supervisor:
    """The supervisor with the bot's long-lived children: market feed, user feed, dead-man
    (when the venue has one), periodic reconciliation, instrument watch, account watch and
    clock sync (``watches``), the status log line (``status_log``; None when the live screen
    replaces it) and any ``extra`` children. ``reconcile_interval_s`` reads the live config
    (the key is reloadable). ``deadman_armed_at``: when start-up armed the dead-man (Trio
    time), its child's first run starts refreshing from there instead of arming again."""
    rt = config.runtime
    rs = rt.restart
    policy = RestartPolicy(
        base_delay_s=rs.base_delay_s,
        cap_s=rs.cap_s,
        max_restarts=rs.max_restarts,
        window_s=rs.window_s,
    )
    sup = Supervisor(rng=determinism.rng("supervisor"), default_policy=policy)
    market = session.market_feed(run.instrument)
    user = session.user_feed(run.instrument)
    inbox.on_overflow = market.request_resync
    run.loop.on_book_resync = market.request_resync
    symbol = run.instrument.symbol

    async def market_child() -> None:
        await market.run(inbox)

    async def user_child() -> None:
        await user.run(inbox.send_user)

    armed = [deadman_armed_at]  # start-up's first arm; a restarted child arms again

    async def deadman_child(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        armed_at, armed[0] = armed[0], None
        await deadman_heartbeat(
            session.gateway,
            symbol,
            rt.deadman_countdown_ms,
            rt.deadman_refresh_ms,
            task_status,
            disarm_on_exit=False,  # the cleanup disarms, once no order is left (shutdown)
            armed_at=armed_at,
        )

    async def reconciler_child() -> None:
        await run.reconciler.run(inbox, reconcile_interval_s)

    async def instrument_child() -> None:
        await watch_instrument(session, run.instrument, inbox, clock_ms)

    sup.add("market-feed", market_child)
    sup.add("user-stream", user_child)
    if session.capabilities.deadman:
        sup.add("deadman", deadman_child, signals_ready=True)
    sup.add("reconciler", reconciler_child)
    sup.add("instrument-watch", instrument_child)
    if watches is not None:
        first, on_offset, resync = watches.account, watches.on_clock_offset, watches.clock_resync

        async def account_child() -> None:
            interval = account_watch.INTERVAL_S  # read here: a test may shorten it
            await watch_account(session, inbox, clock_ms, first, interval)

        async def clock_child() -> None:
            await watch_clock(session, on_offset, clock_watch.INTERVAL_S, resync)

        async def fee_price_child() -> None:
            interval = fee_prices.INTERVAL_S  # read here: a test may shorten it
            await watch_fee_prices(session, run.mm.ledger, inbox, clock_ms, interval_s=interval)

        sup.add("account-watch", account_child)
        sup.add("clock-sync", clock_child)
        sup.add("fee-prices", fee_price_child)
    if status_log is not None:
        sup.add("status-log", status_log)
    if isinstance(session, SupervisedTasks):  # e.g. the order socket (ws order entry)
        for name, fn in session.supervised_tasks():
            sup.add(name, fn)
    for name, fn in extra:
        sup.add(name, fn)
    return sup


__all__ = ["CLIENT_ID_PREFIX", "JournalFacts", "Running", "Watches", "assemble", "supervise"]
