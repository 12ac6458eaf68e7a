"""The one shutdown path every exit takes, and the exit code that says how it ended.

Shielded, with ``runtime.shutdown_deadline_s``: stop quoting (the caller's bot nursery is gone,
nothing decides any more) → cancel every order at the venue and confirm none is open → book
and journal fills that raced the stop → journal ``stop`` and flush → exit code.

Exit codes (cli/__init__): 0 stopped on request with zero open orders confirmed; 1 a crash, a
journal failure, or open orders that could not be confirmed gone; 3 a guard stopped the bot
(supervisor escalation) or the kill switch was latched at exit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio
from loguru import logger

from mmtrio.core.guards import TradingState
from mmtrio.core.strategy import MarketMaker
from mmtrio.errors import JournalError, MmtrioError
from mmtrio.runtime.execution import Execution
from mmtrio.runtime.exit_summary import ExitSummary
from mmtrio.runtime.journal_writer import JournalWriter
from mmtrio.runtime.reconciler import ReconcilerService
from mmtrio.runtime.surface import OperatorSurface
from mmtrio.runtime.trading import JournalRecorder

EXIT_OK, EXIT_FAILED, EXIT_SAFE_STOP = 0, 1, 3


@dataclass
class HowItEnded:
    """Why the bot stopped: the first reason wins in the order escalated, crashed, stop."""

    stop_reason: str | None = None
    escalated: str | None = None
    crashed: str | None = None

    @property
    def reason(self) -> str:
        return self.escalated or self.crashed or self.stop_reason or "trading loop ended"


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
    journal_path: Path | None = None
    summary: ExitSummary | None = None  # set by cleanup: what the operator is told at exit


async def cleanup(parts: Parts, ended: HowItEnded, deadline_s: float) -> int:
    """Stop quoting → cancel all and confirm → journal stop → exit code. Shielded."""
    reason = ended.reason
    logger.info(
        "stopping ({}): cancelling all {} orders (deadline {:g} s)",
        reason,
        parts.symbol,
        deadline_s,
    )
    parts.surface.stopping(reason, deadline_s)
    open_at_stop = 0 if parts.mm is None else len(parts.mm.orders.live_orders())
    with trio.CancelScope(shield=True):
        if parts.execution is not None:
            left = await parts.execution.cancel_all_and_confirm(parts.symbol, deadline_s)
        elif parts.previous_clean is False:
            # Start-up never reached order entry, and the previous session did not end
            # cleanly: its orders may still rest, and this process could not look.
            left = -1
            logger.error(
                "start-up never reached the venue, and the previous session did not end "
                "cleanly: orders it left may still rest (the venue's dead-man countdown "
                "cancels them if it was armed)"
            )
        else:
            left = 0
            logger.info("start-up never reached the venue's order entry: nothing to cancel")
        if parts.reconciler is not None:
            await parts.reconciler.at_stop(deadline_s)
        halted = False
        if parts.mm is not None:
            halted = parts.mm.status(parts.clock_ms()).trading_state is TradingState.HALTED
        code = exit_code(left, ended, halted=halted)
        if left != 0:
            logger.error(
                "could not confirm zero open orders at the venue ({}); check the account now",
                "venue did not answer" if left < 0 else f"{left} still open",
            )
        elif parts.execution is not None:
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
        with trio.move_on_after(max(1.0, deadline_s / 3)):
            try:
                await parts.writer.flush()
            except MmtrioError as exc:
                logger.error("journal flush failed at stop: {}", exc)
    logger.info("stopped: exit code {}", code)
    parts.summary = ExitSummary(
        bot=parts.bot,
        instrument=None if parts.mm is None else parts.mm.instrument,
        reason=reason,
        exit_code=code,
        open_at_stop=open_at_stop,
        left_open=left,
        status=None if parts.mm is None else parts.mm.status(parts.clock_ms()),
        journal=parts.journal_path,
    )
    parts.surface.stopped(code)
    await parts.surface.farewell(parts.summary.text())
    return code


def exit_code(left: int, ended: HowItEnded, *, halted: bool) -> int:
    """The exit code for ``left`` open orders (-1: unknown) and how the bot ended."""
    if left != 0 or ended.crashed is not None:
        return EXIT_FAILED
    if ended.escalated is not None or halted:
        return EXIT_SAFE_STOP
    return EXIT_OK
