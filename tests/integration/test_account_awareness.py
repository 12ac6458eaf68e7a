"""Account awareness against the simulated venue (issue 13): a hedge-mode account and a thin
balance are refused at start (exit 2, the account's value and the fix, nothing sent); a
balance that drops while trading sends the bot to reducing-only with the reason; a venue that
refuses orders for margin does the same, without a loop."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from loguru import logger

from mmtrio.cli.venue import check_venue, live_settings
from mmtrio.config import load_config, load_venue_credentials
from mmtrio.core.risk import TradingState
from mmtrio.runtime import account_watch
from mmtrio.runtime.engine import Engine
from mmtrio.sim.venue import SimConfig
from tests.integration.sim_helpers import KEY, SECRET, running_sim
from tests.integration.test_bad_credentials import _binance_config
from tests.integration.test_run_engine import wait_for

pytestmark = pytest.mark.integration
EXIT_USAGE = 2
ORDER_PATH = "/fapi/v1/order"


@contextmanager
def captured() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG")
    try:
        yield lines
    finally:
        logger.remove(sink)


def engine_for(tmp: Path, rest: str, ws: str, **risk: str) -> Engine:
    cfg = _binance_config(tmp, rest, ws)
    text = cfg.read_text().replace("warmup_ms = 1000", "warmup_ms = 0")
    for key, value in risk.items():
        text = text.replace("[risk]", f"[risk]\n{key} = {value}", 1)
    cfg.write_text(text)
    return engine_for_file(cfg)


def engine_for_file(cfg: Path) -> Engine:
    config = load_config(cfg)
    factory = check_venue(config)
    credentials = load_venue_credentials(config.venue, factory.credential_fields)
    assert credentials is not None
    return Engine(
        config,
        config_path=cfg,
        venue=factory,
        settings=live_settings(config, factory),
        credentials=credentials,
    )


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMTRIO_API_KEY", KEY)
    monkeypatch.setenv("MMTRIO_API_SECRET", SECRET)


async def test_a_hedge_mode_account_is_refused_at_start_with_the_fix(tmp_path: Path) -> None:
    with captured() as lines:
        async with running_sim() as (venue, urls):
            venue.front.dual_side = True  # type: ignore[attr-defined]
            engine = engine_for(tmp_path, urls.rest, urls.ws)
            with trio.fail_after(30):
                code = await engine.run()
            sent = [r for r in venue.request_log if r.path == ORDER_PATH]
    text = "".join(lines)
    assert code == EXIT_USAGE, text[-3000:]
    assert sent == []  # refused before a single order
    (said,) = [line for line in lines if "Nothing was traded" in line]
    assert "hedge mode" in said and "switch it to one-way mode" in said, said
    assert "Traceback" not in text


async def test_a_balance_below_the_minimum_and_a_high_leverage_are_refused_naming_both(
    tmp_path: Path,
) -> None:
    with captured() as lines:
        async with running_sim(SimConfig(speed=5.0, initial_balance=Decimal(40))) as (_, urls):
            engine = engine_for(tmp_path, urls.rest, urls.ws, min_balance='"100"', max_leverage="5")
            with trio.fail_after(30):
                code = await engine.run()
    assert code == EXIT_USAGE, "".join(lines)[-3000:]
    (said,) = [line for line in lines if "Nothing was traded" in line]
    assert "available balance is 40.00 USDT, below risk.min_balance = 100 USDT" in said, said
    assert "leverage on BTCUSDT is 20x, above risk.max_leverage = 5" in said, said


async def test_a_position_limit_beyond_the_leverage_bracket_is_refused(tmp_path: Path) -> None:
    # The sim's one bracket allows 5,000,000 USDT of position (positionRisk.maxNotionalValue);
    # 100 BTC at ~60,000 is about 6,000,000.
    with captured() as lines:
        async with running_sim() as (venue, urls):
            engine = engine_for(tmp_path, urls.rest, urls.ws)
            cfg = engine.config_path
            text = cfg.read_text()
            assert 'max_position = "0.02"' in text
            cfg.write_text(text.replace('max_position = "0.02"', 'max_position = "100"', 1))
            engine = engine_for_file(cfg)
            with trio.fail_after(30):
                code = await engine.run()
            sent = [r for r in venue.request_log if r.path == ORDER_PATH]
    assert code == EXIT_USAGE, "".join(lines)[-3000:]
    assert sent == []
    (said,) = [line for line in lines if "Nothing was traded" in line]
    assert "risk.max_position = 100 BTC is " in said, said
    assert "above the 5000000 USDT the venue allows at 20x leverage" in said, said


async def test_a_balance_that_drops_while_trading_reduces_only_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(account_watch, "INTERVAL_S", 0.5)
    with captured() as lines:
        async with running_sim() as (venue, urls):
            engine = engine_for(tmp_path, urls.rest, urls.ws, min_balance='"1000"')
            async with trio.open_nursery() as nursery:
                codes: list[int] = []

                async def run() -> None:
                    codes.append(await engine.run())

                nursery.start_soon(run)
                await wait_for(lambda: len(list(venue.engine.open_orders())) >= 2, 30, "quotes")
                assert engine.running is not None
                mm = engine.running.mm
                assert mm.status(engine.clock_ms()).trading_state is TradingState.ACTIVE
                venue.account.balance = Decimal(500)  # a withdrawal, a loss elsewhere
                await wait_for(
                    lambda: (
                        mm.status(engine.clock_ms()).trading_state is TradingState.REDUCING_ONLY
                    ),
                    20,
                    "reducing only",
                )
                st = mm.status(engine.clock_ms())
                # Flat: nothing reduces, so every quote is pulled.
                await wait_for(lambda: not list(venue.engine.open_orders()), 20, "quotes pulled")
                venue.account.balance = Decimal(100_000)
                await wait_for(
                    lambda: mm.status(engine.clock_ms()).trading_state is TradingState.ACTIVE,
                    20,
                    "active again",
                )
                engine.request_stop("test over")
    text = "".join(lines)
    assert codes == [0], text[-3000:]
    assert "below risk.min_balance 1000: reducing only" in st.reason, st.reason
    assert "available balance 500" in st.reason or "available balance 4" in st.reason, st.reason


async def test_a_margin_call_reduces_only_until_the_account_reads_healthy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(account_watch, "INTERVAL_S", 3.0)
    with captured() as lines:
        async with running_sim() as (venue, urls):
            engine = engine_for(tmp_path, urls.rest, urls.ws)
            async with trio.open_nursery() as nursery:
                codes: list[int] = []

                async def run() -> None:
                    codes.append(await engine.run())

                nursery.start_soon(run)
                await wait_for(lambda: len(list(venue.engine.open_orders())) >= 2, 30, "quotes")
                assert engine.running is not None
                mm = engine.running.mm
                venue.inject("margin_call")  # Binance's MARGIN_CALL on the user stream
                await wait_for(
                    lambda: (
                        mm.status(engine.clock_ms()).trading_state is TradingState.REDUCING_ONLY
                    ),
                    10,
                    "reducing only after the margin call",
                )
                st = mm.status(engine.clock_ms())
                # the sim's account is healthy: the next reading (3 s) lets it quote again
                await wait_for(
                    lambda: mm.status(engine.clock_ms()).trading_state is TradingState.ACTIVE,
                    20,
                    "active again",
                )
                engine.request_stop("test over")
    text = "".join(lines)
    assert codes == [0], text[-3000:]
    assert "margin call from the venue (cross wallet " in st.reason, st.reason
    assert "BTCUSDT BOTH position" in st.reason, st.reason
    assert any("margin call from the venue: cross wallet" in line for line in lines)


async def test_orders_refused_for_margin_reduce_only_and_do_not_loop(tmp_path: Path) -> None:
    # 40 USDT at 1x: one 0.002 BTC quote (~120 USDT) cannot be margined.
    with captured() as lines:
        async with running_sim(SimConfig(speed=5.0, initial_balance=Decimal(40))) as (
            venue,
            urls,
        ):
            venue.front.leverage = 1  # type: ignore[attr-defined]
            engine = engine_for(tmp_path, urls.rest, urls.ws)
            async with trio.open_nursery() as nursery:
                codes: list[int] = []

                async def run() -> None:
                    codes.append(await engine.run())

                nursery.start_soon(run)
                await wait_for(
                    lambda: (
                        engine.running is not None
                        and engine.running.mm.status(engine.clock_ms()).trading_state
                        is TradingState.REDUCING_ONLY
                    ),
                    30,
                    "reducing only",
                )
                assert engine.running is not None
                st = engine.running.mm.status(engine.clock_ms())
                await trio.sleep(5)  # the hold lasts 30 s: no order is tried meanwhile
                places = [r for r in venue.request_log if r.path == ORDER_PATH]
                engine.request_stop("test over")
    text = "".join(lines)
    assert codes == [0], text[-3000:]
    assert "insufficient margin" in st.reason, st.reason
    assert any("refused an order for margin" in line for line in lines)
    # The first quote round (two sides) at most, not one every requote.
    assert 1 <= len(places) <= 2, [r.status for r in places]
