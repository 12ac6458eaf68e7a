"""Fees paid in BNB are in the bot's equity at BNB's mark (issue 13), against the simulated
Binance venue over loopback: the sim charges every fee in BNB (``SimConfig.fee_asset``) and
serves BNBUSDT's mark; the bot, once it has booked a BNB fee, reads that mark through the
venue seam and values the fees at it, and follows it when it moves."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import trio

from mmtrio.runtime import fee_prices
from mmtrio.runtime.status import build_snapshot
from mmtrio.sim.admin import configure
from mmtrio.sim.venue import SimConfig
from tests.integration.sim_helpers import running_sim
from tests.integration.test_account_awareness import _keys, captured, engine_for
from tests.integration.test_run_engine import wait_for

pytestmark = pytest.mark.integration
__all__ = ["_keys"]  # the fixture that sets the API key, used here too


async def test_bnb_fees_are_in_equity_at_the_sim_s_bnb_mark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fee_prices, "INTERVAL_S", 1.0)
    config = SimConfig(speed=5.0, fee_asset="BNB", fee_asset_price=Decimal("600"))
    codes: list[int] = []
    with captured() as lines:
        async with running_sim(config) as (venue, urls):
            engine = engine_for(tmp_path, urls.rest, urls.ws)
            async with trio.open_nursery() as nursery:

                async def run() -> None:
                    codes.append(await engine.run())

                nursery.start_soon(run)
                await wait_for(lambda: engine.running is not None, 30, "the bot running")
                assert engine.running is not None
                led = engine.running.mm.ledger
                await wait_for(lambda: led.fee_assets() == ("BNB",), 60, "a fee in BNB")
                await wait_for(lambda: led.asset_prices() != (), 10, "BNB's price")
                assert led.asset_prices() == (("BNB", Decimal("600")),)
                snap = led.snapshot()
                (bnb,) = [v for a, v in snap.other_asset_fees if a == "BNB"]
                assert bnb > 0 and snap.fees == 0  # every fee was charged in BNB
                assert snap.other_fees_value == bnb * 600
                assert snap.equity == (snap.realised + snap.unrealised - bnb * 600 + snap.funding)
                status = build_snapshot(engine.sources)["strategy"]["ledger"]
                assert status["equity_excludes"] is None  # every fee is priced
                assert status["fees_in_other_assets"] == {"BNB": f"{bnb.normalize():f}"}

                configure(venue, {"fee_asset_price": "700"})  # BNB's mark moves
                await wait_for(
                    lambda: led.asset_prices() == (("BNB", Decimal("700")),), 10, "the new price"
                )
                snap = led.snapshot()
                (bnb,) = [v for a, v in snap.other_asset_fees if a == "BNB"]
                assert snap.equity == (snap.realised + snap.unrealised - bnb * 700 + snap.funding)
                truth = venue.ground_truth()
                engine.request_stop("test over")
    text = "".join(lines)
    assert codes == [0], text[-3000:]
    # the bot's BNB fees are the venue's (all of them booked, none in USDT)
    assert truth["fees_paid"] == "0"
    assert Decimal(truth["fees_other"]["BNB"]) >= bnb
    asked = [r for r in venue.request_log if r.path == "/fapi/v1/premiumIndex"]
    assert asked and all(r.status == 200 for r in asked)
