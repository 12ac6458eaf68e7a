"""Hyperliquid tick-to-order latency, signing broken out. Prints JSON (p50/p99/max µs).

What is measured: the bot exactly as `mmtrio run` assembles it (the runtime's Engine, its
supervisor, inbox, trading loop, SQLite journal, execution, the Hyperliquid connector) in
``testnet`` mode against ``mmtrio sim --venue hyperliquid --synthetic`` in a separate
process, from a ``l2Book`` snapshot message returned by the market websocket to the
websocket ``post`` frame carrying the order it caused being handed to trio-websocket.
Stamps (``time.perf_counter_ns``, the runtime's :mod:`mmtrio.runtime.probe`):

- ``msg``: the connector's JSON decode of the message begins (our code starts here);
- ``parsed``: the snapshot is parsed (``parse_l2book``; the sequencer's time check follows);
- ``step`` / ``stepped``: the trading loop's decision for it (inbox and loop in between);
- ``exec``: execution took the order command;
- ``sign``: inside the gateway, the L1 signature of the action (msgpack, keccak, EIP-712,
  secp256k1: ``L1Signer.sign``), reported on its own;
- ``handed``: the signed ``post`` frame handed to trio-websocket; ``written``: its
  ``send_message`` returned (the bytes are in the kernel).

A trace is one ``l2Book`` message whose planning step produced a place or modify that
reached the wire; ``steps_with_orders`` minus ``traced_orders`` are steps whose orders never
did (for one, held back as crossing our own order: the bot logs each). ``sign_calls``
counts every signed action (cancels, the dead-man's ``scheduleCancel`` and orders caused by
other events included).

Strategy: the shipped config with ``reprice_tolerance_ticks = 0`` (every book change that
moves the target requotes), ``requote_interval_ms = 10`` (its minimum), no warm-up, metrics
off, rate, position and notional limits lifted so that nothing but the
pipeline decides (the connector's request budget is replaced by a huge one here: the bot's
runaway-rate guard follows it); the sim's IP-weight limit raised likewise. Usage:
``.venv/bin/python benchmarks/hyperliquid_latency.py [--seconds 60] [--speed 5]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio
import trio_websocket

from mmtrio.config import load_config
from mmtrio.core.commands import AmendOrder, PlaceOrder
from mmtrio.core.ratelimit import MINUTE_MS, RateLimits, RateWindow
from mmtrio.runtime import probe as probe_mod
from mmtrio.runtime.engine import Engine
from mmtrio.runtime.probe import LatencyProbe, Trace
from mmtrio.venues import registry
from mmtrio.venues.hyperliquid import signing as signing_mod
from mmtrio.venues.hyperliquid import streams as streams_mod
from mmtrio.venues.hyperliquid import venue as venue_mod
from mmtrio.venues.protocol import VenueCredentials, VenueSettings

ROOT = Path(__file__).resolve().parents[1]
BIG = 10**8
CLOID = re.compile(r'"c":"(0x[0-9a-f]{32})"')


class CountingProbe(LatencyProbe):
    """The runtime's probe, counting what it saw: book messages traced, planning steps that
    began from one, and those steps that produced an order."""

    def __init__(self) -> None:
        super().__init__()
        self.books = 0
        self.steps = 0
        self.steps_with_orders = 0

    def parsed(self, records: list[Any], arrive_ns: int) -> None:
        self.books += 1
        super().parsed(records, arrive_ns)

    def step_end(self, commands: list[Any], t_ns: int) -> None:
        if self.current is not None:
            self.steps += 1
            self.steps_with_orders += any(isinstance(c, PlaceOrder | AmendOrder) for c in commands)
        super().step_end(commands, t_ns)


def install(probe: LatencyProbe) -> dict[str, int]:
    """Stamp the connector's path (module attributes wrapped; the source is unchanged)."""
    counts = {"sign_calls": 0}
    arrive: list[int] = [0]
    # streams' own imported names, read and replaced on purpose (what its code calls)
    real_loads = streams_mod.loads  # type: ignore[attr-defined]
    real_parse = streams_mod.parse_l2book  # type: ignore[attr-defined]

    def loads(raw: Any, what: str = "message") -> Any:
        arrive[0] = probe.message_in()
        return real_loads(raw, what)

    def parse_l2book(data: Any, inst: Any) -> Any:
        snap = real_parse(data, inst)
        probe.parsed([snap], arrive[0])
        return snap

    streams_mod.loads = loads  # type: ignore[attr-defined]
    streams_mod.parse_l2book = parse_l2book  # type: ignore[attr-defined]

    # The venue's request budget lifted on the bot's side (the sim's via its admin API), as
    # benchmarks/latency.py does: the bot's runaway-rate guard follows the budget, and with
    # reprice tolerance 0 it would halt the bot within a minute.
    venue_mod.limits_for = lambda surplus_actions: RateLimits(  # type: ignore[attr-defined]
        (RateWindow("weight_1m", MINUTE_MS, BIG), RateWindow("actions_1m", MINUTE_MS, BIG)),
        orders_per_minute=BIG,
        ban_ms=60_000,
    )

    real_sign = signing_mod.L1Signer.sign

    def sign(self: Any, action: Any, nonce: int, expires_after: int | None = None) -> Any:
        t0 = time.perf_counter_ns()
        sig = real_sign(self, action, nonce, expires_after)
        dt = time.perf_counter_ns() - t0
        counts["sign_calls"] += 1
        found = CLOID.search(json.dumps(action, separators=(",", ":")))
        tr = probe._by_client_id.get(found.group(1)) if found else None
        if tr is not None and "sign" not in tr.sub:
            tr.sub["sign"] = dt
        return sig

    signing_mod.L1Signer.sign = sign  # type: ignore[method-assign]

    real_send = trio_websocket.WebSocketConnection.send_message

    async def send_message(self: Any, message: Any) -> None:
        cid = None
        if isinstance(message, str) and '"method":"post"' in message:
            found = CLOID.search(message)
            cid = found.group(1) if found else None
            if cid is not None:
                probe.request_handed(cid, time.perf_counter_ns())
        await real_send(self, message)
        if cid is not None:
            probe.request_written(cid, time.perf_counter_ns())

    trio_websocket.WebSocketConnection.send_message = send_message  # type: ignore[method-assign]
    return counts


