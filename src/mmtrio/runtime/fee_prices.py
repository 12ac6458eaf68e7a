"""Prices for the fees paid in another asset (Binance's BNB fee discount), read while trading.

The ledger books a fee in the asset the venue charged it in; one in another asset than the
quote is in equity (and so in the drawdown and the loss limits) at that asset's price, which
the pure core cannot know. This task reads it through the venue seam
(:class:`~mmtrio.venues.protocol.AssetPrices`; Binance: the mark price of ``<ASSET><QUOTE>``)
and hands it to the strategy as an :class:`~mmtrio.core.events.AssetPrice`:

- only when the ledger has booked a fee in such an asset (``Ledger.fee_assets``): it looks
  every ``POLL_S`` (a look at the books, no request), reads at once when a new asset appears,
  then every ``INTERVAL_S``;
- a failed read is logged and tried again on the next round; until a price is known the
  status says that equity excludes those fees (``Ledger.unpriced_fees``), never a silent 0;
- a venue that cannot price another asset says so once in the log (the status keeps saying
  which fees are outside equity).
"""

from __future__ import annotations

from collections.abc import Callable

import trio
from loguru import logger

from mmtrio.core.events import AssetPrice
from mmtrio.core.ledger import Ledger
from mmtrio.errors import MmtrioError
from mmtrio.runtime.inbox import Inbox
from mmtrio.venues.protocol import AssetPrices, VenueSession

POLL_S = 1.0
INTERVAL_S = 60.0


async def watch_fee_prices(
    session: VenueSession,
    ledger: Ledger,
    inbox: Inbox,
    clock_ms: Callable[[], int],
    *,
    poll_s: float = POLL_S,
    interval_s: float = INTERVAL_S,
) -> None:
    """Feed the price of every asset fees were booked in (module docstring); runs forever."""
    pricer = session if isinstance(session, AssetPrices) else None
    last_read: dict[str, float] = {}
    told_unsupported = False
    while True:
        now = trio.current_time()
        due = [
            a for a in ledger.fee_assets() if a not in last_read or now - last_read[a] >= interval_s
        ]
        if due and pricer is None:
            if not told_unsupported:
                told_unsupported = True
                logger.warning(
                    "fees were paid in {} but the {} connector cannot price another asset: "
                    "equity excludes them (the status says how much)",
                    ", ".join(due),
                    session.name,
                )
            due = []
        for asset in due:
            if pricer is None:
                break
            last_read[asset] = now
            asked = clock_ms()
            try:
                price = await pricer.asset_price(asset)
            except MmtrioError as exc:
                logger.warning(
                    "{} price read failed, trying again in {:g} s (equity excludes the fees "
                    "paid in {} until it is known): {}",
                    asset,
                    interval_s,
                    asset,
                    exc,
                )
                continue
            await inbox.send(AssetPrice(asset, price, asked))
        await trio.sleep(poll_s)


__all__ = ["INTERVAL_S", "POLL_S", "watch_fee_prices"]
