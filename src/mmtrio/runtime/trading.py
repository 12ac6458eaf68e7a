"""The trading loop: one inbox in, apply everything pending, decide once, commands out.

Everything that changes the strategy's state goes through this one task (:mod:`.inbox`):
market data (the conflating lane), our order and account events, request outcomes from
execution, operator events (kill/resume) and config changes (:class:`ApplyConfig`) (the
lossless lane). Each iteration takes everything pending, applies it (market first, then the
lossless items in arrival order) and decides once (``mm.decide``): when the loop is behind, it
never plans on a state that is already stale. Because the strategy is synchronous and this is
the only caller, no lock is needed and every decision is a pure function of the applied
events — which is what the journal records and a replay reproduces.

Timers: the loop waits for the inbox at most until ``mm.next_deadline()``; if nothing came it
applies a :class:`Timer`. ``now`` is the runtime's local clock in ms (``clock_ms``).

Commands go to execution over a bounded channel. ``send`` waits when execution is saturated
(backpressure) instead of dropping: a dropped cancel would leave an order resting. Execution
answers a place it cannot afford at once (PlaceRejected, kind LOCAL), so the wait is short.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio
from loguru import logger

from mmtrio import determinism
from mmtrio.core.commands import AmendOrder, Command, PlaceOrder
from mmtrio.core.events import BookInvalid, BookSnapshot, Event, FeedStatus, MarketData, Timer
from mmtrio.core.notices import Notice
from mmtrio.runtime import probe
from mmtrio.runtime.inbox import Batch, Inbox
from mmtrio.runtime.logrepeat import RepeatLimiter, repeat_key


class StrategyLike(Protocol):
    """The part of core.strategy.MarketMaker the loop drives."""

    def apply(self, event: Event, now: int) -> None: ...
    def decide(self, now: int) -> list[Command]: ...
    def next_deadline(self) -> int | None: ...
    def reconfigure(self, config: Any, now: int) -> list[Command]: ...
    def drain_notices(self) -> list[Notice]: ...


class Recorder(Protocol):
    """Where the loop records what it saw and did (:class:`.journal_recorder.JournalRecorder`).

    ``event`` returns True when what it recorded must be durable before the loop acts on it
    (a fill); the loop then awaits ``commit`` before sending the commands of the first
    decision after it, so no decision is sent that a crash could leave unreconstructable.
    ``commit`` waits only for what was flagged and returns at once when the writer's group
    commit already covered it, so it is no wait on the ordinary (market-driven) path.
    """

    def event(self, event: Event, now: int) -> bool: ...
    async def commit(self) -> None: ...
    def command(self, command: Command, now: int) -> None: ...
    def notice(self, notice: Notice, now: int) -> None: ...
    def note(self, kind: str, payload: dict[str, Any], now: int) -> None: ...


@dataclass(frozen=True, slots=True)
class ApplyConfig:
    """Runtime-internal: apply a new StrategyConfig between two steps (SIGHUP)."""

    config: Any
    description: str


LoopItem = Event | ApplyConfig


def make_clock_ms() -> Callable[[], int]:
    """Local ms clock: wall-clock epoch at start, then Trio's monotonic clock.

    Monotonic (an NTP step cannot move the core's time backwards) yet close to epoch ms, so
    venue timestamps and local times are comparable for latency checks. Under Trio's
    ``autojump_clock`` it follows virtual time, which is what the tests need.
    """
    base_ms = determinism.wall_ms()  # the simulation's epoch under mmtrio.determinism
    t0 = trio.current_time()

    def clock_ms() -> int:
        return base_ms + int((trio.current_time() - t0) * 1000.0)

    return clock_ms


# Notice kinds worth a log line each; the rest (quotes, mid samples) go to the journal only,
# or the log would be a firehose.
_LOGGED_NOTICES = {
    "state_change": "WARNING",
    "alert": "WARNING",
    "fill": "INFO",
    "reject": "INFO",
    "cannot_quote": "DEBUG",
    # Not "resume": the strategy raises an "alert" with the same words for the screen and
    # the log, and the "resume" notice is its journal record; logging both printed every
    # resume (and every refusal) twice.
    "fatal": "ERROR",
    "reconcile_request": "WARNING",
    "defence": "INFO",
    "venue_cancel": "INFO",
}


# Refusals that are part of quoting, not news: a post-only order the book moved through
# (the safety distance widens on its own, and a slot that keeps meeting them backs off with
# a WARNING). Logged at DEBUG, still once per window per reason; journaled like every one.
_ROUTINE_REJECTS = frozenset({"would_cross"})


def _back_to_active(notice: Notice) -> bool:
    """A state change to ACTIVE (``HALTED -> ACTIVE: all risk checks clear`` at every
    start): logged at INFO, while each restriction (to REDUCING_ONLY or HALTED) stays a
    WARNING and shows in the status screen's alerts."""
    return (
        notice.kind == "state_change"
        and isinstance(notice.data, dict)
        and notice.data.get("to_state") == "ACTIVE"
    )


class TradingLoop:
    """Runs the strategy over the inbox until cancelled or ``stop_quoting``."""

    def __init__(
        self,
        mm: StrategyLike,
        commands_out: trio.MemorySendChannel[Command],
        clock_ms: Callable[[], int],
        recorder: Recorder | None = None,
    ) -> None:
        self.mm = mm
        self._out = commands_out
        self._clock_ms = clock_ms
        self._recorder = recorder
        self.steps = 0  # decisions taken
        self.absorbed = 0  # market events applied without a decision of their own
        self.commands_sent = 0
        self.last_step_ns = 0  # duration of the last apply + decide (status/benchmark)
        self.stopped = False
        self._uncommitted = False  # a fill journaled but not yet known durable
        self.on_user_reconnect: Callable[[], None] | None = None
        # Operator-surface hooks (runtime/surface.py): ``on_iteration`` after every loop
        # iteration (the systemd watchdog's proof of life), ``on_notice`` for every drained
        # notice (metrics). ``max_idle_s`` bounds each wait so a quiet market still produces
        # iterations: the watchdog must tell "quiet" from "stuck".
        self.on_iteration: Callable[[], None] | None = None
        self.on_notice: Callable[[Notice], None] | None = None
        # The strategy's own book check failed (crossed after a delta): ask the market feed
        # for a fresh snapshot, or the bot would stay halted on a book nobody rebuilds.
        self.on_book_resync: Callable[[str], None] | None = None
        # The strategy's reject policy: a refusal that no retry can fix stops the bot (the
        # venue refused our credentials); one that says the venue's position is not ours asks
        # for a reconciliation pass at once.
        self.on_fatal: Callable[[str], None] | None = None
        self.on_reconcile_request: Callable[[], None] | None = None
        # Seconds from the arrival of the market event that led to an order to the order
        # handed to execution (the tick-to-order histogram; runtime/surface.py binds it).
        self.on_tick_to_order: Callable[[float], None] | None = None
        # Every command handed to execution (metrics: the cancel-alls no notice counts).
        self.on_command: Callable[[Command], None] | None = None
        self.max_idle_s: float | None = None
        self._repeats = RepeatLimiter()  # rejections repeat in bursts; the log says it once

    async def run(self, inbox: Inbox) -> None:
        """Apply and decide on everything the inbox delivers (and due timers) until stopped."""
        while not self.stopped:
            batch = await self._next(inbox)
            if batch is not None:
                await self.handle_batch(batch)
            if self.on_iteration is not None:
                self.on_iteration()

    async def _next(self, inbox: Inbox) -> Batch | None:
        """Everything pending; a Timer when the deadline came first; None when idle."""
        if inbox.pending():
            return inbox.take()
        deadline = self.mm.next_deadline()
        idle = self.max_idle_s
        wait_s = None if deadline is None else (deadline - self._clock_ms()) / 1000.0
        if wait_s is None or wait_s > 0:
            limit = wait_s if idle is None or (wait_s is not None and wait_s < idle) else idle
            if limit is None:
                await inbox.wait()
                return inbox.take()
            with trio.move_on_after(limit):
                await inbox.wait()
                return inbox.take()
            if wait_s is None or (idle is not None and idle < wait_s):
                return None  # quiet: an empty iteration, so the watchdog sees the loop alive
        # Due: a Timer now, together with whatever arrived meanwhile (a storm of timers
        # cannot starve the inbox).
        batch = inbox.take()
        if deadline is not None:
            batch.lossless.append(Timer(deadline))
        return batch

    async def handle(self, item: LoopItem) -> None:
        """Apply one item and decide (public for tests and the benchmark)."""
        batch = Batch()
        if isinstance(item, MarketData | BookSnapshot | BookInvalid):
            batch.market.append(item)
        else:
            batch.lossless.append(item)
        await self.handle_batch(batch)

    async def handle_batch(self, batch: Batch) -> None:
        """Apply everything in ``batch`` (market first), then decide once; journal, send."""
        now = self._clock_ms()
        t0 = time.perf_counter_ns()
        trace = probe.ACTIVE  # latency probe (benchmarks/latency.py); None = off
        mm = self.mm
        market = batch.market
        last_market = market[-1] if market else None
        for ev in market:
            mm.apply(ev, now)
            if ev is not last_market:
                self.absorbed += 1
                if trace is not None:
                    trace.absorbed(ev, t0)
        commands: list[Command] = []
        uncommitted = False
        recorder = self._recorder
        for item in batch.lossless:
            if isinstance(item, ApplyConfig):
                commands.extend(self._reconfigure(item, now))
                continue
            if (
                isinstance(item, FeedStatus)
                and item.stream == "user"
                and item.connected
                and self.on_user_reconnect is not None
            ):
                self.on_user_reconnect()  # reconcile: fills missed while it was down
            mm.apply(item, now)
            if recorder is not None and recorder.event(item, now):
                uncommitted = True
        if trace is not None:
            trace.step_begin(last_market, t0)
        commands.extend(mm.decide(now))
        t1 = time.perf_counter_ns()
        self.last_step_ns = t1 - t0
        if trace is not None:
            trace.step_end(commands, t1)
        self.steps += 1
        # Journal the commands and drain the notices before the first await: whatever reads
        # state while this task waits (the metrics endpoint, the status screen) then sees a
        # booked fill together with its notice, never one without the other.
        self._journal(commands, now)
        self._drain(now)
        if commands and (uncommitted or self._uncommitted) and recorder is not None:
            # Durable before the decision: a batch that sends nothing decides nothing, so the
            # wait is for the first batch that does; by then the writer's group commit has
            # usually covered the fill already and this returns at once.
            await recorder.commit()
            self._uncommitted = False
        elif uncommitted:
            self._uncommitted = True
        await self._send(commands)
        since, observe = batch.received_ns, self.on_tick_to_order
        if (
            since is not None
            and observe is not None
            and any(isinstance(c, PlaceOrder | AmendOrder) for c in commands)
        ):
            observe((time.perf_counter_ns() - since) / 1e9)

    def _reconfigure(self, item: ApplyConfig, now: int) -> list[Command]:
        commands = self.mm.reconfigure(item.config, now)
        logger.info(item.description)
        if self._recorder is not None:
            self._recorder.note("config_reload", {"summary": item.description}, now)
        return commands

    async def emit(self, commands: list[Command], now: int) -> None:
        """Journal and send ``commands`` to execution, in order."""
        self._journal(commands, now)
        await self._send(commands)

    def _journal(self, commands: list[Command], now: int) -> None:
        # Journal first: an order must be on record before it can exist at the venue, or a
        # crash right after sending would leave an order recovery does not know about.
        if self._recorder is not None:
            for cmd in commands:
                self._recorder.command(cmd, now)

    async def _send(self, commands: list[Command]) -> None:
        for cmd in commands:
            await self._out.send(cmd)
            self.commands_sent += 1
            if self.on_command is not None:
                self.on_command(cmd)

    def drain_startup(self, now: int) -> None:
        """Log and record now the notices of the steps the start-up reconciliation made
        before the loop ran (fills it booked, a position gap it adopted), each marked
        ``start-up:``. Each states the position at its own step, which the reconciliation
        summary logged before them has already moved past: they are history, not the
        position now (chaos seed 2043: a missed fill's line said -0.002 BTC 19 ms before the
        gap adoption's line said -0.005 BTC, the position the bot had held since the
        summary)."""
        self._drain(now, prefix="start-up: ")

    def _drain(self, now: int, prefix: str = "") -> None:
        for notice in self.mm.drain_notices():
            level = _LOGGED_NOTICES.get(notice.kind)
            if level == "WARNING" and _back_to_active(notice):
                level = "INFO"  # good news: not an alert on the operator's screen
            if level is not None:
                self._log(notice, level, now, prefix)
            if self._recorder is not None:
                self._recorder.notice(notice, now)
            if self.on_notice is not None:
                self.on_notice(notice)
            if notice.kind == "book_resync" and self.on_book_resync is not None:
                self.on_book_resync(notice.message)
            elif notice.kind == "fatal" and self.on_fatal is not None:
                self.on_fatal(notice.message)
            elif notice.kind == "reconcile_request" and self.on_reconcile_request is not None:
                self.on_reconcile_request()

    def _log(self, notice: Notice, level: str, now: int, prefix: str = "") -> None:
        message = prefix + notice.message
        if notice.kind == "reject":
            if notice.data.get("reject_kind") in _ROUTINE_REJECTS:
                level = "DEBUG"
            held = self._repeats.admit(
                repeat_key(
                    f"{notice.data.get('reject_kind')} {notice.data.get('code')} "
                    f"{notice.data.get('reason')}"
                ),
                now,
            )
            if held is None:
                return
            if held:
                message += f" (and {held} more like it since the last such line)"
        logger.bind(kind=notice.kind).log(level, "{msg}", msg=message)
