"""Tick-to-order latency: a depth message arriving on the market socket → the order request
it caused handed to the HTTP transport. Prints JSON (p50/p99/max µs, total and per stage).

The path measured is the bot's real one, wired as ``runtime.engine`` wires it: trio-websocket
market stream → BinanceDecoder → DepthSequencer/MarketBuffer → feed forwarder → the trading
loop's event channel → ``MarketMaker.step`` → JournalRecorder (a real SQLite journal) →
execution's command channel → Execution (budget, breaker, per-id serialisation) →
RestGateway → BinanceRest (signing) → httpx → transport. The user stream runs too (order
updates flow back into the loop, as live). Only the supervisor, control socket, dead-man and
reconciler are left out (they are idle between their periodic requests).

Stamps (``time.perf_counter_ns``; see ``mmtrio.runtime.probe``):

- ``arrive``: trio-websocket's ``receive_some`` returned the bytes completing the message
  (a wrapper on that connection's socket stream and message channel, installed here);
- ``parse``: decoder entry → records (a wrapper around the real decoder);
- ``book`` / ``risk`` / ``strategy``: inside ``mm.step``, timed around the core's own methods
  (``_dispatch`` = book sync + estimators; ``risk.evaluate``; the rest of ``step`` = quote
  model, slot reconciliation, order building) by wrapping them on the instance — the core
  itself reads no clock;
- ``execution``: from ``mm.step`` returning to the first order request handed to the httpx
  transport: journaling, the command channel, execution's admission and task spawn,
  gateway, signing, httpx request building;
- ``handed`` is the end point (the brief's "request written to the socket" = httpx hands the
  request to the transport); ``written`` (httpcore finished ``send`` of the request bytes,
  via its ``trace`` extension) is reported as a second figure.

Scenario: the simulated venue in a separate process (``mmtrio sim --synthetic``: the bot's
event loop carries only the bot, as against a real venue; ``--inproc`` shares the loop as
``mmtrio run`` does with the built-in sim), a synthetic BTCUSDT market whose mid moves several
ticks per 100 ms step, replayed at ``--speed``; strategy with reprice tolerance 0, no minimum
requote interval, amend enabled, and rate/position/drawdown limits lifted on both sides (the
sim via its admin API) so that nothing but the pipeline decides what is measured. A
"repricing event" is a depth diff whose ``mm.step`` produced at least one place/amend that
was sent. Usage: .venv/bin/python benchmarks/latency.py [--events 10000] [--speed 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import trio
from mmtrio.runtime.feeds import FeedStats, UserFeed, run_market_feed

from mmtrio.config import load_config
from mmtrio.config.strategy import build_strategy_config
from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import Command
from mmtrio.core.ratelimit import RateBudget, RateLimits
from mmtrio.core.strategy import MarketMaker
from mmtrio.errors import ConfigError
from mmtrio.runtime import probe as probe_mod
from mmtrio.runtime.breaker import CircuitBreaker
from mmtrio.runtime.execution import Execution
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_writer import JournalWriter, wall_ms
from mmtrio.runtime.probe import LatencyProbe, ProbeTransport, Trace
from mmtrio.runtime.trading import JournalRecorder, LoopItem, TradingLoop, make_clock_ms
from mmtrio.venues.binance import streams as streams_mod
from mmtrio.venues.binance.client_ids import client_id_format
from mmtrio.venues.binance.codec import BinanceDecoder, Record
from mmtrio.venues.binance.gateway import RestGateway
from mmtrio.venues.binance.rest import DEFAULT_LIMITS, BinanceRest
from mmtrio.venues.binance.signing import Signer
from mmtrio.venues.binance.streams import MarketStream, UserStream, market_stream_url

ROOT = Path(__file__).resolve().parents[1]
BIG = 10**8
STAGES = ("ws_read", "parse", "queue", "book", "risk", "strategy", "execution")


# --- instrumentation installed from here (no runtime change needed) ------------------------


class _StampingStream:
    """Proxy of trio-websocket's socket stream: remembers when the last bytes arrived."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.last_ns = 0

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data: bytes = await self._inner.receive_some(max_bytes)
        self.last_ns = time.perf_counter_ns()
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _StampingChannel:
    """Proxy of trio-websocket's message channel: one arrival stamp per complete message."""

    def __init__(self, inner: Any, stream: _StampingStream, probe: LatencyProbe) -> None:
        self._inner, self._stream, self._probe = inner, stream, probe

    async def send(self, msg: Any) -> None:
        self._probe.socket_message(self._stream.last_ns or time.perf_counter_ns())
        await self._inner.send(msg)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def patch_market_socket(probe: LatencyProbe) -> None:
    """Wrap the market connection's socket reads (the user stream is left alone)."""
    real_open = streams_mod.open_websocket_url  # type: ignore[attr-defined]

    def open_ws(url: str, **kw: Any) -> Any:
        cm = real_open(url, **kw)
        if "/stream?streams=" not in url:
            return cm

        class _Wrapped:
            async def __aenter__(self) -> Any:
                ws = await cm.__aenter__()
                stream = _StampingStream(ws._stream)
                ws._stream = stream  # type: ignore[assignment]
                ws._send_channel = _StampingChannel(ws._send_channel, stream, probe)  # type: ignore[assignment]
                return ws

            async def __aexit__(self, *exc: Any) -> Any:
                return await cm.__aexit__(*exc)

        return _Wrapped()

    streams_mod.open_websocket_url = open_ws  # type: ignore[attr-defined,assignment]


