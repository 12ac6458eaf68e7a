"""The bot's guards against liquidation, against the simulated venue over loopback (issue 13).

The account holds a position (0.02 BTC, taken over at start) on a thin wallet, so the sim's
liquidation price (Binance's formula, ``sim/liquidation.py``) is a few per cent under the
market. The ``mark_price`` fault then moves the mark: near the liquidation price, the bot's
warning fires from the price the venue reported in ``positionRisk``; at it, the venue
liquidates and the bot books the venue's ``autoclose-…`` fill, its position equal to the
venue's, named in its log and journal, without a crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from mmtrio.core.risk import TradingState
from mmtrio.runtime import account_watch
from mmtrio.runtime.engine import Engine
from mmtrio.sim import liquidation
from mmtrio.sim.binance.margin import liquidation_word
from mmtrio.sim.venue import SimConfig, SimVenue
from tests.integration.sim_helpers import running_sim
from tests.integration.test_account_awareness import _keys, captured, engine_for, engine_for_file
from tests.integration.test_okx_paper import _journaled_trade_ids
from tests.integration.test_run_engine import wait_for

pytestmark = pytest.mark.integration
__all__ = ["_keys"]  # the fixture that sets the API key, used here too

LOTS = 20  # 0.02 BTC: risk.max_position in the test config
WALLET = Decimal(150)  # 1,200 USDT of position on 150: 8x, liquidation about 10 % away
# The margin guard halts at once (maintenance 30 on a margin balance of 150 is 20 %): no
# quote, no fill, so the position and the liquidation price stay what the test set.
HALT_AT = {"margin_ratio_reduce": "0.05", "margin_ratio_halt": "0.1"}


async def _with_bot(
    tmp: Path, body: Callable[[SimVenue, Engine, list[str]], object]
) -> tuple[list[int], str]:
    codes: list[int] = []
    with captured() as lines:
        async with running_sim(SimConfig(speed=5.0, initial_balance=WALLET)) as (venue, urls):
            venue.inject("position_adjust", {"lots": LOTS})  # before the bot: it takes it over
            engine = engine_for(tmp, urls.rest, urls.ws)
            cfg = engine.config_path
            text = cfg.read_text()
            for key, value in HALT_AT.items():
                text, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
                assert n == 1, key
            cfg.write_text(text)
            engine = engine_for_file(cfg)
            async with trio.open_nursery() as nursery:

                async def run() -> None:
                    codes.append(await engine.run())

                nursery.start_soon(run)
                await wait_for(lambda: engine.running is not None, 30, "the bot running")
                mm = engine.running.mm  # type: ignore[union-attr]
                await wait_for(
                    lambda: mm.status(engine.clock_ms()).trading_state is TradingState.HALTED,
                    30,
                    "halted by the margin guard",
                )
                result = body(venue, engine, lines)
                if hasattr(result, "__await__"):
                    await result
                engine.request_stop("test over")
    return codes, "".join(lines)


async def test_the_liquidation_distance_warning_fires_from_the_sim_s_price(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(account_watch, "INTERVAL_S", 0.5)
    seen: dict[str, Decimal] = {}
    said: dict[str, str] = {}

    async def body(venue: SimVenue, engine: Engine, lines: list[str]) -> None:
        liq = liquidation.liquidation_price(venue)
        assert liq is not None
        seen["liq"] = liq
        said["liq"] = liquidation_word(venue)  # what positionRisk reports
        # far from it at the market's mark: no warning yet
        assert venue.mark_price() > liq * Decimal("1.05")
        await trio.sleep(1.5)  # three account readings
        assert not any("from the liquidation price" in ln for ln in lines)
        near = (liq * Decimal("1.03")).quantize(Decimal("0.1"))  # 3 % above: within 5 %
        venue.inject("mark_price", {"price": str(near)})
        seen["near"] = near
        await wait_for(
            lambda: any("from the liquidation price" in ln for ln in lines),
            20,
            "the liquidation warning",
        )
        assert venue.account.position == LOTS and venue.liquidations == []  # not liquidated
        assert liquidation.liquidation_price(venue) == liq  # nothing traded meanwhile

    codes, text = await _with_bot(tmp_path, body)
    # the mark's move cost more than risk.max_drawdown (50): the latch holds at the stop,
    # exit 3, and the last line names it
    assert codes == [3], text[-3000:]
    assert "stopped safely by a guard" in text and "drawdown" in text.splitlines()[-1]
    # the price the bot names is the one the venue computed (positionRisk, at the tick below)
    liq = said["liq"]
    assert Decimal(liq) == seen["liq"].quantize(Decimal("0.1"), "ROUND_FLOOR")
    (line,) = {ln for ln in text.splitlines() if f"from the liquidation price {liq} " in ln}
    distance = (seen["near"] - Decimal(liq)) / seen["near"] * 100
    m = re.search(r"the mark (\S+) is (\S+) % from", line)
    assert m is not None, line
    assert Decimal(m[1]) == seen["near"] and m[2] == f"{distance:.1f}", line
    assert "Traceback" not in text


async def test_a_liquidation_is_booked_as_the_venue_s_fill_and_the_positions_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(account_watch, "INTERVAL_S", 0.5)
    seen: dict[str, object] = {}

    async def body(venue: SimVenue, engine: Engine, lines: list[str]) -> None:
        assert engine.running is not None
        mm = engine.running.mm
        await wait_for(lambda: mm.ledger.position_lots == LOTS, 20, "the position taken over")
        liq = liquidation.liquidation_price(venue)
        assert liq is not None
        venue.inject("mark_price", {"price": str(liq)})
        (rec,) = venue.liquidations
        seen["rec"] = rec
        assert venue.account.position == 0
        await wait_for(lambda: mm.ledger.position_lots == 0, 20, "the liquidation booked")
        # a reconciliation pass after it finds nothing to correct
        await trio.sleep(3)
        seen["bot"] = mm.ledger.position_lots
        seen["venue"] = venue.account.position
        seen["adjustments"] = len(mm.ledger.adjustments)

    codes, text = await _with_bot(tmp_path, body)
    # the liquidation's loss latches the drawdown kill: exit 3 naming it, not a crash
    assert codes == [3], text[-3000:]
    assert "drawdown" in text.splitlines()[-1] and "Traceback" not in text
    rec = seen["rec"]
    assert isinstance(rec, dict)
    assert seen["bot"] == seen["venue"] == 0
    cid = str(rec["client_id"])
    assert cid.startswith("autoclose-")
    # the log names the liquidation fill as an order the bot does not know: booked from the
    # user stream (the venue's autoclose-… order) or, when a reconciliation pass read the
    # trade first, from the trade list (its order id); whichever came first, once
    fill_lines = [
        ln for ln in text.splitlines() if "fill SELL 0.020 BTC @ " + str(rec["price"]) in ln
    ]
    (line,) = fill_lines
    assert f"({cid}: " in line or f"(order {rec['order_id']}: " in line, line
    assert "an order this bot does not know (the venue's own, e.g. a liquidation" in line
    assert line.endswith("position +0.000 BTC"), line
    assert rec["trade_id"] in _journaled_trade_ids(tmp_path)
    assert "Traceback" not in text
