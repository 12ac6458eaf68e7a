"""The exit summary: what an operator must know when the bot has stopped.

Printed after the live screen has closed (and logged as one record headless): how it ended and
the exit code's meaning, the orders open at the stop and whether zero open orders were
confirmed at the venue (or, when the stop had none to ask about, that this process placed
none and how the session before it ended), the position left open and its value at the last
mid (a stop cancels orders; it never closes a position unless ``mmtrio kill --flatten``
asked), and the session's P&L with its parts. Figures use :mod:`mmtrio.units`, like every
other surface.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from mmtrio import units
from mmtrio.core.instruments import Instrument
from mmtrio.core.notices import StrategyStatus

CODE_MEANING = {
    0: "clean stop",
    1: "FAILED",
    2: "bad usage or config",
    3: "stopped safely by a guard",
}


@dataclass(frozen=True, slots=True)
class ExitSummary:
    bot: str
    instrument: Instrument | None  # None when start-up never read it (then status is None)
    reason: str
    exit_code: int
    open_at_stop: int  # our live orders when the cleanup began
    left_open: int  # after cancel-all: 0 confirmed none, > 0 still open, < 0 venue did not answer
    status: StrategyStatus | None  # the strategy's last status (None: it never started)
    journal: Path | None
    # The kill switch's reason when it is latched at the stop: which guard stopped the bot,
    # and for a position mismatch the venue's position next to the books' (the position
    # line is the books': "flat" while the venue held 0.003 BTC, with nothing saying so).
    latched: str | None = None
    # Why zero open orders was not asked of the venue (nothing placed, and the session before
    # it: ``shutdown.nothing_placed``); None when the venue confirmed it.
    unchecked: str | None = None
    # The venue's position as the stop's final reconciliation read it (None: not read). When
    # it is not the books' (a position mismatch latched the kill switch: a liquidation, a
    # transfer, a manual order), the summary says the venue's: "flat" from the books alone
    # told the operator there was nothing left while the account held a position.
    venue_position_lots: int | None = None
    # Exit code 3: which guard (the latched kill switch and its reason, or the supervisor's
    # escalation). The log said it; the summary said only "stopped safely by a guard" after
    # an operator's `kill` and Ctrl-C (QA, Hyperliquid paper bot).
    guard: str | None = None

    def lines(self) -> list[str]:
        """The summary as plain text lines (no colour: it must survive a pipe and a log)."""
        inst = self.instrument
        meaning = CODE_MEANING.get(self.exit_code, "see `mmtrio --help`")
        out = [f"mmtrio {self.bot} stopped ({self.reason}): exit code {self.exit_code}, {meaning}"]
        if self.guard is not None:
            out.append(f"  guard     {self.guard}")
        if self.left_open == 0 and self.unchecked is not None:
            orders = self.unchecked
        elif self.left_open == 0:
            orders = (
                f"{self.open_at_stop} open at the stop, cancelled; zero open orders confirmed "
                "at the venue"
            )
        elif self.left_open > 0:
            orders = (
                f"{self.left_open} STILL OPEN at the venue after the cancel-all: check the "
                "account now"
            )
        else:
            orders = (
                "the venue did not answer the cancel-all confirmation: CHECK THE ACCOUNT NOW "
                "(the venue's dead-man countdown cancels what is left)"
            )
        out.append(f"  orders    {orders}")
        if self.latched is not None:
            out.append(
                f"  halted    kill switch: {self.latched}; the next start stays HALTED until "
                "`mmtrio resume`"
            )
        st = self.status
        if st is None or inst is None:
            out.append("  position  unknown: the strategy never started (nothing was traded)")
            return out
        led = st.ledger
        venue = self.venue_position_lots
        if venue is not None and venue != st.position_lots:
            value = units.notional(inst, venue, st.mid)
            worth = "" if value is None else f", worth {units.money(value)} {inst.quote_asset}"
            mid = "" if st.mid is None else f" at mid {units.mid_price(inst, st.mid)}"
            out.append(
                f"  position  the VENUE HOLDS {units.sized(inst, venue, signed=True)}{worth}{mid}"
                f", this bot's books {units.sized(inst, st.position_lots, signed=True)}: they "
                "disagree; check the account (a restart adopts the venue's position)"
            )
        elif st.position_lots == 0:
            out.append(f"  position  flat (0 {inst.base_asset})")
        else:
            value = units.notional(inst, st.position_lots, st.mid)
            mid = "" if st.mid is None else f" at mid {units.mid_price(inst, st.mid)}"
            worth = "" if value is None else f", worth {units.money(value)} {inst.quote_asset}"
            out.append(
                f"  position  {units.sized(inst, st.position_lots, signed=True)} LEFT OPEN"
                f"{worth}{mid} (entry {st.entry_price:.{inst.price_decimals}f}); a stop does "
                "not close it: `mmtrio kill --flatten` on a running bot, or the venue"
            )
        pnl = units.ledger_pnl(led)
        out.append(
            f"  P&L       {units.money(pnl.equity)} {inst.quote_asset} (realised "
            f"{units.money(pnl.realised)}, unrealised {units.money(pnl.unrealised)}, fees "
            f"{units.money(pnl.fees)}, funding {units.money(pnl.funding)}); "
            f"{led.fills} fills, drawdown {units.money(st.drawdown, signed=False)} of "
            f"{units.money(st.max_drawdown, signed=False)}"
        )
        excluded = units.unpriced_fees(led.unpriced_fees)
        if excluded is not None:
            out.append(f"  fees      {excluded}")
        if self.journal is not None:
            # By name: a bot started with `--set venue.name=…` or `--name` is not the one a
            # plain `mmtrio report` finds from the config (QA, Hyperliquid paper bot).
            out.append(
                f"  journal   {self.journal}  (`mmtrio report --name {self.bot}` shows the session)"
            )
        return out

    def text(self, width: int | None = None) -> str:
        """The lines; with ``width``, wrapped at words under their label (a terminal)."""
        if width is None:
            return "\n".join(self.lines())
        out: list[str] = []
        for line in self.lines():
            out.extend(
                textwrap.wrap(line, width=max(40, width), subsequent_indent=" " * 12) or [""]
            )
        return "\n".join(out)


def position_value(st: StrategyStatus, inst: Instrument) -> Decimal | None:
    """The position's signed value at the mid (quote asset), None without a mid."""
    return units.notional(inst, st.position_lots, st.mid)


__all__ = ["CODE_MEANING", "ExitSummary", "position_value"]
