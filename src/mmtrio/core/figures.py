"""The two figure formats the core's own messages need: money and a moment.

A loss-limit reason ("drawdown 0.15 exceeds the limit 0.05 … at 2026-12-07T00:08:56.788Z")
is built in the core and reaches the log, the journal, ``mmtrio status``, Telegram and the
report as it is, so it is rounded here the way every surface rounds money
(:mod:`mmtrio.units` formats with these same functions): to the cent of the quote asset,
half to even, and a figure that rounds to zero is never printed with a minus sign.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

MONEY_DECIMALS = 2
"""Money is shown to the cent of the quote asset (USDT, USDC, USD)."""
_CENT = Decimal(1).scaleb(-MONEY_DECIMALS)


def money(value: Decimal | float, *, signed: bool = True) -> str:
    """``+12.35``: rounded to the cent; ``-0.001`` is ``+0.00``, never ``-0.00``."""
    d = Decimal(str(value)) if isinstance(value, float) else value
    q = d.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    if q == 0:
        q = abs(q)  # Decimal keeps the sign of a negative zero: drop it
    return f"{q:+,.{MONEY_DECIMALS}f}" if signed else f"{q:,.{MONEY_DECIMALS}f}"


def utc_iso(ms: int) -> str:
    """Epoch milliseconds as UTC ISO 8601 to the millisecond: ``2026-12-07T00:08:56.788Z``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = ["MONEY_DECIMALS", "money", "utc_iso"]
