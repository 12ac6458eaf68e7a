"""What the Telegram messages say: the fills summary, the daily P&L and the P&L line.

Figures are rounded like everywhere else (:mod:`mmtrio.units`): sizes to the lot, money to
the cent, fees a cost (negative).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from mmtrio import units
from mmtrio.core.instruments import Instrument
from mmtrio.core.notices import Notice, StrategyStatus

HELP_TEXT = "commands: /status, /kill [reason], /resume"


@dataclass(slots=True)
class FillTally:
    """The fills since the last summary."""

    count: int = 0
    buys: int = 0
    sells: int = 0
    lots: int = 0

    def add(self, fill: Notice) -> None:
        """Count one "fill" notice (its side and quantity, when it carries them)."""
        side, qty = fill.data.get("side"), fill.data.get("qty")
        self.count += 1
        if side == "BUY":
            self.buys += 1
        elif side == "SELL":
            self.sells += 1
        if isinstance(qty, int):
            self.lots += qty


def pnl_text(inst: Instrument, st: StrategyStatus) -> str:
    """The session's P&L and its parts, rounded together (they add up as printed)."""
    pnl, q = units.ledger_pnl(st.ledger), inst.quote_asset
    return (
        f"session P&L {units.money(pnl.equity)} {q} (realised {units.money(pnl.realised)}, "
        f"unrealised {units.money(pnl.unrealised)}, fees {units.money(pnl.fees)}, "
        f"funding {units.money(pnl.funding)})"
    )


def fills_text(bot: str, inst: Instrument, t: FillTally, st: StrategyStatus) -> str:
    """The fills summary: the tally, the position, the session's P&L."""
    return (
        f"{bot} {inst.symbol}: {t.count} fill(s) (buy {t.buys} / sell {t.sells}, "
        f"{units.sized(inst, t.lots)}); position "
        f"{units.sized(inst, st.position_lots, signed=True)}; {pnl_text(inst, st)}"
    )


def daily_text(bot: str, inst: Instrument, day: Decimal, st: StrategyStatus) -> str:
    """The daily message: ``day`` (the equity change since the previous one) and the rest."""
    return (
        f"{bot} {inst.symbol} daily: {units.money(day)} {inst.quote_asset} "
        f"since the last daily message; {pnl_text(inst, st)}; {st.ledger.fills} fills; position "
        f"{units.sized(inst, st.position_lots, signed=True)}; state "
        f"{st.trading_state.value}"
    )


def utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


__all__ = ["HELP_TEXT", "FillTally", "daily_text", "fills_text", "pnl_text", "utc"]
