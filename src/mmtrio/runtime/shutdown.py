"""The one shutdown path every exit takes, and the exit code that says how it ended.

Shielded, within one ``runtime.shutdown_deadline_s`` for the whole of it: stop quoting (the
caller's bot nursery is gone, nothing decides any more) → cancel every order at the venue and
confirm none is open (up to ¾ of the deadline) → book and journal fills that raced the stop →
while a place or amend in doubt can still land, watch for it (:mod:`mmtrio.runtime.in_doubt`),
then book again what it may have filled → disarm the venue's dead-man countdown, only once
zero open orders are confirmed → journal ``stop`` and flush (what is left of the deadline).
DST seed 205635: the fills were booked only after the watch, which took 3.8 s of the stop; a
fill that raced the cancel-all went unbooked all that time (its order was the one in doubt:
the fill settled the doubt, so no watch was needed at all). Chaos seed 3010: over a silent
link each step used to run to its own timeout, 6.7 s for a 5 s deadline; seed 26: the dead-man
used to be disarmed before the cancel-all, which held the stop up 5 s and left the orders
without their protection whenever the cancel-all then failed.

Exit codes (cli/__init__): 0 stopped on request with zero open orders confirmed; 1 a crash, a
journal failure, or open orders that could not be confirmed gone; 2 the venue refused the
API credentials at start (nothing was sent after the refusal); 3 a guard stopped the bot
(supervisor escalation) or the kill switch was latched at exit, and the last line names
which. A stale book halts quoting and clears by itself: a stop that meets it is a plain
stop, exit 0 (issue #20, finding 4: it was exit 3 with no reason).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import trio
from loguru import logger

from mmtrio.core.commands import CancelAll
from mmtrio.core.strategy import MarketMaker
from mmtrio.errors import JournalError, MmtrioError
from mmtrio.runtime.cancel_confirm import cancel_all_and_confirm
from mmtrio.runtime.execution import Execution
from mmtrio.runtime.exit_summary import ExitSummary
from mmtrio.runtime.in_doubt import in_doubt_until
from mmtrio.runtime.journal_recorder import JournalRecorder
from mmtrio.runtime.journal_writer import JournalWriter
from mmtrio.runtime.pace_tier import stopping
from mmtrio.runtime.reconciler import ReconcilerService
from mmtrio.runtime.surface import OperatorSurface
from mmtrio.venues.protocol import Gateway

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SAFE_STOP = 0, 1, 2, 3
STOP_CANCEL_SHARE = 0.75  # of the deadline for the cancel-all and its confirmation
STOP_MIN_STEP_S = 0.5  # the final reconciliation, the disarm and the flush get at least this


@dataclass
class HowItEnded:
    """Why the bot stopped: the first reason wins in the order escalated, crashed, stop."""

    stop_reason: str | None = None
    escalated: str | None = None
    crashed: str | None = None
    auth_failed: str | None = None  # the venue refused the credentials at start
    start_refused: str | None = None  # the account cannot be traded as configured (start)

    @property
    def reason(self) -> str:
        return (
            self.escalated
            or self.crashed
            or self.stop_reason
            or self.start_refused
            or "trading loop ended"
        )


@dataclass
class Parts:
    """What the cleanup works with; ``execution`` is None when start-up never got that far
    (nothing was sent to the venue by this process). ``previous_clean``: how the journal's
    previous session ended (None: there was none)."""

    bot: str
    symbol: str
    execution: Execution | None
    reconciler: ReconcilerService | None
    mm: MarketMaker | None
    recorder: JournalRecorder
    writer: JournalWriter
    surface: OperatorSurface
    clock_ms: Callable[[], int]
    previous_clean: bool | None = None
    deadman: bool = False  # the venue has a dead-man countdown the bot armed
    # The session's gateway when start-up read the instrument but stopped before order
    # entry (``execution`` None): what an unclean previous session left can still be cancelled.
    gateway: Gateway | None = None
    # Start-up stopped before it read the instrument: what reads it and returns the gateway,
    # so an unclean previous session's orders can still be looked for (None: not needed).
    open_gateway: Callable[[], Awaitable[Gateway]] | None = None
    journal_path: Path | None = None
    summary: ExitSummary | None = None  # set by cleanup: what the operator is told at exit


async def cleanup(parts: Parts, ended: HowItEnded, deadline_s: float) -> int:
    """Stop quoting → cancel all and confirm → journal stop → exit code. Shielded."""
    reason = ended.reason
    if ended.auth_failed is not None:
        reason = "the venue refused the API credentials"
        logger.info("stopping ({}): nothing is sent to the venue any more", reason)
    elif ended.start_refused is not None:
        reason = "start refused: the account or the config does not fit the venue"
        logger.info("stopping ({}): no order was sent", reason)
    else:
        logger.info(
            "stopping ({}): cancelling all {} orders (deadline {:g} s)",
            reason,
            parts.symbol,
            deadline_s,
        )
    parts.surface.stopping(reason, deadline_s)
    open_at_stop = 0 if parts.mm is None else len(parts.mm.orders.live_orders())
    journal_cancel_all = _journal_cancel_all(parts, reason)
    with trio.CancelScope(shield=True), stopping():  # paced requests in the stop's tier
        ends = trio.current_time() + deadline_s
        unchecked: str | None = None  # set when zero open orders is not a venue's answer
        if ended.auth_failed is not None:
            left = 0  # refused at its first signed request: this process placed nothing
            unchecked = nothing_placed("the venue refused its credentials", parts.previous_clean)
        elif parts.execution is not None:
            left = await parts.execution.cancel_all_and_confirm(
                parts.symbol, deadline_s * STOP_CANCEL_SHARE, journal_cancel_all
            )
        elif parts.previous_clean is False and parts.open_gateway is not None:
            # Start-up stopped before it read the instrument (waiting for the rate budget, a
            # back-off): read it now, in the stop's tier, and cancel as below (Hyperliquid DST
            # seed 4: a SIGTERM 11 s into a restart's wait for its first read exited 1).
            logger.warning(
                "start-up stopped before reading the instrument, and the previous session did "
                "not end cleanly: reading it to cancel what that session may have left"
            )
            left = await _cancel_unclean(
                parts.open_gateway, parts.symbol, deadline_s * STOP_CANCEL_SHARE,
                journal_cancel_all,
            )  # fmt: skip
        elif parts.previous_clean is False and parts.gateway is not None:
            # Start-up stopped before order entry (a full disk, a refused account), but the
            # session is open: what the unclean previous session left is cancelled as any
            # stop cancels (chaos seed 3015, OKX: a restart after a kill -9 stopped on a full
            # journal; the killed bot's quote rested until OKX's 10 s cancel-all-after).
            logger.warning(
                "start-up stopped before order entry, and the previous session did not end "
                "cleanly: cancelling what it may have left"
            )
            left = await _cancel_on(
                parts.gateway, parts.symbol, deadline_s * STOP_CANCEL_SHARE, journal_cancel_all
            )
        elif parts.previous_clean is False:
            # Start-up never reached the venue, and the previous session did not end
            # cleanly: its orders may still rest, and this process could not look.
            left = -1
            logger.error(
                "start-up never reached the venue, and the previous session did not end "
                "cleanly: orders it left may still rest (the venue's dead-man countdown "
                "cancels them if it was armed)"
            )
        else:
            left = 0
            unchecked = nothing_placed(
                "start-up never reached the venue's order entry", parts.previous_clean
            )
            logger.info("stop: {}", unchecked)  # chaos/logs.py reads "…never reached…"
        # the final reconciliation (none when the venue refused the credentials)
        reconciler = parts.reconciler if ended.auth_failed is None else None
        if reconciler is not None:
            # Fills that raced the cancel-all, booked now: a place or amend in doubt may be
            # settled by them (it filled), and the books state the position at once.
            await reconciler.at_stop(ends - 2 * STOP_MIN_STEP_S - trio.current_time())
        keep_armed = False
        doubt = in_doubt_until(parts.mm)
        if left == 0 and doubt is not None and parts.execution is not None:
            # a place or amend in doubt can still land: look until it cannot (in_doubt.py)
            keep_armed = not await parts.execution.watch_late_landings(
                parts.symbol, doubt[0], doubt[1], ends - 2 * STOP_MIN_STEP_S
            )
            if keep_armed and parts.deadman:
                logger.warning(
                    "stop: a request in doubt may still land after this stop: the venue's "
                    "dead-man countdown stays armed to cancel it"
                )
            if reconciler is not None:
                # what landed late may have filled before the watch cancelled it
                await reconciler.at_stop(ends - trio.current_time())
        if reconciler is not None and left == 0 and parts.deadman and not keep_armed:
            await _disarm(reconciler, parts.symbol, ends - trio.current_time())
        latched = None if parts.mm is None else parts.mm.risk.kill_switch.reason
        code = exit_code(left, ended, latched=latched)
        if left != 0:
            logger.error(
                "could not confirm zero open orders at the venue ({}); check the account now",
                "venue did not answer" if left < 0 else f"{left} still open",
            )
        elif unchecked is None:  # the venue answered the cancel-all's confirmation
            logger.info("zero open orders confirmed at the venue")
        try:
            if parts.mm is not None:
                # The limits and the kill switch as they stand after the last fills: the next
                # start continues from here (core/loss_limits.py).
                now = parts.clock_ms()
                parts.recorder.note("risk_state", parts.mm.limits_state(now).to_json(), now)
            parts.recorder.note(
                "stop",
                {"reason": reason, "exit_code": code, "open_orders": left},
                parts.clock_ms(),
            )
        except JournalError as exc:  # a full disk: the venue side is settled; say so
            code = EXIT_FAILED
            logger.error("the stop is not journaled: {}", exc)
        with trio.move_on_after(max(STOP_MIN_STEP_S, ends - trio.current_time())):
            try:
                await parts.writer.flush()
            except MmtrioError as exc:
                logger.error("journal flush failed at stop: {}", exc)
    guard = None
    if code == EXIT_SAFE_STOP:
        why = ended.escalated or f"the kill switch is latched: {latched}"
        # The summary's "halted" line names a latched kill switch; "guard" names the rest.
        guard = ended.escalated
        logger.warning("stopped: exit code 3, stopped safely by a guard ({})", why)
    else:
        logger.info("stopped: exit code {}", code)
    venue_position = None if parts.reconciler is None else parts.reconciler.venue_position_at_stop
    parts.summary = ExitSummary(
        bot=parts.bot,
        instrument=None if parts.mm is None else parts.mm.instrument,
        reason=reason,
        exit_code=code,
        open_at_stop=open_at_stop,
        left_open=left,
        status=None if parts.mm is None else parts.mm.status(parts.clock_ms()),
        journal=parts.journal_path,
        latched=latched,
        unchecked=unchecked,
        venue_position_lots=venue_position,
        guard=guard,
    )
    parts.surface.stopped(code)
    await parts.surface.farewell(parts.summary.text())
    return code


async def _cancel_unclean(
    open_gateway: Callable[[], Awaitable[Gateway]],
    symbol: str,
    deadline_s: float,
    before_send: Callable[[], None],
) -> int:
    """Read the instrument (``open_gateway``), then cancel all and confirm, within
    ``deadline_s`` for the whole; -1 when the read failed or did not finish in time."""
    ends = trio.current_time() + deadline_s
    gateway: Gateway | None = None
    with trio.move_on_at(ends):
        try:
            gateway = await open_gateway()
        except MmtrioError as exc:
            logger.error("stop: the instrument could not be read: {}", exc)
    if gateway is None:
        logger.error(
            "start-up never reached the venue's order entry, and the previous session did not "
            "end cleanly: orders it left may still rest (the venue's dead-man countdown "
            "cancels them if it was armed)"
        )
        return -1
    return await _cancel_on(gateway, symbol, max(0.0, ends - trio.current_time()), before_send)


async def _cancel_on(
    gateway: Gateway, symbol: str, deadline_s: float, before_send: Callable[[], None]
) -> int:
    """Cancel all of ``symbol`` through ``gateway`` and confirm, without the execution layer
    (start-up stopped before it existed)."""
    return await cancel_all_and_confirm(
        lambda: gateway.cancel_all(symbol),
        lambda: gateway.open_orders(symbol),
        symbol,
        deadline_s,
        before_send,
    )


def nothing_placed(why: str, previous_clean: bool | None) -> str:
    """What is true of the venue's orders when the stop did not ask it: this process placed
    none, and what the journal says of the session before (``Parts.previous_clean``)."""
    if previous_clean is None:
        before = "the journal has no earlier session"
    elif previous_clean:
        before = "the previous session ended cleanly"
    else:
        before = "the previous session did not end cleanly: orders it left may still rest"
    return f"nothing placed by this process ({why}); {before}; nothing to cancel"


def _journal_cancel_all(parts: Parts, reason: str) -> Callable[[], None]:
    """What journals each of the stop's cancel-alls before it is sent (``order_sent``
    ``cancel_all``, as the loop's own): ``mmtrio report`` counted none, and said ``cancel 0``
    after a stop that cancelled two orders. A journal that cannot take it (a full disk) is
    said once; the cancel-all goes out regardless: the venue side comes first."""
    said = False

    def note() -> None:
        nonlocal said
        parts.surface.cancel_all_sent()  # the metrics count it as the loop's are
        try:
            parts.recorder.command(CancelAll(parts.symbol, f"stop: {reason}"), parts.clock_ms())
        except JournalError as exc:
            if not said:
                said = True
                logger.error("the stop's cancel-all is not journaled (sent regardless): {}", exc)

    return note


async def _disarm(reconciler: ReconcilerService, symbol: str, time_left_s: float) -> None:
    """With zero open orders confirmed, the venue's countdown is disarmed so it cannot fire
    into the next run's orders; never before the cancel-all (see the module docstring), and
    only when start-up armed it (its recovery finished)."""
    if not reconciler.recovered:
        return
    with trio.move_on_after(max(STOP_MIN_STEP_S, time_left_s)):
        try:
            await reconciler.gateway.arm_deadman(symbol, 0)
        except MmtrioError as exc:
            logger.warning("dead-man disarm failed (nothing is open for it to cancel): {}", exc)


def exit_code(left: int, ended: HowItEnded, *, latched: str | None) -> int:
    """The exit code for ``left`` open orders (-1: unknown) and how the bot ended; ``latched``
    is the kill switch's reason when it is latched (a guard's stop), else None."""
    if ended.auth_failed is not None or ended.start_refused is not None:
        return EXIT_USAGE
    if left != 0 or ended.crashed is not None:
        return EXIT_FAILED
    if ended.escalated is not None or latched is not None:
        return EXIT_SAFE_STOP
    return EXIT_OK
