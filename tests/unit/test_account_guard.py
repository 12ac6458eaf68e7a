"""Account awareness: the margin guard, the start checks and the Binance account reading."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from mmtrio.core.account_guard import STALE_AFTER_MS, AccountGuard
from mmtrio.core.events import AccountHealth, MarginCall
from mmtrio.core.guards import TradingState
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.risk import RiskLimits
from mmtrio.errors import ParameterError, ProtocolError
from mmtrio.runtime.account_watch import start_problems
from mmtrio.venues.binance.account import account_snapshot
from mmtrio.venues.binance.codec import BinanceDecoder
from mmtrio.venues.protocol import AccountSnapshot
from tests.unit.test_config import parse, problems, with_changes
from tests.unit.test_strategy import Session

D = Decimal


def health(avail: str = "1000", ratio: str | None = "0.1", liq: str | None = None) -> AccountHealth:
    return AccountHealth(
        D(avail), None if ratio is None else D(ratio), None if liq is None else D(liq), 0
    )


def verdict(g: AccountGuard, now: int = 0, min_balance: str | None = "100") -> Any:
    return g.verdict(
        now,
        reduce_ratio=0.5,
        halt_ratio=0.8,
        min_balance=None if min_balance is None else D(min_balance),
    )


def test_the_margin_ratio_reduces_then_halts_and_clears_when_it_falls() -> None:
    g = AccountGuard()
    assert verdict(g) is None  # nothing read yet: nothing demanded
    g.on_health(health(ratio="0.49"), 0, None)
    assert verdict(g) is None
    g.on_health(health(ratio="0.5"), 0, None)
    v = verdict(g)
    assert v.state is TradingState.REDUCING_ONLY
    assert (
        v.reason == "margin ratio 50.0 % at or above risk.margin_ratio_reduce 50 %: reducing only"
    )
    g.on_health(health(ratio="0.85"), 0, None)
    v = verdict(g)
    assert v.state is TradingState.HALTED and "margin_ratio_halt 80 %" in v.reason
    g.on_health(health(ratio="0.2"), 0, None)
    assert verdict(g) is None  # not latched


def test_a_thin_balance_reduces_only_and_a_stale_reading_is_not_trusted() -> None:
    g = AccountGuard()
    g.on_health(health(avail="99.5"), 1_000, None)
    v = verdict(g, 1_000)
    assert v.state is TradingState.REDUCING_ONLY
    assert v.reason == "available balance 99.50 below risk.min_balance 100: reducing only"
    assert verdict(g, 1_000, min_balance=None) is None  # off
    assert verdict(g, 1_000 + STALE_AFTER_MS + 1) is None


def test_the_mark_near_liquidation_alerts_once_per_crossing() -> None:
    g = AccountGuard()
    near = health(liq="57500")
    assert g.on_health(health(liq="50000"), 0, D(60_000)) is None  # 16.7 % away
    alert = g.on_health(near, 0, D(60_000))  # 4.2 % away
    assert alert is not None and "4.2 % from the liquidation price 57500" in alert
    assert g.on_health(near, 0, D(60_000)) is None  # said once
    assert g.on_health(health(liq="50000"), 0, D(60_000)) is None
    assert g.on_health(near, 0, D(60_000)) is not None  # a new crossing


def test_the_strategy_reduces_only_on_a_high_margin_ratio() -> None:
    s = Session()
    s.snapshot()
    limits = replace(s.mm.config.limits, margin_ratio_reduce=0.5, margin_ratio_halt=0.8)
    s.mm.risk.limits = limits
    s.step(health(ratio="0.6"))
    st = s.mm.status(s.now)
    assert st.trading_state is TradingState.REDUCING_ONLY and "margin ratio 60.0 %" in st.reason


def test_margin_thresholds_are_validated() -> None:
    base = Session().mm.config.limits
    with pytest.raises(ParameterError, match="must be below margin_ratio_halt"):
        replace(base, margin_ratio_reduce=0.8, margin_ratio_halt=0.5)
    with pytest.raises(ParameterError, match="margin_ratio_halt"):
        replace(base, margin_ratio_halt=1.5)
    with pytest.raises(ParameterError, match="min_balance"):
        replace(base, min_balance=D(-1))
    assert isinstance(replace(base, min_balance=D(5)), RiskLimits)


def snap(**kw: Any) -> AccountSnapshot:
    base: dict[str, Any] = dict(wallet_balance=D(1000), available_balance=D(900), leverage=10)
    base.update(kw)
    return AccountSnapshot(**base)


def test_start_problems_name_the_value_and_the_fix() -> None:
    ok = start_problems(snap(), BTCUSDT, max_leverage=10, min_balance=D(100))
    assert ok == []
    got = start_problems(
        snap(position_mode_ok=False, mode_fix="switch to one-way", can_trade=False, leverage=20),
        BTCUSDT,
        max_leverage=5,
        min_balance=D(1000),
    )
    assert len(got) == 4
    assert "may not trade" in got[0]
    assert got[1] == "switch to one-way"
    assert "leverage on BTCUSDT is 20x, above risk.max_leverage = 5: set it to 5x" in got[2]
    assert "available balance is 900.00 USDT, below risk.min_balance = 1000 USDT" in got[3]
    assert start_problems(snap(leverage=None), BTCUSDT, max_leverage=5, min_balance=None) == []


def test_a_position_limit_above_the_leverage_bracket_is_refused() -> None:
    bracket = snap(max_notional=D(250_000), mark_price=D(60_000), leverage=20)
    ok = start_problems(bracket, BTCUSDT, max_leverage=None, min_balance=None, max_position=D(4))
    assert ok == []  # 240,000 USDT at the mark: inside the bracket
    (said,) = start_problems(
        bracket, BTCUSDT, max_leverage=None, min_balance=None, max_position=D(5)
    )
    assert said == (
        "risk.max_position = 5 BTC is 300000 USDT at the mark 60000, above the 250000 USDT the "
        "venue allows at 20x leverage (its leverage bracket): lower the leverage on the venue "
        "or risk.max_position"
    )
    unknown = snap(max_notional=None, mark_price=D(60_000))  # a venue that states no bracket
    assert (
        start_problems(unknown, BTCUSDT, max_leverage=None, min_balance=None, max_position=D(5))
        == []
    )


def binance_bodies(dual: bool = False, liq: str = "0") -> tuple[Any, Any, Any]:
    account = {
        "canTrade": True,
        "totalMaintMargin": "25",
        "totalMarginBalance": "1000",
        "assets": [
            {"asset": "BNB", "walletBalance": "3", "availableBalance": "3"},
            {"asset": "USDT", "walletBalance": "990", "availableBalance": "800"},
        ],
    }
    risks = [
        {
            "symbol": "ETHUSDT",
            "leverage": "3",
            "maxNotionalValue": "1",
            "markPrice": "3000",
            "liquidationPrice": "0",
        },
        {
            "symbol": "BTCUSDT",
            "leverage": "12",
            "maxNotionalValue": "5000000",
            "markPrice": "60000.10",
            "liquidationPrice": liq,
        },
    ]
    return account, {"dualSidePosition": dual}, risks


def test_the_binance_account_reading() -> None:
    s = account_snapshot(*binance_bodies(), BTCUSDT)
    assert (s.wallet_balance, s.available_balance) == (D(990), D(800))
    assert s.margin_ratio == D("0.025") and s.leverage == 12
    assert s.position_mode_ok and s.can_trade and s.liquidation_price is None
    assert (s.max_notional, s.mark_price) == (D(5_000_000), D("60000.10"))
    hedge = account_snapshot(*binance_bodies(dual=True, liq="41000.5"), BTCUSDT)
    assert not hedge.position_mode_ok and "one-way" in hedge.mode_fix
    assert hedge.liquidation_price == D("41000.5")
    account, dual, risks = binance_bodies()
    with pytest.raises(ProtocolError, match="dualSidePosition"):
        account_snapshot(account, {}, risks, BTCUSDT)
    with pytest.raises(ProtocolError, match="positionRisk: expected a list"):
        account_snapshot(account, dual, {}, BTCUSDT)


def test_the_config_names_inconsistent_margin_thresholds() -> None:
    said = problems(with_changes(risk__margin_ratio_reduce=0.9, risk__margin_ratio_halt=0.8))
    assert any("must be below margin_ratio_halt = 0.8" in v for v in said.values()), said
    cfg = parse(with_changes(risk__min_balance="250", risk__max_leverage=3))
    assert (cfg.risk.min_balance, cfg.risk.max_leverage) == (D(250), 3)


def test_a_margin_call_reduces_only_until_a_reading_asked_after_it() -> None:
    g = AccountGuard()
    g.on_health(health(ratio="0.1"), 0, None)
    assert verdict(g, now=1_000) is None
    alert = g.on_margin_call(MarginCall(ts=5, detail="BTCUSDT BOTH position -0.2"), 2_000)
    assert alert.startswith("margin call from the venue: BTCUSDT BOTH position -0.2")
    v = verdict(g, now=2_000)
    assert v.state is TradingState.REDUCING_ONLY and "margin call from the venue" in v.reason
    # a reading asked before the call (answered after it) does not clear it
    g.on_health(AccountHealth(D(1000), D("0.1"), None, 1_999), 2_500, None)
    assert verdict(g, now=2_500).state is TradingState.REDUCING_ONLY
    # one asked after it decides: healthy, so nothing is demanded any more
    g.on_health(AccountHealth(D(1000), D("0.1"), None, 2_000), 3_000, None)
    assert verdict(g, now=3_000) is None
    # ... and an unhealthy one keeps its own rule
    g.on_margin_call(MarginCall(ts=6, detail="x"), 4_000)
    g.on_health(AccountHealth(D(1000), D("0.9"), None, 4_100), 4_500, None)
    assert verdict(g, now=4_500).state is TradingState.HALTED


def test_binance_s_margin_call_push_is_decoded() -> None:
    # The example of Binance's "Event: Margin Call" (USD-M futures user data streams).
    frame: dict[str, Any] = {
        "e": "MARGIN_CALL",
        "E": 1587727187525,
        "cw": "3.16812045",
        "p": [
            {
                "s": "ETHUSDT",
                "ps": "LONG",
                "pa": "1.327",
                "mt": "CROSSED",
                "iw": "0",
                "mp": "187.17127",
                "up": "-1.166074",
                "mm": "1.614445",
            }
        ],
    }
    (call,) = BinanceDecoder([BTCUSDT]).decode_obj(frame)
    assert call == MarginCall(
        ts=1587727187525,
        detail="cross wallet 3.16812045; ETHUSDT LONG position 1.327 at mark 187.17127, "
        "unrealised -1.166074, maintenance margin 1.614445",
    )
    with pytest.raises(ProtocolError, match="MARGIN_CALL: field 'mm'"):
        BinanceDecoder([BTCUSDT]).decode_obj({**frame, "p": [{**frame["p"][0], "mm": 7}]})
    with pytest.raises(ProtocolError, match="MARGIN_CALL: no position"):
        BinanceDecoder([BTCUSDT]).decode_obj({"e": "MARGIN_CALL", "E": 1, "p": []})
