"""The sim's bookTicker agrees with its depth stream, on every shipped recording.

An independent client (written here from Binance's documentation, not from the sim's code)
opens ``<sym>@depth@0ms`` and ``<sym>@bookTicker`` on one combined stream, fetches the REST
snapshot, and syncs a book by Binance's rule: drop diffs with ``u < lastUpdateId``; the first
applied diff has ``U <= lastUpdateId <= u``; then every ``pu`` equals the previous ``u``. Each
bookTicker carries the ``u`` of the book state it shows, so every ticker received after the
sync must find a diff with that ``u`` and agree with the client's book at that diff: best bid
and ask, price and size. 100 % of them, over a bounded stretch of each recording (a pair is
replayed as one recording, past the midnight boundary).

The client also quotes post-only orders of its own at the touch every 100 diffs (cancelling
the previous round), so the tickers compared include books where our overlay sits at the top
or was just removed; the sim's public book is watched in-process to count those.

Before the fix this test pins (issue 12), each bookTicker carried the ``u`` of the last
published diff while showing a newer book (the issue measured 1,742 of 2,865 matching on
BTCUSDT 2024-08-08). Serving the recording's own tickers under the public ``u`` instead makes
over 98 % of the comparisons here fail.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Ping, Request, TextMessage

from mmtrio.core.events import BookTicker
from mmtrio.sim.venue import SimConfig, SimVenue
from tests.integration.sim_helpers import running_sim, signed

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm"
RECORDINGS: dict[str, tuple[str, ...]] = {
    "btc-2023-pair": ("btcusdt_20230404.dat.gz", "btcusdt_20230405.dat.gz"),
    "btc-2024-pair": ("btcusdt_20240718.gz", "btcusdt_20240719.gz"),
    "btc-20240808": ("btcusdt_20240808.gz",),
    "eth-20240808": ("ethusdt_20240808.gz",),
}
SPEED = 20.0  # × real time: the pairs' first files (100-180 s) replay in 5-9 s
DIFFS_SINGLE = 1_500  # diffs checked on a single file
DIFFS_PAST_BOUNDARY = 300  # diffs checked in the second file of a pair
ORDER_QTY = "0.010"
ROUND_EVERY_DIFFS = 100  # our quotes: cancel the last round, join the touch again
# ... and a round rests at least this long (wall time: the sim replays in real time). A
# client lagging a loaded machine reads its backlog of diffs in a burst; rounds paced by diffs
# alone then replaced each other within milliseconds and the sim published no ticker with
# our order on top (CI under load 11: none).
ROUND_MIN_S = 0.3
OURS_AT_TOP = 20  # tickers with our order on top the client must have compared
MIN_PLACED = 5  # orders of ours the venue must have accepted
_ROUNDS = itertools.count()  # client ids stay unique across quote rounds
Top = tuple[Decimal, Decimal, Decimal, Decimal]  # bid price, bid size, ask price, ask size


def test_every_shipped_recording_is_covered() -> None:
    shipped = {p.name for p in DATA.glob("*.gz")}
    covered = {name for files in RECORDINGS.values() for name in files}
    assert shipped == covered, "a recording in data/binance-usdm/ is not checked here"


def first_depth_id(path: Path) -> int:
    """``U`` of the first depth diff in a file (the second file of a pair starts there)."""
    with gzip.open(path, "rb") as fh:
        for line in fh:
            if b"@depth" in line:
                data: dict[str, Any] = json.loads(line.partition(b" ")[2])["data"]
                return int(data["U"])
    raise AssertionError(f"{path}: no depth diff")


def _apply(book: dict[Decimal, Decimal], levels: list[list[str]]) -> None:
    for p, q in levels:
        if Decimal(q) == 0:
            book.pop(Decimal(p), None)
        else:
            book[Decimal(p)] = Decimal(q)


@dataclass
class Client:
    """A Binance-rule book plus the ticker comparisons."""

    bids: dict[Decimal, Decimal]
    asks: dict[Decimal, Decimal]
    last_update_id: int
    prev_u: int | None = None
    first_u: int | None = None
    diffs: int = 0
    diffs_past: int = 0  # diffs with U at or past the second file's first diff
    state: dict[int, Top] = field(default_factory=dict)  # u -> the book's top at that diff
    pending: list[dict[str, Any]] = field(default_factory=list)  # tickers ahead of the book
    compared: list[tuple[int, bool]] = field(default_factory=list)  # (u, matched)
    mismatches: list[str] = field(default_factory=list)

    def top(self) -> Top:
        b, a = max(self.bids), min(self.asks)
        return b, self.bids[b], a, self.asks[a]

    def on_diff(self, d: dict[str, Any], boundary: int | None) -> None:
        if d["u"] < self.last_update_id:
            return  # already in the snapshot
        if self.prev_u is None:
            assert d["U"] <= self.last_update_id <= d["u"], (
                f"first diff U={d['U']} u={d['u']} does not bridge lastUpdateId "
                f"{self.last_update_id}"
            )
            self.first_u = d["u"]
        else:
            assert d["pu"] == self.prev_u, f"sequence gap: pu={d['pu']} after u={self.prev_u}"
        _apply(self.bids, d["b"])
        _apply(self.asks, d["a"])
        self.prev_u = d["u"]
        self.diffs += 1
        if boundary is not None and d["U"] >= boundary:
            self.diffs_past += 1
        self.state[d["u"]] = self.top()
        waiting, self.pending = self.pending, []
        for t in waiting:
            self.on_ticker(t)

    def on_ticker(self, t: dict[str, Any]) -> None:
        if self.first_u is None or t["u"] < self.first_u:
            return  # shown before our book was synced: nothing to compare with
        if self.prev_u is None or t["u"] > self.prev_u:
            self.pending.append(t)  # its diff has not reached us yet
            return
        expected = self.state.get(t["u"])
        shown = (Decimal(t["b"]), Decimal(t["B"]), Decimal(t["a"]), Decimal(t["A"]))
        if expected is None:
            self.mismatches.append(f"bookTicker u={t['u']} names no diff's u")
            self.compared.append((t["u"], False))
        elif shown != expected:
            self.mismatches.append(f"bookTicker u={t['u']} shows {shown}, book has {expected}")
            self.compared.append((t["u"], False))
        else:
            self.compared.append((t["u"], True))


def watch_overlay_at_top(venue: SimVenue) -> set[int]:
    """Seqs of the tickers the sim published while one of our orders was at the top."""
    book = venue.book
    original = book.ticker
    seqs: set[int] = set()

    def ticker(ts: int) -> BookTicker | None:
        t = original(ts)
        if t is not None and (
            book.our_bids.get(t.bid_price, 0) > 0 or book.our_asks.get(t.ask_price, 0) > 0
        ):
            seqs.add(t.seq)
        return t

    book.ticker = ticker  # type: ignore[method-assign]
    return seqs


async def quote_round(
    http: httpx.AsyncClient, rest: str, symbol: str, previous: list[str]
) -> list[str]:
    """Cancel ``previous``; join both sides of the venue's current touch, post-only.

    The touch is read from REST (depth, limit 5), not from the client's book, which lags
    the replay. Returns the client ids accepted (a post-only order the market crossed in
    between is refused with -5022, and a cancelled order may have filled first: -2011).
    """
    for cid in previous:
        r = await signed(
            http, "DELETE", f"{rest}/fapi/v1/order", {"symbol": symbol, "origClientOrderId": cid}
        )
        assert r.status_code == 200 or r.json()["code"] == -2011, r.text
    book = (await http.get(f"{rest}/fapi/v1/depth", params={"symbol": symbol, "limit": 5})).json()
    accepted: list[str] = []
    for side, levels in (("BUY", book["bids"]), ("SELL", book["asks"])):
        # a round counter too: a client lagging the replay can meet the same lastUpdateId in
        # two rounds (the venue published no diff meanwhile), and a reused id is -4116
        cid = f"consistency-{book['lastUpdateId']}-{side}-{next(_ROUNDS)}"
        params = {
            "symbol": symbol,
            "side": side,
            "type": "LIMIT",
            "timeInForce": "GTX",
            "quantity": ORDER_QTY,
            "price": levels[0][0],
            "newClientOrderId": cid,
        }
        r = await signed(http, "POST", f"{rest}/fapi/v1/order", params)
        if r.status_code == 200:
            accepted.append(cid)
        else:
            assert r.json()["code"] == -5022, r.text
    return accepted


class StreamReader:
    """A websocket client that drains everything the socket holds at each read.

    Sim and client share one trio thread here; a client that took one message per
    scheduling round would fall behind a fast replay and be dropped as too slow (the sim
    behaving like Binance, not what this test is about).
    """

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.parts: list[str] = []
        self.ready: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, ws_url: str, target: str) -> StreamReader:
        host, port = ws_url.removeprefix("ws://").split(":")
        reader = cls(await trio.open_tcp_stream(host, int(port)))
        await reader.stream.send_all(reader.ws.send(Request(host=host, target=target)))
        while not await reader._read(accept=True):
            pass
        return reader

    async def _read(self, *, accept: bool = False) -> bool:
        data = await self.stream.receive_some(1 << 20)
        if not data:
            raise AssertionError("the sim closed the market stream")
        self.ws.receive_data(data)
        accepted = False
        for event in self.ws.events():
            if isinstance(event, AcceptConnection):
                accepted = True
            elif isinstance(event, TextMessage):
                self.parts.append(event.data)
                if event.message_finished:
                    self.ready.append(json.loads("".join(self.parts)))
                    self.parts = []
            elif isinstance(event, Ping):
                await self.stream.send_all(self.ws.send(event.response()))
            else:
                raise AssertionError(f"unexpected websocket event {event!r}")
        return accepted or not accept

    async def messages(self) -> list[dict[str, Any]]:
        """Every complete message received so far (waits for at least one)."""
        while not self.ready:
            await self._read()
        out, self.ready = self.ready, []
        return out


async def check_recording(files: Sequence[Path]) -> None:
    paths = list(files)
    boundary = first_depth_id(paths[1]) if len(paths) > 1 else None
    async with (
        running_sim(SimConfig(speed=SPEED, stream_queue=1_000_000), data=paths) as (venue, urls),
        httpx.AsyncClient() as http,
    ):
        symbol, sym = venue.symbol, venue.symbol.lower()
        at_top = watch_overlay_at_top(venue)
        ws = await StreamReader.open(urls.ws, f"/stream?streams={sym}@depth@0ms/{sym}@bookTicker")
        buffered: list[dict[str, Any]] = []
        with trio.fail_after(10):  # the stream flows before the snapshot is taken
            while not any(m["stream"].endswith("@depth@0ms") for m in buffered):
                buffered += await ws.messages()
        snap = (
            await http.get(f"{urls.rest}/fapi/v1/depth", params={"symbol": symbol, "limit": 1000})
        ).json()
        client = Client(
            bids={Decimal(p): Decimal(q) for p, q in snap["bids"]},
            asks={Decimal(p): Decimal(q) for p, q in snap["asks"]},
            last_update_id=snap["lastUpdateId"],
        )
        placed: list[str] = []  # every order of ours the venue accepted
        last_round: list[str] = []
        round_at, round_diffs = -ROUND_MIN_S, 0
        ours = [0, 0]  # tickers with our order on top compared so far, compared entries seen

        def done() -> bool:
            # Our orders go in at the venue's present; a client lagging a loaded machine
            # compares tickers from seconds before. It reads on until it has reached (and
            # compared) enough of those with our order on top: counting diffs alone, it
            # stopped before its backlog got there (CI under load: 852 such tickers
            # published, all past the last one compared).
            for u, _ in client.compared[ours[1] :]:
                ours[0] += u in at_top
            ours[1] = len(client.compared)
            if ours[0] < OURS_AT_TOP or len(placed) < MIN_PLACED:
                return False
            if boundary is not None:
                return client.diffs_past >= DIFFS_PAST_BOUNDARY
            return client.diffs >= DIFFS_SINGLE

        with trio.fail_after(120):
            while not done():
                batch, buffered = buffered or await ws.messages(), []
                for msg in batch:
                    if msg["stream"].endswith("@bookTicker"):
                        client.on_ticker(msg["data"])
                        continue
                    before = client.diffs
                    client.on_diff(msg["data"], boundary)
                    due = client.diffs - round_diffs >= ROUND_EVERY_DIFFS
                    rested = trio.current_time() - round_at >= ROUND_MIN_S
                    if client.diffs != before and due and rested:
                        last_round = await quote_round(http, urls.rest, symbol, last_round)
                        placed += last_round
                        round_diffs, round_at = client.diffs, trio.current_time()
        await ws.stream.aclose()
    matched = sum(ok for _, ok in client.compared)
    assert client.mismatches == [], (
        f"{len(client.mismatches)} of {len(client.compared)} bookTickers disagree with the "
        f"depth-synced book; first: {client.mismatches[:3]}"
    )
    assert matched == len(client.compared) >= 500
    # On one connection a ticker never arrives before the diff whose ``u`` it names.
    assert client.pending == []
    assert len(placed) >= MIN_PLACED, f"only {len(placed)} of our orders were accepted"
    # How many tickers meet our order at the top depends on how fast this process runs next
    # to the real-time replay (80 on a loaded 2-core machine, 300+ idle): the bar only says
    # the overlay was exercised many times, with room for a slow machine.
    ours_compared = sum(1 for u, _ in client.compared if u in at_top)
    assert ours_compared >= OURS_AT_TOP, f"only {ours_compared} compared with our order on top"


@pytest.mark.parametrize("name", list(RECORDINGS))
async def test_book_ticker_matches_the_depth_synced_book(name: str) -> None:
    await check_recording([DATA / f for f in RECORDINGS[name]])