def stats(values: list[int]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    s = sorted(values)
    return {
        "n": len(s),
        "p50_us": round(s[len(s) // 2] / 1000, 1),
        "p99_us": round(s[min(len(s) - 1, int(len(s) * 0.99))] / 1000, 1),
        "max_us": round(s[-1] / 1000, 1),
    }


def config_file(tmp: Path, info: dict[str, Any]) -> Path:
    text = (ROOT / "config.toml").read_text()
    creds = info["credentials"]
    text = text.replace('name = "binance"', 'name = "hyperliquid"', 1)
    text = re.sub(
        r'^mode = "paper".*$',
        f'mode = "testnet"\nsymbol = "BTC"\naccount = "{creds["account"]}"\n'
        f'rest_url = "{info["rest"]}"\nmarket_ws_url = "{info["ws"]}"\n'
        f'private_ws_url = "{info["ws"]}"',
        text,
        count=1,
        flags=re.M,
    )
    text = text[: text.index("[sim]")] + text[text.index("[quoting]") :]
    for old, new in (
        ("reprice_tolerance_ticks = 1 ", "reprice_tolerance_ticks = 0 "),
        ('max_position = "0.02"', 'max_position = "1000"'),
        ('max_notional = "2000"', 'max_notional = "10000000"'),
        ("requote_interval_ms = 100 ", "requote_interval_ms = 10 "),
        ("warmup_ms = 30000 ", "warmup_ms = 0     "),
        ("enabled = true               # serve Prometheus", "enabled = false  # serve Prometheus"),
    ):
        text = text.replace(old, new)
    # the shipped config leaves the state paths commented out (per-bot defaults): set them
    # here, so the bot's journal and the venue's nonce reservation share one fresh directory
    for key, value in (("kill_file", tmp / "state/KILL"), ("state_dir", tmp / "state"),
                       ("control_socket", tmp / "state/c.sock")):  # fmt: skip
        text, count = re.subn(rf"^# {key} = .*$", f'{key} = "{value}"', text, count=1, flags=re.M)
        if count != 1:
            raise SystemExit(f"config.toml has no commented `{key}` line to set")
    text = re.sub(r"^max_feed_latency_ms = \d+", "max_feed_latency_ms = 60000", text, flags=re.M)
    path = tmp / "config.toml"
    path.write_text(text)
    return path


async def run(args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "mmtrio", "sim", "--venue", "hyperliquid", "--synthetic"]
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
        [*cmd, "--speed", str(args.speed), "--seed", "7", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = await trio.to_thread.run_sync(proc.stdout.readline)  # type: ignore[union-attr]
        info: dict[str, Any] = json.loads(line)
        async with httpx.AsyncClient() as admin:
            r = await admin.post(
                f"{info['admin']}/admin/config",
                json={"weight_per_minute": BIG, "orders_per_10s": BIG, "orders_per_minute": BIG},
            )
            r.raise_for_status()
        tmp = Path(tempfile.mkdtemp(prefix="hl-latency-"))
        cfg_path = config_file(tmp, info)
        config = load_config(cfg_path)
        factory = registry.venue("hyperliquid")
        urls = {"rest": info["rest"], "market_ws": info["ws"], "private_ws": info["ws"]}
        engine = Engine(
            config,
            config_path=cfg_path,
            venue=factory,
            settings=VenueSettings("hyperliquid", "testnet", "BTC", urls,
                                   options={"state_dir": str(tmp / "state")}),
            credentials=VenueCredentials(
                private_key=info["credentials"]["private_key"],
                account=info["credentials"]["account"],
            ),
        )  # fmt: skip
        probe = CountingProbe()
        counts = install(probe)
        probe_mod.install(probe)
        codes: list[int] = []

        async def bot() -> None:
            codes.append(await engine.run())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(bot)
            with trio.move_on_after(args.seconds):
                while not codes:  # noqa: ASYNC110 - the bot may stop on its own (an error)
                    await trio.sleep(0.2)
            engine.request_stop("benchmark done")
        if codes != [0]:
            raise SystemExit(f"the bot stopped with exit code {codes}: see its log above")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return report(probe, counts, args)


def report(
    probe: CountingProbe, counts: dict[str, int], args: argparse.Namespace
) -> dict[str, Any]:
    done: list[Trace] = [t for t in probe.done if t.handed and t.step and t.msg]
    stage = {
        "decode_parse": [t.parsed - t.msg for t in done],
        "queue_to_step": [t.step - t.parsed for t in done],
        "strategy": [t.stepped - t.step for t in done],
        "to_execution": [t.exec - t.stepped for t in done if t.exec],
        "gateway_incl_sign": [t.handed - t.exec for t in done if t.exec],
        "sign": [t.sub["sign"] for t in done if "sign" in t.sub],
        "ws_write": [t.written - t.handed for t in done if t.written],
    }
    return {
        "benchmark": "hyperliquid_latency",
        "what": "l2Book message decoded -> order post frame handed to trio-websocket",
        "seconds": args.seconds,
        "speed": args.speed,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),  # the machine is shared
        "book_messages": probe.books,
        "planning_steps_from_a_book": probe.steps,
        "steps_with_orders": probe.steps_with_orders,
        "traced_orders": len(done),
        "dropped": probe.dropped,
        "sign_calls": counts["sign_calls"],
        "tick_to_order": stats([t.handed - t.msg for t in done]),
        "stages": {k: stats(v) for k, v in stage.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--speed", type=float, default=5.0)
    args = ap.parse_args()
    print(json.dumps(trio.run(run, args), indent=2))


if __name__ == "__main__":
    main()
