"""Prometheus metrics scraped over real HTTP on loopback and parsed with prometheus_client."""

from __future__ import annotations

import dataclasses

import httpx
import trio
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from mmtrio.core.risk import TradingState
from mmtrio.runtime.backoffs import BackoffTally
from mmtrio.runtime.metrics import Metrics, serve_metrics
from mmtrio.runtime.screen import StatusView
from tests.strategies import SampleConnection, sample_status


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by (name, sorted labels)."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            assert isinstance(s, Sample)
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def scrape(metrics: Metrics) -> tuple[httpx.Response, httpx.Response]:
    async with trio.open_nursery() as nursery:
        url = await nursery.start(serve_metrics, metrics, "127.0.0.1", 0)
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        async with httpx.AsyncClient() as client:
            ok = await client.get(f"{url}/metrics")
            missing = await client.get(f"{url}/other")
        nursery.cancel_scope.cancel()
    return ok, missing


async def test_scrape_over_http_and_parse() -> None:
    view: StatusView | None = sample_status()
    metrics = Metrics(lambda: view)
    metrics.observe_tick_to_order(0.00042)
    metrics.observe_rest(0.012)
    metrics.observe_rest(0.3)
    metrics.count_notice("quote")
    metrics.count_notice("quote")
    metrics.count_notice("fill")
    ok, missing = await scrape(metrics)
    assert ok.status_code == 200 and missing.status_code == 404
    got = samples(ok.text)

    assert got[("mmtrio_status_up", ())] == 1.0
    assert got[("mmtrio_trading_state", (("state", "ACTIVE"),))] == 1.0
    assert got[("mmtrio_trading_state", (("state", "HALTED"),))] == 0.0
    assert got[("mmtrio_position", ())] == 0.004
    assert got[("mmtrio_pnl_usdt", (("part", "equity"),))] == 0.83
    assert got[("mmtrio_pnl_usdt", (("part", "fees"),))] == -0.40
    assert got[("mmtrio_pnl_usdt", (("part", "spread_capture"),))] == 2.10
    assert got[("mmtrio_drawdown_usdt", ())] == 0.42
    assert got[("mmtrio_drawdown_limit_usdt", ())] == 50.0
    assert got[("mmtrio_fills_total", ())] == 17
    assert got[("mmtrio_quote_price", (("level", "0"), ("side", "BUY")))] == 60001.0
    assert got[("mmtrio_quote_size", (("level", "0"), ("side", "SELL")))] == 0.002
    assert got[("mmtrio_quotes_live", (("side", "BUY"),))] == 1.0
    assert got[("mmtrio_mid_price", ())] == 60001.3
    assert got[("mmtrio_ws_up", (("ws", "market"),))] == 1.0
    assert got[("mmtrio_ws_reconnects_total", (("ws", "user"),))] == 1
    assert got[("mmtrio_child_restarts_total", (("child", "user-stream"),))] == 1
    assert got[("mmtrio_rate_limit_used_ratio", (("window", "weight_1m"),))] == 0.05
    assert got[("mmtrio_notices_total", (("kind", "quote"),))] == 2
    assert got[("mmtrio_notices_total", (("kind", "reject"),))] == 0
    assert got[("mmtrio_tick_to_order_seconds_count", ())] == 1
    assert got[("mmtrio_tick_to_order_seconds_bucket", (("le", "0.0005"),))] == 1
    assert got[("mmtrio_tick_to_order_seconds_bucket", (("le", "0.0003"),))] == 0
    assert got[("mmtrio_rest_latency_seconds_count", ())] == 2
    assert got[("mmtrio_rest_latency_seconds_bucket", (("le", "0.025"),))] == 1


async def test_scrape_reads_the_latest_snapshot_each_time() -> None:
    current: list[StatusView | None] = [None]
    metrics = Metrics(lambda: current[0])
    ok, _ = await scrape(metrics)
    assert samples(ok.text)[("mmtrio_status_up", ())] == 0.0
    assert ("mmtrio_position", ()) not in samples(ok.text)

    view = sample_status()
    assert view.strategy is not None
    halted = dataclasses.replace(view.strategy, trading_state=TradingState.HALTED)
    current[0] = dataclasses.replace(view, strategy=halted)
    ok, _ = await scrape(metrics)
    assert samples(ok.text)[("mmtrio_trading_state", (("state", "HALTED"),))] == 1.0


def test_unknown_notice_kind_is_bounded() -> None:
    metrics = Metrics(lambda: None)
    metrics.count_notice("something-new")
    assert metrics.notices.labels(kind="other")._value.get() == 1


async def test_every_series_carries_bot_venue_and_symbol() -> None:
    view: StatusView | None = sample_status()
    labels = {"bot": "btc-a", "venue": "sim", "symbol": "BTCUSDT"}
    metrics = Metrics(lambda: view, labels)
    metrics.observe_rest(0.012)
    ok, _ = await scrape(metrics)
    fams = list(text_string_to_metric_families(ok.text))
    assert len(fams) > 20
    for family in fams:
        for s in family.samples:
            assert {k: s.labels.get(k) for k in labels} == labels, (s.name, s.labels)
    got = samples(ok.text)
    assert got[("mmtrio_position", tuple(sorted(labels.items())))] == 0.004
    assert got[("mmtrio_position_limit", tuple(sorted(labels.items())))] == 0.02
    assert any(name == "mmtrio_start_time_seconds" for name, _ in got)


def test_order_socket_back_offs_and_cancel_alls_are_exported_with_their_labels() -> None:
    view: StatusView | None = sample_status(
        connections=(
            SampleConnection("market", True, 0, 900),
            SampleConnection("user", True, 1, 12),
            SampleConnection("orders", False, 3, 41),
        ),
        backoffs=(
            BackoffTally("venue", 2, 3.5),
            BackoffTally("venue_ban", 1, 120.0),
            BackoffTally("rate_budget", 7, 0.25),
        ),
    )
    metrics = Metrics(lambda: view)
    got = samples(generate_latest(metrics.registry).decode())
    assert got[("mmtrio_notices_total", (("kind", "cancel_all"),))] == 0  # exported at zero
    metrics.count_cancel_all()
    metrics.count_notice("cancel")
    got = samples(generate_latest(metrics.registry).decode())
    assert got[("mmtrio_ws_up", (("ws", "orders"),))] == 0.0
    assert got[("mmtrio_ws_reconnects_total", (("ws", "orders"),))] == 3
    assert got[("mmtrio_ws_messages_total", (("ws", "orders"),))] == 41
    assert got[("mmtrio_ws_messages_total", (("ws", "market"),))] == 900
    assert got[("mmtrio_venue_backoffs_total", (("reason", "venue"),))] == 2
    assert got[("mmtrio_venue_backoffs_total", (("reason", "rate_budget"),))] == 7
    assert got[("mmtrio_venue_backoffs_total", (("reason", "venue_ban"),))] == 1
    assert got[("mmtrio_venue_backoff_seconds_total", (("reason", "venue_ban"),))] == 120.0
    assert got[("mmtrio_venue_backoff_seconds_total", (("reason", "venue"),))] == 3.5
    assert got[("mmtrio_venue_backoff_seconds_total", (("reason", "rate_budget"),))] == 0.25
    assert got[("mmtrio_notices_total", (("kind", "cancel_all"),))] == 1
    assert got[("mmtrio_notices_total", (("kind", "cancel"),))] == 1
