"""Ed25519 API keys on Binance, on virtual time against the real simulated venue in memory:
REST signed with base64 Ed25519 signatures, the order socket logged on once
(``session.logon``) and its requests unsigned after that; a key the venue does not know is
refused at logon, and orders then go over REST (refused the same way)."""

from __future__ import annotations

import orjson
import pytest
import trio
import trio.testing

from mmtrio.core.commands import AmendOrder, CancelOrder
from mmtrio.core.events import OrderStatus, Side
from mmtrio.errors import VenueError
from tests.integration.test_ws_order_entry_backoff import SYM, in_memory, place
from tests.unit.test_binance_signing import RFC_SEED, ed25519_pem

pytestmark = pytest.mark.integration
KEYS = {"api_key": "ed25519-paper-key", "api_secret": ed25519_pem(RFC_SEED)}


def ws_log(venue: object) -> list[tuple[str, int]]:
    return [(r.path, r.status) for r in venue.request_log if r.method == "WS"]  # type: ignore[attr-defined]


async def test_an_ed25519_key_logs_the_order_socket_on_and_trades_over_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with in_memory(venue_keys=KEYS) as (venue, sess):
        orders = sess.orders
        assert orders is not None and orders.logons == 1
        # After the logon a request names neither the key nor a signature.
        frame = orjson.loads(orders._frame("x", "order.status", [("symbol", SYM)]))
        assert set(frame["params"]) == {"symbol", "recvWindow", "timestamp"}
        gw, inst = sess.gateway, sess.instrument
        ack = await gw.place(place(sess, "ed-a"))
        await gw.amend(AmendOrder("ed-a", SYM, Side.BUY, inst.price_to_ticks("50010"),
                                  inst.qty_to_lots("0.010")))  # fmt: skip
        await gw.cancel(CancelOrder("ed-a", SYM))
        state = await gw.query(SYM, "ed-a")
        assert state is not None and state.status is OrderStatus.CANCELED
        assert state.order_id == ack.order_id
        assert ws_log(venue) == [("session.logon", 200), ("order.place", 200),
                                 ("order.modify", 200), ("order.cancel", 200),
                                 ("order.status", 200)]  # fmt: skip
        # REST signs with the same key (base64 Ed25519, percent-encoded): accepted.
        assert await sess.rest.open_orders(SYM) == []


async def test_a_key_the_venue_does_not_know_is_refused_at_logon(
    autojump_clock: trio.testing.MockClock,
) -> None:
    stranger = {"api_key": KEYS["api_key"], "api_secret": ed25519_pem("11" * 32)}
    async with in_memory(venue_keys=KEYS, client_keys=stranger, connected=False) as (venue, s):
        orders = s.orders
        assert orders is not None
        await trio.sleep(3)  # the socket tries, is refused, backs off and tries again
        assert not orders.connected and orders.logons == 0
        assert ws_log(venue) and all(entry == ("session.logon", 400) for entry in ws_log(venue))
        with pytest.raises(VenueError) as info:  # over REST meanwhile, refused the same way
            await s.gateway.place(place(s, "ed-b"))
        assert info.value.code == "-1022"
        assert venue.account.open_records() == []


async def test_an_hmac_venue_refuses_an_ed25519_logon(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with in_memory(client_keys=KEYS, connected=False) as (venue, s):
        assert s.orders is not None
        await trio.sleep(1)
        assert not s.orders.connected
        assert ws_log(venue)[0] == ("session.logon", 401)
