"""Account awareness: the venue account checked at start, and watched while trading.

At start (after the instrument is read, before anything is sent): the account is read through
the venue seam (``VenueSession.account()``) and the start is refused, exit 2, with the
account's value and the fix, when

- the venue says the account may not trade;
- its position mode cannot be traded by a one-way quoting strategy (Binance hedge mode:
  every order would be refused -4061);
- ``risk.max_position`` at the mark is above the largest position the venue allows at the
  account's leverage (its leverage bracket, where the venue states one);
- its leverage on the symbol is above ``risk.max_leverage`` (the venue's margin then caps the
  position below what the operator meant; the fix is to set it there);
- its available balance is below ``risk.min_balance``.

While trading: every ``INTERVAL_S`` the account is read again and handed to the strategy as an
:class:`~mmtrio.core.events.AccountHealth` (available balance, margin ratio, liquidation
price), which the risk layer's margin guard judges (:mod:`mmtrio.core.account_guard`). A
failed read is logged and tried again on the next round; the guard stops trusting a reading
after five minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import trio
from loguru import logger

from mmtrio.config import Config
from mmtrio.core.events import AccountHealth
from mmtrio.core.instruments import Instrument
from mmtrio.errors import AccountError, MmtrioError
from mmtrio.runtime.inbox import Inbox
from mmtrio.venues.protocol import AccountSnapshot, VenueSession

INTERVAL_S = 30.0


def start_problems(
    snap: AccountSnapshot,
    instrument: Instrument,
    *,
    max_leverage: int | None,
    min_balance: Decimal | None,
    max_position: Decimal | None = None,
) -> list[str]:
    """What refuses the start (each with the account's value and the fix); empty: none."""
    quote = instrument.quote_asset
    problems = []
    if not snap.can_trade:
        problems.append(
            "the venue says this account may not trade: enable trading (futures) for the "
            "account and the API key"
        )
    if not snap.position_mode_ok:
        problems.append(snap.mode_fix or "the account's position mode is not one-way (net)")
    lev = snap.leverage
    if max_leverage is not None and lev is not None and lev > max_leverage:
        problems.append(
            f"the leverage on {instrument.symbol} is {lev}x, above risk.max_leverage = "
            f"{max_leverage}: set it to {max_leverage}x or less on the venue (or raise "
            "risk.max_leverage)"
        )
    cap, mark = snap.max_notional, snap.mark_price
    if max_position is not None and cap is not None and mark is not None:
        worst = max_position * mark
        if worst > cap:
            at = "" if lev is None else f" at {lev}x leverage"
            problems.append(
                f"risk.max_position = {max_position} {instrument.base_asset} is "
                f"{worst:.0f} {quote} at the mark {mark}, above the {cap:.0f} {quote} the venue "
                f"allows{at} (its leverage bracket): lower the leverage on the venue or "
                "risk.max_position"
            )
    if min_balance is not None and snap.available_balance < min_balance:
        problems.append(
            f"the available balance is {snap.available_balance:.2f} {quote}, below "
            f"risk.min_balance = {min_balance} {quote}: transfer {quote} to the futures "
            "account (or lower risk.min_balance)"
        )
    return problems


def describe(snap: AccountSnapshot, quote: str) -> str:
    """One line for the log: what the account looks like."""
    ratio = "unknown" if snap.margin_ratio is None else f"{snap.margin_ratio * 100:.1f} %"
    lev = "n/a" if snap.leverage is None else f"{snap.leverage}x"
    return (
        f"account: wallet {snap.wallet_balance:.2f} {quote}, available "
        f"{snap.available_balance:.2f} {quote}, margin ratio {ratio}, leverage {lev}, "
        f"position mode {'one-way' if snap.position_mode_ok else 'NOT one-way'}"
    )


async def check_account_at_start(
    session: VenueSession, instrument: Instrument, config: Config
) -> AccountSnapshot:
    """Read the account; AccountError naming every problem (module docstring)."""
    snap = await session.account()
    logger.info(describe(snap, instrument.quote_asset))
    problems = start_problems(
        snap,
        instrument,
        max_leverage=config.risk.max_leverage,
        min_balance=config.risk.min_balance,
        max_position=config.risk.max_position,
    )
    if problems:
        raise AccountError("the account cannot be traded as configured: " + "; ".join(problems))
    return snap


def health_of(snap: AccountSnapshot, ts: int) -> AccountHealth:
    return AccountHealth(
        available_balance=snap.available_balance,
        margin_ratio=snap.margin_ratio,
        liquidation_price=snap.liquidation_price,
        ts=ts,
    )


async def watch_account(
    session: VenueSession,
    inbox: Inbox,
    clock_ms: Callable[[], int],
    first: AccountSnapshot | None = None,
    interval_s: float = INTERVAL_S,
) -> None:
    """Hand the strategy the account's health now (``first``, read at start) and every
    ``interval_s``; a failed read is logged and tried again next round."""
    if first is not None:
        await inbox.send(health_of(first, clock_ms()))
    while True:
        await trio.sleep(interval_s)
        asked = clock_ms()  # the reading is as of its request (a margin call before it counts)
        try:
            snap = await session.account()
        except MmtrioError as exc:
            logger.warning("account read failed, trying again in {:g} s: {}", interval_s, exc)
            continue
        await inbox.send(health_of(snap, asked))


__all__ = [
    "INTERVAL_S",
    "check_account_at_start",
    "describe",
    "health_of",
    "start_problems",
    "watch_account",
]
