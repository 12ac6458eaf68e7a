"""A report of one sample, or of a few seconds, renders without a matplotlib warning.

QA: ``report --html`` on a short window printed "UserWarning: AutoDateLocator was unable to
pick an appropriate interval for this date range" (once per chart draw): a range of zero
width has no date interval. The time axis is widened to MIN_SPAN_S and ticks on round seconds
up to two minutes."""

from __future__ import annotations

import warnings
from decimal import Decimal

import pytest

from mmtrio.core.events import Fill, Side
from mmtrio.core.instruments import BTCUSDT
from mmtrio.reporting.charts import plots
from mmtrio.reporting.html import render_html
from mmtrio.reporting.pnl import MidSample, ReportInput, compute_report
from mmtrio.reporting.timeline import Marker, QuoteSegment, Timeline

T = 1_796_602_136_788


def _fill(ts: int) -> Fill:
    return Fill("BTCUSDT", 1, "c1", 1, Side.BUY, 600_000, 2, Decimal("0.01"), "USDT", True, ts)


CASES = {
    "one sample": ([MidSample(T, 600_000, 600_002)], [], T),
    "one sample, no end": ([MidSample(T, 600_000, 600_002)], [], None),
    "one sample and a fill at the same ms": ([MidSample(T, 600_000, 600_002)], [_fill(T)], T),
    "300 ms": ([MidSample(T, 600_000, 600_002), MidSample(T + 300, 600_001, 600_003)], [], T + 300),
    "4 s": (
        [MidSample(T, 600_000, 600_002), MidSample(T + 4_000, 600_001, 600_003)],
        [],
        T + 4_000,
    ),
    "90 s": ([MidSample(T, 600_000, 600_002), MidSample(T + 90_000, 600_001, 600_003)], [], None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_short_reports_render_without_warnings(case: str) -> None:
    mids, fills, end = CASES[case]
    report = compute_report(ReportInput(BTCUSDT, fills, mids, start_ms=T, end_ms=end))
    timeline = Timeline(
        (QuoteSegment("BUY", 600_000, T, T),),
        (Marker(T, "kill", "KILL", "operator kill"),),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning (AutoDateLocator's included) fails
        page = render_html(report, timeline, None)
    assert page.count("data:image/png;base64,") == 4


def test_one_sample_report_emits_no_warning(recwarn: pytest.WarningsRecorder) -> None:
    report = compute_report(
        ReportInput(BTCUSDT, [], [MidSample(T, 600_000, 600_002)], start_ms=T, end_ms=T)
    )
    assert set(plots(report, None, None)) == {"price", "pnl", "inventory", "markouts"}
    assert [str(w.message) for w in recwarn] == []


@pytest.mark.parametrize(
    "span_s", [121, 200, 241, 255, 299, 301, 600, 3_600, 14_500, 5 * 3_600, 3 * 86_400, 40 * 86_400]
)
def test_reports_of_minutes_to_days_render_without_warnings(span_s: int) -> None:
    # QA (Hyperliquid paper bot): a report of 4 min 15 s warned as well. The AutoDateLocator
    # wants 5 whole minutes before it ticks in minutes, and 4 min of 30 s ticks are more than
    # the 8 allowed: from 4 to 5 minutes (and the like for hours) it found no interval.
    mids = [MidSample(T, 600_000, 600_002), MidSample(T + span_s * 1000, 600_001, 600_003)]
    report = compute_report(ReportInput(BTCUSDT, [], mids, start_ms=T, end_ms=T + span_s * 1000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        page = render_html(report, None, None)
    assert page.count("data:image/png;base64,") == 4
