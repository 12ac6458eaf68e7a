"""The strategy's self-defence (core/defence.py, core/fit_gate.py): the markout widening of
the side being picked off, the volatility regime, and the r² gate on the intensity fit —
each alone, then inside the MarketMaker (the same code the live bot and the backtester run)."""

from __future__ import annotations

import math

import pytest

from mmtrio.core.commands import AmendOrder, Command, PlaceOrder
from mmtrio.core.defence import (
    PRIOR_FILLS,
    REGIME_SAMPLE_MS,
    Defence,
    DefenceParams,
    MarkoutDefence,
    VolRegime,
    Widening,
    widen,
)
from mmtrio.core.estimators import FitRejected, IntensityFit, IntensityParams
from mmtrio.core.events import PlaceAccepted, Side, Timer, Trade
from mmtrio.core.fit_gate import gate_fit
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.models import QuoteDistances
from mmtrio.core.quote_params import MarketView, ModelInputs, QuoteModel, QuoteParams
from mmtrio.core.quoting import QuoteSet, quote
from mmtrio.errors import ParameterError
from mmtrio.runtime.status import status_line
from mmtrio.runtime.status_doc import strategy_doc
from tests.unit.test_strategy import MID, SYM, Session, quoting_session

P = DefenceParams(markout_horizon_ms=1_000, markout_half_life_ms=60_000, max_widen_ticks=4)


# --- the markout score ---------------------------------------------------------------------


def test_a_side_picked_off_is_widened_by_its_excess_loss_within_the_bound() -> None:
    d = MarkoutDefence()
    d.on_markout(Side.BUY, -3.0, 0, P.markout_half_life_ms)
    # one fill at -3 ticks, shrunk by the prior: -3 / (1 + 2) = -1 tick -> 1 tick wider
    assert d.score(Side.BUY, 0, P.markout_half_life_ms) == pytest.approx(-3.0 / (1 + PRIOR_FILLS))
    assert d.extra_ticks(Side.BUY, 0, P) == 1
    assert d.extra_ticks(Side.SELL, 0, P) == 0  # the other side is not touched
    for _ in range(20):
        d.on_markout(Side.BUY, -30.0, 0, P.markout_half_life_ms)
    assert d.extra_ticks(Side.BUY, 0, P) == P.max_widen_ticks  # bounded


def test_a_side_that_earns_its_spread_is_not_widened() -> None:
    d = MarkoutDefence()
    for _ in range(10):
        d.on_markout(Side.SELL, +2.0, 0, P.markout_half_life_ms)
    assert d.extra_ticks(Side.SELL, 0, P) == 0


def test_threshold_and_gain_shape_the_widening() -> None:
    d = MarkoutDefence()
    for _ in range(98):
        d.on_markout(Side.BUY, -3.0, 0, P.markout_half_life_ms)
    # score = -3·98/100 = -2.94; threshold 1 -> excess 1.94; gain 2 -> 3.88 -> 4 ticks
    p = DefenceParams(markout_threshold_ticks=1.0, markout_gain=2.0, max_widen_ticks=100)
    assert d.extra_ticks(Side.BUY, 0, p) == 4
    assert d.extra_ticks(Side.BUY, 0, DefenceParams(max_widen_ticks=0)) == 0  # off


def test_both_sides_at_once_are_bit_for_bit_the_two_sides_asked_apart() -> None:
    """extra_ticks_both (one decay factor for both sides) leaves the very scores and gives
    the very ticks of two extra_ticks calls, also when a markout decayed one side alone."""
    both, apart = MarkoutDefence(), MarkoutDefence()
    p = DefenceParams(markout_half_life_ms=7_000, markout_threshold_ticks=0.3, max_widen_ticks=9)
    hl = p.markout_half_life_ms
    widened = 0
    # (time, markout side or None, markout ticks): decisions at the same ms, markouts on one
    # side between decisions, long gaps
    script = [
        (0, None, 0.0),
        (5, Side.BUY, -4.0),
        (5, None, 0.0),
        (5, None, 0.0),
        (1_237, Side.SELL, -1.5),
        (1_240, Side.BUY, -2.25),
        (2_001, None, 0.0),
        (9_999, Side.SELL, -6.0),
        (10_000, None, 0.0),
        (31_415, None, 0.0),
        (31_416, Side.BUY, 3.0),
        (90_000, None, 0.0),
    ]
    for now, side, ticks in script:
        if side is not None:
            both.on_markout(side, ticks, now, hl)
            apart.on_markout(side, ticks, now, hl)
        got = both.extra_ticks_both(now, p)
        assert got == (apart.extra_ticks(Side.BUY, now, p), apart.extra_ticks(Side.SELL, now, p))
        assert (both._sum, both._weight, both._at) == (apart._sum, apart._weight, apart._at)
        widened += sum(got)
    assert widened > 0  # the script does widen: the comparison is not of zeros
    assert MarkoutDefence().extra_ticks_both(5, DefenceParams(max_widen_ticks=0)) == (0, 0)