class ProbedDecoder(BinanceDecoder):
    """The real decoder, with the parse stage stamped around it."""

    def __init__(self, instruments: Any, probe: LatencyProbe) -> None:
        super().__init__(instruments)
        self._probe = probe
        self.messages = 0  # websocket messages decoded (market and user streams)

    def decode(self, raw: bytes | str) -> list[Record]:
        self.messages += 1
        arrive = self._probe.message_in()
        records = super().decode(raw)
        self._probe.parsed(records, arrive)
        return records


def time_core_stages(mm: MarketMaker, probe: LatencyProbe) -> None:
    """Time book (``_dispatch``) and risk (``risk.evaluate``) inside ``mm.step``."""

    def timed(stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kw: Any) -> Any:
            t0 = time.perf_counter_ns()
            out = fn(*args, **kw)
            probe.add(stage, time.perf_counter_ns() - t0)
            return out

        return wrapper

    mm._dispatch = timed("book", mm._dispatch)  # type: ignore[method-assign]
    mm.risk.evaluate = timed("risk", mm.risk.evaluate)  # type: ignore[method-assign]


# --- the venue -----------------------------------------------------------------------------


async def start_sim_process(
    speed: float, seed: int
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    cmd = [sys.executable, "-m", "mmtrio", "sim", "--synthetic", "--speed", str(speed)]
    # Started once, before anything is measured; the pipe read goes to a thread.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [*cmd, "--seed", str(seed), "--json"], stdout=subprocess.PIPE, text=True
    )
    line = await trio.to_thread.run_sync(proc.stdout.readline)  # type: ignore[union-attr]
    info: dict[str, Any] = json.loads(line)
    async with httpx.AsyncClient() as admin:
        resp = await admin.post(
            f"{info['admin']}/admin/config",
            json={"weight_per_minute": BIG, "orders_per_10s": BIG, "orders_per_minute": BIG},
        )
        resp.raise_for_status()
    return proc, info


def sim_inproc(speed: float, seed: int) -> Any:
    from mmtrio.core.instruments import BTCUSDT
    from mmtrio.sim.binance.frontend import FRONT_END
    from mmtrio.sim.limits import LimitConfig
    from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
    from mmtrio.sim.venue import SimConfig, SimVenue

    venue = SimVenue(
        SyntheticDriver(BTCUSDT, seed, SyntheticParams()),
        SimConfig(speed=speed, limits=LimitConfig(BIG, BIG, BIG)),
    )
    FRONT_END.create(venue)
    return venue


# --- the bot pipeline ----------------------------------------------------------------------


def bench_strategy(cfg: Any) -> Any:
    """The config's strategy with repricing forced and limits that never bind."""
    sc = build_strategy_config(cfg)
    limits = dataclasses.replace(
        sc.limits,
        max_position_lots=BIG,
        max_notional=sc.limits.max_notional * 10_000,
        max_drawdown=sc.limits.max_drawdown * 10_000,
        max_orders_per_window=BIG,
        max_feed_latency_ms=60_000,
    )
    quote = dataclasses.replace(sc.quote, max_inventory_lots=BIG)
    return dataclasses.replace(
        sc,
        limits=limits,
        quote=quote,
        reprice_tolerance_ticks=0,
        min_requote_interval_ms=0,
        use_amend=True,
    )


