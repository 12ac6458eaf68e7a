"""A first start (new journal) on a Hyperliquid account that already has fills.

The connector's ``user_trades(from_id)`` returns "the rest of ``from_id``'s millisecond" too
(fills of one millisecond are not ordered by ``tid``), so the first periodic pass after the
start listed the last fill of the adopted history again. The ledger had never booked it (it
is inside the adopted position) and booked it as a missed fill: ours 4 lots, venue 2, a
halt (or, within the tolerance, a position silently one fill ahead of the venue). A restart
with nothing traded since did the same from the rebuilt ledger (the fill booked and
journaled again, a false "gap adopted" alert). Found by the audit of issue #17's seed 1817;
the real connector against the real simulated venue.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import pytest

from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import PlaceOrder
from mmtrio.core.events import OrderStatus, Side, TimeInForce
from mmtrio.core.strategy import MarketMaker
from mmtrio.runtime.journal_view import Baseline, JournalView
from mmtrio.runtime.reconcile import reconcile
from mmtrio.runtime.recovery import rebuild_ledger
from tests.integration.test_hyperliquid_sim import hl_sim, session, wait_until, wall_ms
from tests.unit.test_strategy import make_config

pytestmark = pytest.mark.integration


async def test_adopted_history_is_booked_neither_by_the_first_pass_nor_after_a_restart() -> None:
    async with hl_sim() as (sim, urls):
        s = session(sim, urls)
        inst = await s.load_instrument()
        await s.sync_clock()
        gw = s.gateway
        await wait_until(lambda: sim.ground_truth()["book"]["asks"], "the venue's book")
        # The recorded ask (61800.1) is finer than the tick of the price level (1): round up.
        ask = Decimal(sim.ground_truth()["book"]["asks"][0][0])
        best = int((ask / inst.tick_size).to_integral_value(rounding=ROUND_CEILING))
        taker = PlaceOrder(
            s.client_ids.make(7, 1), inst.symbol, Side.BUY, inst.ceil_price(best * 101 // 100),
            2, TimeInForce.IOC,
        )  # fmt: skip
        assert (await gw.place(taker)).status is OrderStatus.FILLED  # history before the bot

        ids = ClientIdGenerator(s.client_ids, 2)
        mm = MarketMaker(make_config(instrument=inst), ids)
        known: set[int] = set()

        async def one_pass(startup: bool, since: int | None) -> object:
            return await reconcile(
                gw, mm, inst.symbol, adopt=False, tolerance_lots=0, known_trade_ids=known,
                is_ours=ids.is_ours, clock_ms=wall_ms, startup=startup,
                since_trade_id=since, journal_new=True if startup else None,
                confirm_delay_s=0.05,
            )  # fmt: skip

        start = await one_pass(True, None)
        assert mm.ledger.position_lots == 2 == sim.account.position
        watermark = start.last_trade_id  # type: ignore[attr-defined]
        # the venue lists the watermark's fill again from watermark + 1 (its millisecond)
        assert watermark in {f.trade_id for f in await gw.user_trades(inst.symbol, watermark + 1)}
        later = await one_pass(False, watermark)
        assert later.missed_fills == [] and not later.halted  # type: ignore[attr-defined]
        assert mm.ledger.position_lots == 2 == later.venue_position  # type: ignore[attr-defined]

        # Restarted with nothing traded since: the ledger rebuilt from the start's checkpoint
        # (2 lots at the watermark) and reconciled from it books nothing and sees no gap.
        mm = MarketMaker(make_config(instrument=inst), ClientIdGenerator(s.client_ids, 3))
        baseline = Baseline(2, start.entry_price, watermark)  # type: ignore[attr-defined]
        rebuild_ledger(mm.ledger, JournalView(baseline, (), watermark), wall_ms())
        again = await reconcile(
            gw, mm, inst.symbol, adopt=False, tolerance_lots=0, known_trade_ids=set(),
            is_ours=ids.is_ours, clock_ms=wall_ms, startup=True, since_trade_id=watermark,
            journal_new=False,
        )  # fmt: skip
        assert again.missed_fills == [] and again.gap_reason is None
        assert mm.ledger.position_lots == 2
        await s.aclose()