def test_the_widening_relaxes_when_the_side_stops_filling() -> None:
    d = MarkoutDefence()
    for _ in range(10):
        d.on_markout(Side.BUY, -5.0, 0, P.markout_half_life_ms)
    assert d.extra_ticks(Side.BUY, 0, P) == 4
    one_hl = d.score(Side.BUY, 60_000, P.markout_half_life_ms)
    # weights halve, the prior does not: -50·½ / (10·½ + 2)
    assert one_hl == pytest.approx(-25.0 / 7.0)
    assert d.extra_ticks(Side.BUY, 20 * 60_000, P) == 0  # after 20 half-lives: back to 0


# --- the regime ----------------------------------------------------------------------------


def _feed_zigzag(regime: VolRegime, t0: int, ms: int, step_ticks: float, every: int = 250) -> int:
    """A mid alternating between two prices ``step_ticks`` apart, one every ``every`` ms."""
    t = t0
    i = 0
    while t < t0 + ms:
        regime.on_mid(600_000.0 + (step_ticks if i % 2 else 0.0), t)
        t += every
        i += 1
    return t


def test_regime_widens_when_the_last_window_runs_hot_against_its_baseline() -> None:
    regime = VolRegime(15_000)  # baseline window: 8 × 15 s
    t = _feed_zigzag(regime, 0, 120_000, 1.0)
    assert regime.refresh(t, 2.0) == 1.0  # a steady market: no widening
    t = _feed_zigzag(regime, t, 15_000, 10.0)  # ten times the moves for the last 15 s
    assert regime.refresh(t, 2.0) == 2.0  # clamped to regime_max_scale
    assert regime.ratio is not None and regime.ratio > 2.0
    assert regime.refresh(t + 1_000, 1.0) == 1.0  # regime_max_scale = 1: off
    t = _feed_zigzag(regime, t + 1_000, 20_000, 1.0)  # calm again for a whole short window
    assert regime.refresh(t, 2.0) == 1.0


def test_regime_samples_the_mid_on_a_grid_and_waits_for_enough_returns() -> None:
    regime = VolRegime(15_000)
    assert regime.refresh(0, 2.0) == 1.0 and regime.ratio is None  # no returns yet
    _feed_zigzag(regime, 0, 5_000, 3.0, every=10)  # 500 mids in 5 s
    assert regime.short.n_returns == 5_000 // REGIME_SAMPLE_MS - 1  # one per 250 ms
    assert regime.refresh(5_000, 2.0) == 1.0 and regime.ratio is None  # 19 < 20 returns


def test_widen_scales_the_half_spread_and_moves_each_side_out() -> None:
    d = QuoteDistances(bid=5.0, ask=7.0)  # half 6, centre 1
    assert widen(d, Widening(1, 0, 2.0)) == QuoteDistances(bid=12.0 - 1.0 + 1.0, ask=13.0)
    assert widen(d, Widening()) is d
    one_sided = widen(QuoteDistances(bid=math.inf, ask=3.0), Widening(2, 2, 1.5))
    assert one_sided.bid == math.inf and one_sided.ask == 3.0 * 1.5 + 2


def test_quote_with_widening_moves_only_the_named_side_away() -> None:
    params = QuoteParams(
        model=QuoteModel.GLFT,
        gamma=0.01,
        base_size_lots=3,
        max_inventory_lots=20,
        min_half_spread_ticks=5.0,
        max_half_spread_ticks=5.0,
        use_microprice=False,
    )
    view = MarketView(MID - 1, MID + 1, float(MID), float(MID))
    inputs = ModelInputs(5.0, 1.0, 0.5)

    def top(widening: Widening | None) -> tuple[int, int]:
        res = quote(
            BTCUSDT,
            view,
            inventory_lots=0,
            inputs=inputs,
            params=params,
            funding_rate=0.0,
            widening=widening,
        )
        assert isinstance(res, QuoteSet)
        return res.bids[0].price_ticks, res.asks[0].price_ticks

    plain = top(None)
    assert plain == (MID - 5, MID + 5)
    assert top(Widening(3, 0)) == (MID - 8, MID + 5)
    assert top(Widening(0, 0, 2.0)) == (MID - 10, MID + 10)