async def run_pipeline(info: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    cfg = load_config(ROOT / "config.toml")
    inst = cfg.instrument
    probe = LatencyProbe()
    patch_market_socket(probe)
    decoder = ProbedDecoder([inst], probe)
    transport = ProbeTransport(httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS), probe)
    execution_ref: list[Execution] = []

    def on_headers(w: int | None, o10: int | None, o1m: int | None) -> None:
        if execution_ref:
            execution_ref[0].on_headers(w, o10, o1m)

    rest = BinanceRest(
        info["rest"],
        decoder,
        signer=Signer(info["api_key"], info["api_secret"]),
        on_headers=on_headers,
        recv_window_ms=cfg.venue.recv_window_ms,
        transport=transport,
    )
    clock_ms = make_clock_ms()
    events_send, events_recv = trio.open_memory_channel[LoopItem](4096)
    cmd_send, cmd_recv = trio.open_memory_channel[Command](256)
    execution = Execution(
        RestGateway(rest, inst),
        inst,
        RateBudget(RateLimits(BIG, BIG, BIG), margin=0.8),
        CircuitBreaker(cfg.execution.breaker_failures, cfg.execution.breaker_probe_interval_ms),
        events_send,
        clock_ms,
    )
    execution_ref.append(execution)
    mm = MarketMaker(bench_strategy(cfg), ClientIdGenerator(client_id_format("lat"), 1))
    time_core_stages(mm, probe)
    state = Path(tempfile.mkdtemp(prefix="mmtrio-latency-"))
    journal = await trio.to_thread.run_sync(Journal.open, state)
    writer = JournalWriter(journal)
    loop = TradingLoop(mm, cmd_send, clock_ms, JournalRecorder(writer, wall_ms))
    market = MarketStream(
        market_stream_url(info["ws"], inst.symbol), decoder, inst.symbol, rest.depth_snapshot
    )
    user = UserFeed(lambda send: UserStream(info["ws"], decoder, rest, send), FeedStats())
    result: dict[str, Any] = {}
    async with rest, trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        nursery.start_soon(execution.run, cmd_recv)
        nursery.start_soon(loop.run, events_recv)
        nursery.start_soon(user.run, events_send)
        nursery.start_soon(run_market_feed, market, events_send, FeedStats())
        resyncs: list[int] = [0]
        nursery.start_soon(resync_watchdog, mm, market, resyncs)
        probe_mod.install(probe)  # hooks in trading/execution report from here on
        # Warm-up: connections, book sync, first quotes, allocator and caches.
        while len(probe.done) < args.warmup:  # noqa: ASYNC110 - polling the probe
            await trio.sleep(0.05)
        probe.done.clear()
        steps0, msgs0 = loop.steps, decoder.messages
        wall0, cpu0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()
        while len(probe.done) < args.events:  # noqa: ASYNC110 - polling the probe
            await trio.sleep(0.1)
        await trio.sleep(0.5)  # let the last requests reach the socket
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        probe_mod.install(None)
        result = summarise(probe.done[: args.events], args)
        result["run"] = {
            "wall_s": round(wall, 2),
            "process_cpu_s": round(cpu, 2),
            "loop_steps": loop.steps - steps0,
            "ws_messages_decoded": decoder.messages - msgs0,
            "repricing_events_per_s": round(args.events / wall, 1),
            "rest_requests": execution.requests,
            "rest_latency_p50_us": execution.stats()["latency_p50_us"],
            "rest_latency_p99_us": execution.stats()["latency_p99_us"],
            "local_rejects": execution.local_rejects,
            "probe_dropped": probe.dropped,
            "core_book_invalid_resyncs": resyncs[0],
            "loadavg_start": [round(x, 2) for x in load0],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        }
        nursery.cancel_scope.cancel()
    await trio.to_thread.run_sync(journal.close)
    shutil.rmtree(state, ignore_errors=True)
    return result


async def resync_watchdog(mm: MarketMaker, market: MarketStream, count: list[int]) -> None:
    """Resync the stream when the core's book went out of sync on its own (e.g. crossed).

    The runtime does not do this today: the core's own out-of-sync verdict (a crossed book)
    is not fed back to the market stream, so without this the run halts for good."""
    while True:
        await trio.sleep(0.5)
        if not mm.book.synced and market.sequencer.synced:
            await trio.sleep(0.5)
            if not mm.book.synced and market.sequencer.synced:
                count[0] += 1
                market._invalidate("benchmark: the core's book is out of sync")


