"""The metrics an operator's QA pass found missing, from a real bot in-process against the
real simulated venue on loopback (Binance paper: orders over the ws-fapi order socket):
``ws="orders"`` series, rate-limit back-offs (start-up meets two 429s), and the cancel-alls of
a kill and of the stop in ``mmtrio_notices_total{kind="cancel_all"}``.
"""

from __future__ import annotations

import socket
from pathlib import Path

import trio
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mmtrio.config import load_config
from mmtrio.runtime.control import control_request
from tests.integration.paper import PaperEngine, paper_engine
from tests.integration.test_run_engine import (
    quotes_resting,
    run_engine,
    venue_open,
    wait_for,
    write_config,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def scrape(engine: PaperEngine) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The bot's exposition as {(name, its own labels): value} (bot/venue/symbol left out)."""
    metrics = engine.surface.metrics
    assert metrics is not None
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    text = generate_latest(metrics.registry).decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            assert {s.labels.get(k) for k in ("bot", "venue", "symbol")} != {None}
            own = {k: v for k, v in s.labels.items() if k not in ("bot", "venue", "symbol")}
            out[(s.name, tuple(sorted(own.items())))] = s.value
    return out


async def test_order_socket_back_offs_and_cancel_alls_reach_the_metrics(tmp_path: Path) -> None:
    port = free_port()
    cfg_path = write_config(tmp_path)
    text = cfg_path.read_text()
    metrics_off = "[metrics]                    # all restart\nenabled = false "
    assert metrics_off in text
    text = text.replace(metrics_off, metrics_off.replace("false", "true"))
    cfg_path.write_text(text.replace("port = 9464 ", f"port = {port} "))
    config = load_config(cfg_path)
    assert config.metrics.enabled and config.metrics.port == port
    engine = paper_engine(cfg_path, config)
    # The venue's first two REST answers are 429s with a one-second Retry-After.
    engine.sim_venue.inject("http_429", {"count": 2, "retry_after": 1})
    codes: list[int] = []
    sock = config.runtime.control_socket

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 60, "two quotes resting after the start-up back-off")
        got = scrape(engine)
        assert got[("mmtrio_ws_up", (("ws", "orders"),))] == 1.0
        assert got[("mmtrio_ws_up", (("ws", "market"),))] == 1.0
        assert got[("mmtrio_ws_reconnects_total", (("ws", "orders"),))] == 0
        # the quotes went over the socket (REST carries them only while it is down)
        assert got[("mmtrio_ws_messages_total", (("ws", "orders"),))] >= 2
        assert got[("mmtrio_ws_messages_total", (("ws", "market"),))] > 0
        # both 429s met, each a back-off; a second each, one after the other
        assert engine.sim_venue.limiter.count_429 == 2
        assert got[("mmtrio_venue_backoffs_total", (("reason", "venue"),))] == 2
        assert got[("mmtrio_venue_backoffs_total", (("reason", "venue_ban"),))] == 0  # no 418
        assert 1.0 <= got[("mmtrio_venue_backoff_seconds_total", (("reason", "venue"),))] <= 3.0
        assert ("mmtrio_venue_backoffs_total", (("reason", "rate_budget"),)) in got
        assert got[("mmtrio_notices_total", (("kind", "cancel_all"),))] == 0

        answer = await trio.to_thread.run_sync(control_request, sock, {"cmd": "kill"})
        assert answer["ok"] is True
        await wait_for(lambda: venue_open(engine) == [], 10, "the kill to cancel every order")
        got = scrape(engine)
        assert got[("mmtrio_notices_total", (("kind", "cancel_all"),))] == 1  # the halt's
        engine.request_stop("test stop")
    assert codes == [3]  # stopped with the kill switch latched
    got = scrape(engine)
    assert got[("mmtrio_notices_total", (("kind", "cancel_all"),))] == 2  # and the stop's
