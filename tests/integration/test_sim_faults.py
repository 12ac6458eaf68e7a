"""Every fault kind, injected through the admin port, and its observable effect."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from tests.integration.sim_helpers import KEY, ORDER, running_sim, signed, signed_query

pytestmark = pytest.mark.integration


async def fault(http: httpx.AsyncClient, admin: str, kind: str, **params: object) -> None:
    r = await http.post(f"{admin}/admin/fault", json={"kind": kind, **params})
    assert r.status_code == 200, r.text


async def _depth_ids(ws: WebSocketConnection, n: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    with trio.fail_after(10):
        while len(out) < n:
            d = json.loads(await ws.get_message())["data"]
            out.append((d["pu"], d["u"]))
    return out


@pytest.mark.parametrize("kind", ["depth_skip", "depth_duplicate", "depth_reorder"])
async def test_depth_faults_break_the_sequence(kind: str) -> None:
    async with running_sim() as (venue, urls), httpx.AsyncClient() as http:
        async with open_websocket_url(f"{urls.ws}/stream?streams=btcusdt@depth@0ms") as ws:
            ids = await _depth_ids(ws, 2)
            await fault(http, urls.admin, kind, count=1)
            breaks: list[int] = []
            while not breaks and len(ids) < 2000:  # diffs queued before the fault come first
                ids += await _depth_ids(ws, 1)
                breaks = [i for i in range(len(ids) - 1, len(ids)) if ids[i][0] != ids[i - 1][1]]
            if kind != "depth_skip":
                ids += await _depth_ids(ws, 3)
            assert breaks, f"{kind} left the pu chain intact over {len(ids)} diffs"
            if kind == "depth_duplicate":
                assert any(ids[i] == ids[i - 1] for i in range(1, len(ids)))
        assert venue.ground_truth()["faults"][0]["kind"] == kind


async def test_user_stream_duplicate_and_reorder_trade_before_new() -> None:
    async with running_sim() as (venue, urls), httpx.AsyncClient() as http:
        key = (
            await http.post(f"{urls.rest}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": KEY})
        ).json()["listenKey"]
        async with open_websocket_url(f"{urls.ws}/private/ws?listenKey={key}") as ws:
            await fault(http, urls.admin, "user_reorder", count=1)
            await fault(http, urls.admin, "user_duplicate", count=1)
            best_ask = venue.book.best()[1]
            assert best_ask is not None
            ask = best_ask[0]
            r = await signed(
                http,
                "POST",
                f"{urls.rest}/fapi/v1/order",
                {**ORDER, "timeInForce": "GTC", "price": venue.instrument.price_str(ask + 50)},
            )
            assert r.status_code == 200, r.text
            events: list[dict[str, Any]] = []
            with trio.fail_after(5):
                while len(events) < 4:
                    events.append(json.loads(await ws.get_message()))
            kinds = [e["o"]["x"] if e["e"] == "ORDER_TRADE_UPDATE" else e["e"] for e in events]
            # a fill (TRADE_LITE leads a fill's events, as on Binance) arrives before its NEW
            assert kinds[0] in ("TRADE", "TRADE_LITE"), kinds
            assert "NEW" in kinds
            texts = [json.dumps(e, sort_keys=True) for e in events]
            assert len(set(texts)) < len(texts)  # one event was sent twice


async def test_ws_close_stall_no_pong_and_listen_key_expiry() -> None:
    async with running_sim() as (venue, urls), httpx.AsyncClient() as http:
        async with open_websocket_url(f"{urls.ws}/ws/btcusdt@depth") as ws:
            await ws.get_message()
            await fault(http, urls.admin, "ws_stall", target="market", seconds=0.5)
            # drain what was queued before the stall, then measure the silence
            await fault(http, urls.admin, "ws_close", target="market")
            with pytest.raises(ConnectionClosed), trio.fail_after(5):
                while True:
                    await ws.get_message()
        await fault(http, urls.admin, "ws_no_pong", on=True)
        assert venue.faults.no_pong
        async with open_websocket_url(f"{urls.ws}/ws/btcusdt@trade") as ws:
            with trio.move_on_after(1.0) as scope:
                await ws.ping(b"x")
            assert scope.cancelled_caught  # the server no longer answers pings
        await fault(http, urls.admin, "ws_no_pong", on=False)
        key = (
            await http.post(f"{urls.rest}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": KEY})
        ).json()["listenKey"]
        async with open_websocket_url(f"{urls.ws}/private/ws?listenKey={key}") as ws:
            await fault(http, urls.admin, "user_session_expire")
            msg = json.loads(await ws.get_message())
            assert msg["e"] == "listenKeyExpired"
        r = await http.put(f"{urls.rest}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": KEY})
        assert r.json()["code"] == -1125


async def test_server_disconnects_client_that_never_pongs() -> None:
    from mmtrio.sim.venue import SimConfig

    async with running_sim(SimConfig(speed=5.0, ping_interval_s=0.1, pong_timeout_s=0.2)) as (
        _,
        urls,
    ):
        # trio-websocket answers pings by itself, so speak raw wsproto and never pong
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import CloseConnection, Request

        host, port = urls.ws.removeprefix("ws://").split(":")
        stream = await trio.open_tcp_stream(host, int(port))
        ws = WSConnection(ConnectionType.CLIENT)
        await stream.send_all(ws.send(Request(host=host, target="/ws/btcusdt@trade")))
        closed = False
        with trio.fail_after(5):
            while not closed:
                data = await stream.receive_some(65536)
                if not data:
                    break
                ws.receive_data(data)
                closed = any(isinstance(e, CloseConnection) for e in ws.events())
        assert closed or not data
        await stream.aclose()


async def test_a_held_429_whose_client_gave_up_is_not_a_reason_to_ban() -> None:
    # Chaos seed 40010 on Extended (2026-12-04): a latency fault held a 429 1.16 s, past the
    # bot's 1 s request timeout; the bot closed that connection, never read the 429, sent its
    # next read 0.8 s after the answer had left for nobody, and drew a 418. Real sockets
    # (hypercorn on loopback): the client's timeout is a closed connection, as in production.
    async with running_sim() as (venue, urls), httpx.AsyncClient(base_url=urls.rest) as http:
        await fault(http, urls.admin, "delay", ms=800, count=1)
        await fault(http, urls.admin, "http_429", count=1, retry_after=5)
        sent = trio.current_time()
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/fapi/v1/time", timeout=0.3)  # its 429 is held 0.8 s
        await trio.sleep_until(sent + 1.4)  # 0.6 s after that 429 left for nobody
        r = await http.get("/fapi/v1/time")
        assert r.status_code == 429, r.text  # still backing off, but no ban: it never knew
        await trio.sleep(venue.limiter.config.inflight_grace_s + 0.2)
        r = await http.get("/fapi/v1/time")
        assert r.status_code == 418  # this one it read, and it went on anyway
        assert [e["status"] for e in venue.ground_truth()["rate_limits"]["events"]] == [
            429,
            429,
            418,
        ]


async def test_rest_faults_delay_429_error_code_clock_skew() -> None:
    async with running_sim() as (venue, urls), httpx.AsyncClient(base_url=urls.rest) as http:
        await fault(http, urls.admin, "error_code", code=-1001, status=503, count=1)
        r = await http.get("/fapi/v1/time")
        assert (r.status_code, r.json()["code"]) == (503, -1001)
        # The in-flight grace is real server time: widened while the second request goes out
        # (a loaded machine took longer than the default 0.25 s between the two: 418 there),
        # then narrowed so that the third arrives after it without a long sleep.
        venue.limiter.config.inflight_grace_s = 30.0
        await fault(http, urls.admin, "http_429", count=1, retry_after=1)
        r = await http.get("/fapi/v1/time")
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        r = await http.get("/fapi/v1/time")
        assert r.status_code == 429  # within the in-flight grace: answered 429, not banned
        venue.limiter.config.inflight_grace_s = 0.05
        await trio.sleep(0.1)  # past the grace, on the server's real clock
        r = await http.get("/fapi/v1/time")
        assert r.status_code == 418  # it did not back off
        venue.limiter.banned_until = 0.0  # lift the ban for the rest of the test
        venue.limiter.backoff_until = 0.0
        await fault(http, urls.admin, "clock_skew", ms=-30_000)
        server = (await http.get("/fapi/v1/time")).json()["serverTime"]
        assert server < time.time() * 1000 - 25_000
        # the ground truth keeps the machine's clock: a 429 under the skew is timed unskewed
        await fault(http, urls.admin, "http_429", count=1, retry_after=2)
        before = time.time() * 1000
        assert (await http.get("/fapi/v1/time")).status_code == 429
        truth = venue.ground_truth()
        event = truth["rate_limits"]["events"][-1]
        assert event["retry_after_s"] == 2 and before - 1 <= event["wall_ms"] <= truth["wall_ms"]
        venue.limiter.backoff_until = 0.0
        await fault(http, urls.admin, "clock_skew", ms=0)
        await fault(http, urls.admin, "delay", ms=300, count=1)
        t0, before = trio.current_time(), time.time() * 1000
        await http.get("/fapi/v1/time")
        assert trio.current_time() - t0 >= 0.3  # the injected delay happened (lower bound only)
        ((lo, hi),) = venue.ground_truth()["held_responses"]  # and the truth says when
        assert hi - lo == 300 and before - 1 <= lo <= time.time() * 1000


async def test_order_5xx_and_drop_after_accept_and_venue_cancel_expire() -> None:
    async with running_sim() as (venue, urls), httpx.AsyncClient() as http:
        await fault(http, urls.admin, "order_5xx", count=1)
        r = await signed(
            http, "POST", f"{urls.rest}/fapi/v1/order", {**ORDER, "newClientOrderId": "u-1"}
        )
        assert r.status_code == 503
        assert venue.engine.get("u-1") is not None  # accepted although the answer was a 5xx
        await fault(http, urls.admin, "order_drop", count=1)
        q = signed_query({**ORDER, "newClientOrderId": "u-2"})
        with pytest.raises(httpx.ReadTimeout):
            await http.post(
                f"{urls.rest}/fapi/v1/order?{q}", headers={"X-MBX-APIKEY": KEY}, timeout=0.5
            )
        assert venue.engine.get("u-2") is not None
        await fault(http, urls.admin, "venue_cancel", client_id="u-1")
        await fault(http, urls.admin, "venue_expire", client_id="u-2")
        r = await signed(
            http,
            "GET",
            f"{urls.rest}/fapi/v1/order",
            {"symbol": "BTCUSDT", "origClientOrderId": "u-1"},
        )
        assert r.json()["status"] == "CANCELED"
        r = await signed(
            http,
            "GET",
            f"{urls.rest}/fapi/v1/order",
            {"symbol": "BTCUSDT", "origClientOrderId": "u-2"},
        )
        assert r.json()["status"] == "EXPIRED"
        kinds = [f["kind"] for f in (await http.get(f"{urls.admin}/admin/state")).json()["faults"]]
        assert kinds == ["order_5xx", "order_drop", "venue_cancel", "venue_expire"]