def test_defence_params_are_validated() -> None:
    with pytest.raises(ParameterError, match="max_widen_ticks"):
        DefenceParams(max_widen_ticks=-1)
    with pytest.raises(ParameterError, match="regime_max_scale"):
        DefenceParams(regime_max_scale=0.5)
    with pytest.raises(ParameterError, match="markout_horizon_ms"):
        DefenceParams(markout_horizon_ms=0)


def test_retune_keeps_the_scores_and_restarts_a_changed_regime_window() -> None:
    d = Defence(P)
    d.on_markout(Side.BUY, 1_000, -9.0, 0)
    d.on_markout(Side.BUY, 5_000, -90.0, 0)  # another horizon: ignored
    assert d.markouts.fills[Side.BUY] == 1
    regime = d.regime
    d.retune(DefenceParams(max_widen_ticks=7))
    assert d.markouts.fills[Side.BUY] == 1 and d.regime is regime
    d.retune(DefenceParams(max_widen_ticks=7, regime_window_ms=30_000))
    assert d.regime is not regime and d.regime.window_ms == 30_000
    assert d.regime.long.window_ms == 8 * 30_000


# --- the fit gate ----------------------------------------------------------------------------


def _params(r2: float) -> IntensityParams:
    fit = IntensityFit(a=3.0, k=0.2, r2=r2, n=500, points=20, span_ms=60_000)
    return IntensityParams(3.0, 0.2, "fit", fit)


def test_fit_gate_refuses_a_poor_fit_and_names_its_r2() -> None:
    gated = gate_fit(_params(0.55), 0.8, 1.5, 0.07)
    assert (gated.a, gated.k, gated.source) == (1.5, 0.07, "fallback")
    assert isinstance(gated.detail, FitRejected) and "r² 0.550" in gated.detail.reason
    good = _params(0.93)
    assert gate_fit(good, 0.8, 1.5, 0.07) is good
    assert gate_fit(_params(0.1), 0.0, 1.5, 0.07).source == "fit"  # 0: the gate is off


# --- inside the MarketMaker -------------------------------------------------------------------


def _run_after_move(s: Session, steps: int = 12) -> list[Command]:
    """The market falls 20 ticks; time passes in 100 ms steps, the venue accepting places."""
    cmds = s.move(MID - 21, MID - 19, (MID - 1, MID + 1))
    oid = 100
    for _ in range(steps):
        for c in [c for c in cmds if isinstance(c, PlaceOrder)]:
            oid += 1
            cmds += s.step(PlaceAccepted(c.client_id, oid, s.now))
        cmds += s.step(Timer(s.now), dt=100)
    return cmds


def _last_price(cmds: list[Command], side: Side) -> int | None:
    prices = [c.price for c in cmds if isinstance(c, PlaceOrder | AmendOrder) and c.side is side]
    return prices[-1] if prices else None


def test_market_maker_widens_the_bid_after_its_buys_are_picked_off() -> None:
    s, bid, ask = quoting_session(defence=P, mid_sample_ms=100)
    assert (bid.price, ask.price) == (MID - 5, MID + 5)
    s.fill(bid.client_id, Side.BUY, bid.price, bid.qty, bid.qty, bid.qty)
    # the market falls 20 ticks through our bid and stays there past the 1 s horizon
    cmds = _run_after_move(s)
    st = s.mm.status(s.now)
    # markout (MID-20) - (MID-5) = -15 ticks; shrunk -15/3 = -5 -> widened by 4 (the bound)
    assert (st.defence_bid_ticks, st.defence_ask_ticks, st.regime_scale) == (4, 0, 1.0)
    assert "bid +4 ticks" in st.defence and "buys" in st.defence
    assert _last_price(cmds, Side.BUY) == MID - 20 - 5 - 4  # 4 ticks further than the model
    notes = [n for n in s.mm.drain_notices() if n.kind == "defence"]
    assert notes and notes[-1].data["bid_ticks"] == 4 and notes[-1].data["acting"] is True


def test_market_maker_without_defence_keeps_the_model_price() -> None:
    s, bid, _ = quoting_session(mid_sample_ms=100)  # StrategyConfig's default: defence off
    s.fill(bid.client_id, Side.BUY, bid.price, bid.qty, bid.qty, bid.qty)
    cmds = _run_after_move(s)
    assert s.mm.status(s.now).defence_bid_ticks == 0
    assert _last_price(cmds, Side.BUY) == MID - 20 - 5


def _poor_profile(s: Session, n_near: int = 50, n_far: int = 10) -> None:
    """Trades whose depth profile is a step, not an exponential: 50 at 1 tick, 10 at 10."""
    for i in range(n_near + n_far):
        depth = 1 if i < n_near else 10
        s.step(Trade(SYM, 10_000 + i, MID + depth, 1, False, s.now + 10))


