"""`mmtrio status` lists the order-entry socket with the market and user streams (JSON
``feeds.orders``; ``--text`` names every socket that is down), counted as the screen and the
metrics count it (ws="orders"), so the three never disagree."""

from __future__ import annotations

from mmtrio.core.instruments import BTCUSDT
from mmtrio.runtime.inbox import LaneStats
from mmtrio.runtime.screen_view import Connection, SnapshotBuilder
from mmtrio.runtime.status import StatusSources, build_snapshot, status_line
from mmtrio.runtime.status_doc import strategy_doc
from mmtrio.venues.protocol import SocketHealth
from tests.unit.test_strategy import quoting_session


def _sources() -> StatusSources:
    src = StatusSources(symbol="BTCUSDT", clock_ms=lambda: 0, instrument=BTCUSDT)
    src.market = LaneStats(connected=True, received=40)
    src.user = LaneStats(connected=True, received=7)
    return src


def test_the_order_socket_is_in_the_status_feeds_with_the_screens_counts() -> None:
    health = [SocketHealth(True, 1, 3)]
    src = _sources()
    screen = SnapshotBuilder(src)

    def both() -> tuple[object, Connection | None]:
        view = screen.build()
        assert view is not None
        shown = next((c for c in view.connections if c.name == "orders"), None)
        return build_snapshot(src)["feeds"]["orders"], shown

    assert both() == (None, None)  # a session without an order socket
    src.orders = lambda: health[0]
    assert build_snapshot(src)["feeds"] == {
        "market": src.market.to_json() if src.market else None,
        "user": src.user.to_json() if src.user else None,
        "orders": {"connected": True, "reconnects": 0, "requests": 3},
    }
    health[0] = SocketHealth(True, 2, 5)  # back after a drop
    assert both() == (
        {"connected": True, "reconnects": 1, "requests": 5},
        Connection("orders", True, 1, 5),
    )
    # The next session's socket object counts from zero: carried on in both, whichever
    # reads first (one count, shared), never backwards.
    health[0] = SocketHealth(False, 1, 2)
    assert build_snapshot(src)["feeds"]["orders"] == {
        "connected": False,
        "reconnects": 2,
        "requests": 7,
    }
    assert both() == (
        {"connected": False, "reconnects": 2, "requests": 7},
        Connection("orders", False, 2, 7),
    )


def test_status_text_names_the_sockets_that_are_down() -> None:
    doc = strategy_doc(quoting_session()[0].mm.status(0), BTCUSDT)
    src = _sources()
    health = [SocketHealth(True, 1, 0)]
    src.orders = lambda: health[0]
    snap = {**build_snapshot(src), "strategy": doc}
    assert "ws DOWN" not in status_line(snap)
    health[0] = SocketHealth(False, 1, 0)
    snap = {**build_snapshot(src), "strategy": doc}
    assert "| ws DOWN: orders" in status_line(snap)
    assert src.market is not None
    src.market.connected = False
    snap = {**build_snapshot(src), "strategy": doc}
    assert "| ws DOWN: market,orders" in status_line(snap)
    # a snapshot without feeds (a bot of an older version) is read as before
    del snap["feeds"]
    assert "ws DOWN" not in status_line(snap)
