"""Figures in log and journal messages are rounded like every surface: plain config values in
the reload line, money to the cent and UTC ISO times in loss-limit reasons, no ``-0.00``."""

from __future__ import annotations

from decimal import Decimal as D

from mmtrio import units
from mmtrio.config.reload import diff_reload
from mmtrio.core import figures
from mmtrio.core.guards import DrawdownTracker
from mmtrio.core.loss_limits import LossLimits
from tests.unit.test_config import parse, with_changes

T = 1_796_602_136_788  # 2026-12-07T00:08:56.788Z, the QA pass's breach


def test_reload_line_prints_plain_values_not_reprs() -> None:
    old = parse(with_changes(risk__max_drawdown="50", quoting__base_qty="0.002"))
    new = parse(with_changes(risk__max_drawdown="0.01", quoting__base_qty="0.005"))
    text = diff_reload(old, new).describe()
    assert "risk.max_drawdown: 50 → 0.01" in text
    assert "quoting.base_qty: 0.002 → 0.005" in text
    assert "Decimal(" not in text


def test_refused_reload_prints_paths_and_names_as_written() -> None:
    old = parse(with_changes(runtime__state_dir="/tmp/a", venue__name="binance"))
    new = parse(with_changes(runtime__state_dir="/tmp/b", venue__name="okx"))
    text = diff_reload(old, new).describe()
    assert "runtime.state_dir: /tmp/a → /tmp/b" in text
    assert "venue.name: binance → okx" in text
    assert "PosixPath(" not in text and "'" not in text


def test_drawdown_reason_is_in_cents_and_utc() -> None:
    dd = DrawdownTracker(D("0.05"))
    dd.update(D(0), T - 1000)
    assert dd.update(D("-0.1496624000000"), T)
    assert dd.breach_reason == (
        "drawdown 0.15 exceeds the limit 0.05 (peak +0.00, equity -0.15) "
        "at 2026-12-07T00:08:56.788Z"
    )


def test_a_reload_that_breaches_is_dated_at_the_reload_not_the_epoch() -> None:
    lim = LossLimits(D("50"), None, None, 0)
    lim.update(D(0), T - 9000)
    lim.update(D("-0.1496624"), T - 5000)
    tighter = lim.retuned(D("0.05"), None, None, 0, now=T)
    reason = tighter.drawdown.breach_reason
    assert reason is not None and reason.endswith("at 2026-12-07T00:08:56.788Z")
    assert "(peak +0.00, equity -0.15)" in reason


def test_daily_and_cumulative_reasons_are_in_cents() -> None:
    lim = LossLimits(D("1000"), D("1"), D("2"), 0)
    lim.update(D(0), T - 1000)
    reasons = lim.update(D("-2.004999"), T)
    assert reasons == [
        "daily loss 2.00 exceeds the limit 1.00 (day opened at +0.00, equity -2.00) "
        "at 2026-12-07T00:08:56.788Z",
        "cumulative loss 2.00 exceeds the limit 2.00 (equity -2.00, base +0.00) "
        "at 2026-12-07T00:08:56.788Z",
    ]


def test_money_that_rounds_to_zero_has_no_minus_sign() -> None:
    for value in (D("-0.001"), D("-0.00"), D("-0.004999"), -0.001, D("0.004")):
        assert figures.money(value) == "+0.00" == units.money(value)
        assert figures.money(value, signed=False) == "0.00"
    assert figures.money(D("-0.005")) == "+0.00"  # half to even: -0.00, printed +0.00
    assert figures.money(D("-0.006")) == "-0.01"
