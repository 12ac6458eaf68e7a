"""Loss limits on the total equity, carried across restarts (core/loss_limits.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmtrio.core.events import Fill, Side
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.ledger import Ledger
from mmtrio.core.loss_limits import LATCHED_SUFFIX, LimitsState, LossLimits, trading_day
from mmtrio.errors import ParameterError

D = Decimal
DAY = 86_400_000


def fill(trade_id: int, side: Side, price_ticks: int, lots: int, fee: str = "0") -> Fill:
    return Fill("BTCUSDT", trade_id, "c", 1, side, price_ticks, lots, D(fee), "USDT", True, 0)


def test_trading_day_starts_at_the_hour() -> None:
    assert trading_day(DAY - 1, 0) == 0
    assert trading_day(DAY, 0) == 1
    assert trading_day(DAY + 3_600_000 * 5, 6) == 0
    assert trading_day(DAY + 3_600_000 * 6, 6) == 1


def test_state_round_trips_through_json() -> None:
    state = LimitsState(
        ts=5,
        total=D("-12.5"),
        position_lots=3,
        valued_at=D("61000.1"),
        peak=D("4"),
        day=19_000,
        day_start=D("1"),
        cumulative_base=D("0"),
        breaches=(("daily", "daily loss 60 exceeds the limit 50"),),
        kill_reason="operator kill",
        kill_flatten=True,
    )
    assert LimitsState.from_json(state.to_json()) == state


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"ts": 1, "total": "0", "position_lots": 0, "day": 1, "day_start": "0",
         "cumulative_base": "0", "breaches": {"weekly": "x"}},
        {"ts": 1, "total": "x", "position_lots": 0, "day": 1, "day_start": "0",
         "cumulative_base": "0"},
        {"ts": 1, "total": "NaN", "position_lots": 0, "day": 1, "day_start": "0",
         "cumulative_base": "0"},
    ],
)  # fmt: skip
def test_a_malformed_state_is_named(broken: dict[str, object]) -> None:
    with pytest.raises(ParameterError, match="risk state"):
        LimitsState.from_json(broken)


def test_a_restart_continues_the_total_at_the_same_price() -> None:
    # Process 1: bought 10 lots at 60000.0, the mark went to 60010.0 (+1 USDT on 0.01 BTC),
    # then fell to 59990.0: total -1 with a peak of +1.
    led = Ledger(BTCUSDT)
    led.on_fill(fill(1, Side.BUY, 600_000, 10, fee="0.5"), None)
    lim = LossLimits(D("100"))
    led.mark(D("60010.0"))
    lim.update(led.equity(), DAY)
    led.mark(D("59990.0"))
    lim.update(led.equity(), DAY + 1)
    assert lim.total == D("-0.6") and lim.drawdown.peak == D("-0.4")
    saved = lim.state(
        DAY + 1, position_lots=10, valued_at=led.valuation_price(), kill_reason=None,
        kill_flatten=False,
    )  # fmt: skip
    # Process 2: the ledger rebuilt from a different baseline (the position adopted at the
    # venue's entry price, its P&L history gone): the total must continue where it stopped,
    # then follow the market move since the checkpoint (59990.0 -> 59970.0: -0.2).
    led2 = Ledger(BTCUSDT)
    led2.set_position(10, D("60000.0"))
    lim2 = LossLimits(D("100"))
    lim2.restore(LimitsState.from_json(saved.to_json()), led2.equity_at(saved.valued_at))
    led2.mark(D("59970.0"))
    lim2.update(led2.equity(), DAY + 2)
    assert lim2.total == D("-0.8")
    assert lim2.drawdown.peak == D("-0.4") and lim2.drawdown.drawdown == D("0.4")
    assert lim2.day_start == lim.day_start


def test_breaches_stay_latched_across_restarts_without_growing_their_reason() -> None:
    lim = LossLimits(D("10"), max_daily_loss=D("5"))
    lim.update(D("0"), DAY)
    assert lim.update(D("-6"), DAY + 1) == [
        "daily loss 6.00 exceeds the limit 5.00 (day opened at +0.00, equity -6.00) at "
        "1970-01-02T00:00:00.001Z"
    ]
    state = lim.state(DAY + 1, position_lots=0, valued_at=None, kill_reason="x", kill_flatten=False)
    for _ in range(3):  # three restarts in a row
        again = LossLimits(D("10"), max_daily_loss=D("5"))
        again.restore(state, D("0"))
        state = again.state(
            DAY + 2, position_lots=0, valued_at=None, kill_reason="x", kill_flatten=False
        )
    assert again.breaches == (
        "daily loss 6.00 exceeds the limit 5.00 (day opened at +0.00, equity -6.00) at "
        "1970-01-02T00:00:00.001Z" + LATCHED_SUFFIX,
    )
    # the restored latch is the daily one: the same loss does not latch it a second time
    assert again.update(D("0"), DAY + 3) == []  # the total is still -6: nothing new
    assert again.breached[0][0] == "daily"
    again.rebase()
    # read anew: the assert above narrowed the property's type to one reason, rebase() or not
    after_rebase: tuple[str, ...] = again.breaches
    assert after_rebase == ()


def test_a_reload_never_clears_a_breach() -> None:
    lim = LossLimits(D("10"))
    lim.update(D("0"), 1)
    lim.update(D("-11"), 2)
    assert lim.drawdown.breached
    looser = lim.retuned(D("1000"), None, None, 0, now=3)  # the operator raised it by SIGHUP
    assert looser.breaches and "drawdown 11.00 exceeds the limit 10.00" in looser.breaches[0]
    assert looser.total == D("-11")


def test_a_reload_below_the_drawdown_reports_the_breach_once() -> None:
    lim = LossLimits(D("10"))
    lim.update(D("0"), 1)
    lim.update(D("-6"), 2)
    assert not lim.drawdown.breached
    tighter = lim.retuned(D("5"), None, None, 0, now=3)  # lowered by SIGHUP below 6
    assert tighter.drawdown.breached
    reasons = tighter.update(D("-6"), 4)  # the next update reports it: the caller trips
    assert len(reasons) == 1 and "drawdown 6.00 exceeds the limit 5.00" in reasons[0]
    assert tighter.update(D("-7"), 5) == []  # once


def _full(lim: LossLimits) -> tuple[object, ...]:
    dd = lim.drawdown
    return (lim.total, dd.peak, dd.equity, dd.breach_reason, lim.day, lim.day_start, lim.breaches)


def test_an_unchanged_equity_gives_the_answers_of_a_full_update() -> None:
    # The ledger hands the same equity object while nothing moved it; update() then returns
    # at once. Fed equal but new objects (every update a full one), a twin must agree on
    # every answer and every figure, across a day boundary and each limit's breach.
    hot = LossLimits(D("10"), max_daily_loss=D("4"), max_cumulative_loss=D("8"))
    cold = LossLimits(D("10"), max_daily_loss=D("4"), max_cumulative_loss=D("8"))
    steps = [("0", 1), ("0", 2), ("2.5", 3), ("2.5", 4), ("-2", 5), ("-2", DAY + 1)]
    steps += [("-2", DAY + 2), ("-7", DAY + 3), ("-7", DAY + 4), ("-12", DAY + 5)]
    steps += [("-12", DAY + 6), ("-12.0", DAY + 7)]
    equity = D("0")
    for text, now in steps:
        if str(equity) != text:
            equity = D(text)  # a new object only when the value moves, as the ledger does
        assert hot.update(equity, now) == cold.update(D(text), now)
        assert _full(hot) == _full(cold)
    assert len(hot.breaches) == 3  # drawdown, daily and cumulative all breached on the way


def test_the_update_after_a_restore_or_a_rebase_is_a_full_one() -> None:
    lim = LossLimits(D("10"))
    equity = D("-3")
    lim.update(equity, 1)
    lim.update(equity, 2)
    # A restart's restore moves the offset: the same session equity is another total.
    lim.restore(
        LimitsState(
            ts=2,
            total=D("50"),
            position_lots=0,
            valued_at=None,
            peak=D("55"),
            day=0,
            day_start=D("50"),
            cumulative_base=D("0"),
        ),
        equity,
    )
    assert lim.update(equity, 3) == []
    assert lim.total == D("50") and lim.drawdown.equity == D("50")
    lim.update(D("-20"), 4)  # 50 - 17 = 33: 22 below the 55 peak
    assert lim.drawdown.breached
    lim.rebase()  # the operator's override: the peak restarts at the current total
    equity = D("-20")
    assert lim.update(equity, 5) == []
    assert (lim.drawdown.peak, lim.drawdown.breached) == (D("33"), False)
    assert lim.update(D("-31"), 6)  # 11 below the new peak: a new breach, reported