# --- statistics ----------------------------------------------------------------------------


def pct(sorted_vals: list[float], p: float) -> float:
    return sorted_vals[min(len(sorted_vals) - 1, int(p * len(sorted_vals)))]


def dist(values_ns: list[int]) -> dict[str, float]:
    v = sorted(x / 1000.0 for x in values_ns)
    return {
        "p50_us": round(pct(v, 0.50), 1),
        "p90_us": round(pct(v, 0.90), 1),
        "p99_us": round(pct(v, 0.99), 1),
        "max_us": round(v[-1], 1),
        "mean_us": round(sum(v) / len(v), 1),
    }


def stage_ns(t: Trace) -> dict[str, int]:
    book, risk = t.sub.get("book", 0), t.sub.get("risk", 0)
    return {
        "ws_read": t.msg - t.arrive,
        "parse": t.parsed - t.msg,
        "queue": t.step - t.parsed,
        "book": book,
        "risk": risk,
        "strategy": (t.stepped - t.step) - book - risk,
        "execution": t.handed - t.stepped,
    }


def summarise(traces: list[Trace], args: argparse.Namespace) -> dict[str, Any]:
    total = [t.handed - t.arrive for t in traces]
    written = [t.written - t.arrive for t in traces if t.written]
    last = [t.last_handed - t.arrive for t in traces]
    per_stage = {s: dist([stage_ns(t)[s] for t in traces]) for s in STAGES}
    handoff = {
        "journal_and_channel": dist([t.exec - t.stepped for t in traces if t.exec]),
        "execution_to_transport": dist([t.handed - t.exec for t in traces if t.exec]),
    }
    p99 = dist(total)["p99_us"]
    return {
        "benchmark": "tick_to_order_latency",
        "definition": (
            "socket bytes completing a depth message returned by recv -> the first place/amend "
            "it caused handed by httpx to its transport (perf_counter_ns, same process)"
        ),
        "events": len(traces),
        "tick_to_order": dist(total),
        "tick_to_socket_write": dist(written) | {"n": len(written)},
        "tick_to_last_order_of_event": dist(last),
        "stages": per_stage,
        "execution_split": handoff,
        "orders_per_event_mean": round(sum(t.orders for t in traces) / len(traces), 2),
        "target_p99_us": 1000,
        "target_met": p99 < 1000,
        "scenario": {
            "sim": "in-process (shares the event loop)" if args.inproc else "separate process",
            "market": f"synthetic BTCUSDT, speed x{args.speed}, seed {args.seed}",
            "strategy": "reprice tolerance 0, min requote interval 0, amend, limits lifted",
            "warmup_events": args.warmup,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    if args.inproc:
        from mmtrio.sim.binance.auth import DEFAULT_CREDENTIALS
        from mmtrio.sim.server import serve_sim

        venue = sim_inproc(args.speed, args.seed)
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(serve_sim, venue)
            info = {
                "rest": urls.rest,
                "ws": urls.ws,
                "api_key": DEFAULT_CREDENTIALS.api_key,
                "api_secret": DEFAULT_CREDENTIALS.api_secret,
            }
            result = await run_pipeline(info, args)
            nursery.cancel_scope.cancel()
        return result
    proc, info = await start_sim_process(args.speed, args.seed)
    try:
        return await run_pipeline(info, args)
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000, help="repricing events measured")
    ap.add_argument("--warmup", type=int, default=300, help="repricing events before measuring")
    ap.add_argument("--speed", type=float, default=20.0, help="synthetic market speed (x real)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--inproc", action="store_true", help="run the sim in the bot's event loop")
    ns = ap.parse_args()
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    out = trio.run(main, ns)
    # Extended signs every order (a Stark signature): its per-order cost belongs beside the
    # pipeline's figures (benchmarks/extended_signing.py has the whole measurement).
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        from extended_signing import measure as measure_extended_signing

        out["extended_signing"] = trio.run(measure_extended_signing, 2_000)
    except ConfigError as exc:  # fast-stark-crypto missing: the extra is not installed
        out["extended_signing"] = f"not measured: {exc}"
    print(json.dumps(out, indent=1))
