"""The instrument watch: the venue's rules for our instrument, re-read while trading.

A venue changes a tick size, a lot step or a minimum notional with notice, but a bot that
never looks would keep sending off-grid orders (every one rejected) or quote sizes the venue
no longer accepts. Every ``interval_s`` the instrument is read again through the venue seam;
if any rule differs from the one the strategy was built on, the kill switch latches with the
old and new values: quoting stops, every order is cancelled, and the operator restarts the
bot, which builds the strategy on the new rules (a strategy cannot switch grids under
resting orders safely). A failed read is logged and tried again on the next round.
"""

from __future__ import annotations

from collections.abc import Callable

import trio
from loguru import logger

from mmtrio.core.events import KillSwitch
from mmtrio.core.instruments import Instrument
from mmtrio.errors import MmtrioError
from mmtrio.runtime.inbox import Inbox
from mmtrio.venues.protocol import VenueSession

INTERVAL_S = 300.0
_FIELDS = (
    "tick_size",
    "lot_size",
    "min_qty",
    "max_qty",
    "min_notional",
    "min_price_ticks",
    "max_price_ticks",
    "contract_size",
    "sig_figs",
)


def differences(old: Instrument, new: Instrument) -> list[str]:
    """``field old → new`` for every rule that changed (empty when none did)."""
    return [
        f"{name} {getattr(old, name)} → {getattr(new, name)}"
        for name in _FIELDS
        if getattr(old, name) != getattr(new, name)
    ]


async def watch_instrument(
    session: VenueSession,
    instrument: Instrument,
    inbox: Inbox,
    clock_ms: Callable[[], int],
    interval_s: float = INTERVAL_S,
) -> None:
    """Re-read the instrument every ``interval_s``; latch the kill switch on a change."""
    while True:
        await trio.sleep(interval_s)
        try:
            now = await session.load_instrument()
        except MmtrioError as exc:
            logger.warning("instrument check failed, trying again in {:g} s: {}", interval_s, exc)
            continue
        changed = differences(instrument, now)
        if changed:
            reason = (
                f"{instrument.symbol} rules changed at the venue ({'; '.join(changed)}): "
                "restart the bot to trade with the new rules"
            )
            logger.error("{}; kill switch latched", reason)
            await inbox.send(KillSwitch(reason, False, clock_ms()))
            return
