"""Prometheus metrics: a scrape-time collector over the latest status, two latency histograms,
and a loopback HTTP server (Hypercorn on Trio) that exposes them at ``/metrics``.

Why a scrape-time collector: quotes, position, P&L parts, drawdown, reconnects, restarts,
rate-limit usage and the trading state already live in the status snapshot. Reading them when
Prometheus scrapes (every 15 s) costs the trading loop nothing; mirroring every change into
gauges would put work on the hot path. Only the latencies need per-event recording, and a
``Histogram.observe`` is a lock and a bisect. The registry is private to a :class:`Metrics`
instance (not prometheus_client's global), so tests and a reload never collide.

Totals that the snapshot holds as counts since start (fills, reconnects, websocket messages,
restarts, rate-limit back-offs and their seconds) are exported as counters; everything else
as gauges. Label cardinality is bounded: side × level (≤ 10 levels), three rate-limit
windows, three websockets (``market``, ``user``, ``orders`` where the venue takes orders over
one), two back-off reasons, a handful of children.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_asgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mmtrio.core.notices import NOTICE_KINDS
from mmtrio.core.risk import InventoryBand, TradingState
from mmtrio.runtime.screen import StatusView
from mmtrio.runtime.supervisor import ChildState

PREFIX = "mmtrio"
CANCEL_ALL = "cancel_all"  # the notices counter's kind for a cancel-all sent
# Tick-to-order (market message in → order request out): tens of µs to a few ms.
TICK_TO_ORDER_BUCKETS = (
    50e-6,
    100e-6,
    200e-6,
    300e-6,
    500e-6,
    750e-6,
    1e-3,
    2e-3,
    5e-3,
    10e-3,
    50e-3,
)
# REST round trip to Binance from a home connection: ~10 ms to seconds when it is unwell.
REST_BUCKETS = (1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0, 2.5, 5.0)

ASGIScope = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
ASGISend = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _StatusCollector(Collector):
    """Yields the snapshot's metrics at scrape time (called on the HTTP handler's task)."""

    def __init__(self, latest: Callable[[], StatusView | None]) -> None:
        self._latest = latest

    def describe(self) -> list[Metric]:
        # Not describable in advance (families depend on the snapshot); registering with
        # auto-describe off keeps the registry from calling collect() at registration.
        return []

    def collect(self) -> Iterator[Metric]:
        view = self._latest()
        up = GaugeMetricFamily(f"{PREFIX}_status_up", "1 once the strategy reports its status")
        st = view.strategy if view is not None else None
        up.add_metric([], 0.0 if st is None else 1.0)
        yield up
        if view is None:
            return
        yield from self._health(view)
        if st is None:
            return
        inst = view.instrument
        state = GaugeMetricFamily(
            f"{PREFIX}_trading_state", "1 for the current trading state", labels=["state"]
        )
        for s in TradingState:
            state.add_metric([s.value], 1.0 if st.trading_state is s else 0.0)
        yield state
        band = GaugeMetricFamily(
            f"{PREFIX}_inventory_band", "1 for the current inventory band", labels=["band"]
        )
        for b in InventoryBand:
            band.add_metric([b.value], 1.0 if st.band is b else 0.0)
        yield band
        yield GaugeMetricFamily(
            f"{PREFIX}_position",
            "position in base asset (signed)",
            value=float(inst.lots_to_base(st.position_lots)),
        )
        limit = getattr(view, "max_position_lots", None)
        if isinstance(limit, int):
            yield GaugeMetricFamily(
                f"{PREFIX}_position_limit",
                "risk.max_position in base asset (the inventory bands are fractions of it)",
                value=float(inst.lots_to_base(limit)),
            )
        best = GaugeMetricFamily(
            f"{PREFIX}_best_price", "best bid and ask of the local book", labels=["side"]
        )
        if st.best_bid is not None:
            best.add_metric(["BUY"], float(inst.ticks_to_price(st.best_bid)))
        if st.best_ask is not None:
            best.add_metric(["SELL"], float(inst.ticks_to_price(st.best_ask)))
        yield best
        pnl = GaugeMetricFamily(
            f"{PREFIX}_pnl_usdt", "session P&L and its attribution (USDT)", labels=["part"]
        )
        led = st.ledger
        for part, value in (
            ("equity", led.equity),
            ("realised", led.realised),
            ("unrealised", led.unrealised),
            ("fees", -led.all_fees),
            ("funding", led.funding),
            ("spread_capture", led.spread_capture),
            ("inventory", led.inventory_pnl),
            ("reconciliation", led.reconciliation_pnl),
        ):
            pnl.add_metric([part], float(value))
        yield pnl
        yield GaugeMetricFamily(
            f"{PREFIX}_drawdown_usdt", "session equity drop from its peak", value=float(st.drawdown)
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_drawdown_limit_usdt",
            "drawdown that latches the kill switch",
            value=float(st.max_drawdown),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_fills", "fills booked (once per venue trade id)", value=led.fills
        )
        if st.book_age_ms is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_book_age_seconds",
                "time since the last book update",
                value=st.book_age_ms / 1000,
            )
        yield GaugeMetricFamily(
            f"{PREFIX}_book_synced",
            "1 while the local book is in sync",
            value=float(st.book_synced),
        )
        if st.mid is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_mid_price", "mid price", value=inst.ticks_to_float(1) * st.mid
            )
        live = GaugeMetricFamily(f"{PREFIX}_quotes_live", "live quoting orders", labels=["side"])
        price = GaugeMetricFamily(
            f"{PREFIX}_quote_price", "price of our quote", labels=["side", "level"]
        )
        size = GaugeMetricFamily(
            f"{PREFIX}_quote_size", "remaining size of our quote (base)", labels=["side", "level"]
        )
        counts = {"BUY": 0, "SELL": 0}
        for q in st.quotes:
            counts[q.side.value] = counts.get(q.side.value, 0) + 1
            labels = [q.side.value, str(q.level)]
            price.add_metric(labels, float(inst.ticks_to_price(q.price)))
            size.add_metric(labels, float(inst.lots_to_base(q.qty)))
        for side, n in counts.items():
            live.add_metric([side], float(n))
        yield live
        yield price
        yield size

    @staticmethod
    def _health(view: StatusView) -> Iterator[Metric]:
        conn = GaugeMetricFamily(
            f"{PREFIX}_ws_up",
            "1 while the websocket is up (market, user; orders: the order-entry socket)",
            labels=["ws"],
        )
        reconn = CounterMetricFamily(
            f"{PREFIX}_ws_reconnects", "websocket reconnections", labels=["ws"]
        )
        messages = CounterMetricFamily(
            f"{PREFIX}_ws_messages",
            "websocket messages: market and user events received, order requests sent",
            labels=["ws"],
        )
        for c in view.connections:
            conn.add_metric([c.name], float(c.up))
            reconn.add_metric([c.name], c.reconnects)
            messages.add_metric([c.name], c.messages)
        yield conn
        yield reconn
        yield messages
        backoffs = CounterMetricFamily(
            f"{PREFIX}_venue_backoffs",
            "rate-limit back-offs: venue = a 429/418 answer, rate_budget = a request our own "
            "rate budget held back",
            labels=["reason"],
        )
        backoff_s = CounterMetricFamily(
            f"{PREFIX}_venue_backoff_seconds",
            "time a rate-limit back-off held the bot back (overlapping ones once)",
            labels=["reason"],
        )
        for b in view.backoffs:
            backoffs.add_metric([b.reason], b.count)
            backoff_s.add_metric([b.reason], b.seconds)
        yield backoffs
        yield backoff_s
        used = GaugeMetricFamily(
            f"{PREFIX}_rate_limit_used_ratio", "venue rate-limit window usage", labels=["window"]
        )
        for r in view.rate_limits:
            used.add_metric([r.name], r.used / r.limit if r.limit > 0 else 0.0)
        yield used
        restarts = CounterMetricFamily(
            f"{PREFIX}_child_restarts", "supervised task restarts", labels=["child"]
        )
        running = GaugeMetricFamily(
            f"{PREFIX}_child_running", "1 while the supervised task runs", labels=["child"]
        )
        for child in view.children:
            restarts.add_metric([child.name], child.restarts)
            running.add_metric([child.name], float(child.state is ChildState.RUNNING))
        yield restarts
        yield running


class _Labelled(Collector):
    """Every sample of ``inner`` with the bot's identity labels added (``bot``, ``venue``,
    ``symbol``), so that one Prometheus scrapes a fleet and every series says whose it is."""

    def __init__(self, inner: CollectorRegistry, labels: Mapping[str, str]) -> None:
        self._inner = inner
        self._labels = dict(labels)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        for metric in self._inner.collect():
            metric.samples = [
                s._replace(labels={**s.labels, **self._labels}) for s in metric.samples
            ]
            yield metric


class Metrics:
    """The bot's metrics. ``latest`` returns the newest status snapshot (or None); ``labels``
    (``bot``, ``venue``, ``symbol``) go on every series."""

    def __init__(
        self,
        latest: Callable[[], StatusView | None],
        labels: Mapping[str, str] | None = None,
    ) -> None:
        inner = CollectorRegistry(auto_describe=False)
        inner.register(_StatusCollector(latest))
        # The served registry: the inner one's samples, labelled.
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Labelled(inner, labels or {}))
        # Process restarts show in Grafana as changes of this value.
        start = Gauge(
            f"{PREFIX}_start_time_seconds",
            "when this bot process started (unix time)",
            registry=inner,
        )
        start.set(time.time())
        self.clock_offset = Gauge(
            f"{PREFIX}_clock_offset_ms",
            "venue clock minus local clock, from the last clock sync (ms)",
            registry=inner,
        )
        self.clock_rejects = Counter(
            f"{PREFIX}_clock_rejects",
            "requests the venue refused because their timestamp was outside its window "
            "(our clock, or our offset to the venue's, is off; the offset is measured again)",
            registry=inner,
        )
        self.tick_to_order = Histogram(
            f"{PREFIX}_tick_to_order_seconds",
            "market message received → order request written",
            buckets=TICK_TO_ORDER_BUCKETS,
            registry=inner,
        )
        self.rest_latency = Histogram(
            f"{PREFIX}_rest_latency_seconds",
            "REST request round trip",
            buckets=REST_BUCKETS,
            registry=inner,
        )
        self.notices = Counter(
            f"{PREFIX}_notices",
            "strategy notices by kind (quote = a place/amend sent, cancel = a cancel sent, "
            "reject, alert, ...) and cancel_all = a cancel-all sent (a halt's or the stop's)",
            labelnames=["kind"],
            registry=inner,
        )
        for kind in sorted(NOTICE_KINDS | {CANCEL_ALL}):
            self.notices.labels(kind=kind)  # export zeros: rate() needs the series to exist

    def set_clock_offset(self, offset_ms: int) -> None:
        """The venue-minus-local clock offset measured by the last sync."""
        self.clock_offset.set(offset_ms)

    def count_clock_reject(self) -> None:
        """Count one request refused for its timestamp (runtime/clock_watch.py)."""
        self.clock_rejects.inc()

    def observe_tick_to_order(self, seconds: float) -> None:
        """Record one tick-to-order latency."""
        self.tick_to_order.observe(seconds)

    def observe_rest(self, seconds: float) -> None:
        """Record one REST round trip."""
        self.rest_latency.observe(seconds)

    def count_notice(self, kind: str) -> None:
        """Count one strategy notice (the engine calls it for each drained notice)."""
        # An unknown kind still counts: the label set stays bounded by the core's own kinds.
        self.notices.labels(kind=kind if kind in NOTICE_KINDS else "other").inc()

    def count_cancel_all(self) -> None:
        """Count one cancel-all sent: no strategy notice says it (the halt's comes as an
        alert, the stop's from the runtime), yet it is an order message like a cancel."""
        self.notices.labels(kind=CANCEL_ALL).inc()


def metrics_app(metrics: Metrics) -> Callable[[ASGIScope, ASGIReceive, ASGISend], Awaitable[None]]:
    """An ASGI app: ``GET /metrics`` is the exposition, anything else 404; lifespan handled."""
    exposition = make_asgi_app(metrics.registry)

    async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] == "lifespan":
            # prometheus_client's app only speaks HTTP; answer the server's lifespan here.
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["path"] != "/metrics" or scope["method"] not in ("GET", "HEAD"):
            await receive()
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"not found; try /metrics\n"})
            return
        await exposition(scope, receive, send)

    return app


async def serve_metrics(
    metrics: Metrics,
    host: str = "127.0.0.1",
    port: int = 9464,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``/metrics`` on ``host:port`` until cancelled; ``task_status`` gets the base URL.

    ``port`` 0 binds a free port (tests). The config section guards the host (loopback by
    default; the exposition carries position and P&L, which is not for the open internet).
    """
    config = HypercornConfig()
    bracketed = f"[{host}]" if ":" in host else host
    config.bind = [f"{bracketed}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    config.keep_alive_timeout = 30.0
    async with trio.open_nursery() as nursery:
        app: Any = metrics_app(metrics)  # hypercorn's ASGI types are stricter than ours
        binds: list[str] = await nursery.start(partial(serve, app, config))
        task_status.started(binds[0])