def test_market_maker_quotes_on_the_fallback_while_the_fit_is_poor() -> None:
    s, _, _ = quoting_session(min_fit_r2=0.99)
    _poor_profile(s)
    s.step(Timer(s.now), dt=1_500)  # past the refit interval
    raw = s.mm.planner.intensity.fit()
    assert isinstance(raw, IntensityFit) and raw.r2 < 0.99  # a fit exists, and it is poor
    st = s.mm.status(s.now)
    assert (st.intensity_source, st.a, st.k) == ("fallback", 1.0, 0.5)
    notes = [n for n in s.mm.drain_notices() if n.kind == "defence" and n.data["gate"] == "fit"]
    assert notes and "r²" in notes[-1].message and notes[-1].data["acting"] is True
    # Said in words, not as the FitRejected(reason=...) repr (QA saw it in the log).
    assert notes[-1].message.startswith(
        "intensity fit refused, quoting on the fallback A and k: fit r² "
    ), notes[-1].message


def test_market_maker_quotes_on_the_fit_when_it_passes_the_gate() -> None:
    s, _, _ = quoting_session(min_fit_r2=0.0)
    _poor_profile(s)
    s.step(Timer(s.now), dt=1_500)
    st = s.mm.status(s.now)
    assert st.intensity_source == "fit" and (st.a, st.k) != (1.0, 0.5)


def test_status_document_and_line_show_the_defence_when_it_acts() -> None:
    s, bid, _ = quoting_session(defence=P, mid_sample_ms=100)
    s.fill(bid.client_id, Side.BUY, bid.price, bid.qty, bid.qty, bid.qty)
    _run_after_move(s)
    doc = strategy_doc(s.mm.status(s.now), BTCUSDT)
    assert doc["model"]["defence"]["bid_ticks"] == 4
    assert doc["model"]["defence"]["reason"].startswith("defence widens: bid +4 ticks")
    line = status_line({"bot": "b", "symbol": SYM, "strategy": doc})
    assert "| defence widens: bid +4 ticks" in line
    idle = strategy_doc(quoting_session()[0].mm.status(0), BTCUSDT)
    assert idle["model"]["defence"]["reason"] == "defence idle"
    assert "defence" not in status_line({"bot": "b", "symbol": SYM, "strategy": idle})


def test_worth_telling_skips_one_tick_steps_of_a_decaying_score() -> None:
    from mmtrio.core.defence import NO_WIDENING, Widening, worth_telling

    told = Widening(46, 0, 1.0)
    assert worth_telling(NO_WIDENING, told)  # starts
    assert not worth_telling(told, Widening(45, 0, 1.0))
    assert not worth_telling(told, Widening(36, 0, 1.0))  # 10 < 25 % of 46
    assert worth_telling(told, Widening(34, 0, 1.0))  # 12 >= 11.5
    assert worth_telling(told, Widening(46, 1, 1.0))  # the other side starts
    assert worth_telling(told, Widening(46, 0, 1.05))  # the scale starts widening
    wide = Widening(46, 0, 1.25)
    assert not worth_telling(wide, Widening(46, 0, 1.30))  # one 0.05 step
    assert not worth_telling(wide, Widening(46, 0, 1.10))
    assert worth_telling(wide, Widening(46, 0, 1.45))  # 0.2
    assert worth_telling(wide, Widening(46, 0, 1.0))  # stops
    assert worth_telling(told, NO_WIDENING)  # stops
    assert not worth_telling(Widening(1, 0, 1.0), Widening(2, 0, 1.0))  # at least 2 ticks
    assert worth_telling(Widening(1, 0, 1.0), Widening(3, 0, 1.0))


def test_a_decaying_widening_is_told_far_less_often_than_it_changes() -> None:
    from mmtrio.core.defence import Defence, DefenceParams

    p = DefenceParams(max_widen_ticks=50, markout_half_life_ms=20_000)
    d = Defence(p)
    for i in range(10):
        d.on_markout(Side.BUY, p.markout_horizon_ms, -60.0, i)
    from mmtrio.core.defence import NO_WIDENING, worth_telling

    changes = told_n = 0
    cur = told = NO_WIDENING
    for t in range(0, 400_000, 250):
        w = d.widening(t)
        if w is not cur:
            changes += 1
            cur = w
            if worth_telling(told, w):
                told_n += 1
                told = w
    assert cur.bid_ticks == 0 and told.bid_ticks == 0  # the stop is always told
    assert changes > 3 * told_n and told_n >= 3
