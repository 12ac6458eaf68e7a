"""What Hyperliquid's websocket streams share: subscribe frames and the JSON ping.

Hyperliquid's websocket (``/ws``) multiplexes everything on one connection: ``{"method":
"subscribe", "subscription": {...}}`` is confirmed on channel ``subscriptionResponse`` and
then delivers ``{"channel": <type>, "data": ...}``; ``{"method": "post", "id", "request"}``
answers on channel ``post``; the server closes a connection that sent nothing for 60 s, and
its keep-alive is the JSON ``{"method": "ping"}``, answered ``{"channel": "pong"}`` (the
TypeScript SDK pings every 30 s and reconnects after 10 s without a pong; so do we).
"""

from __future__ import annotations

import abc
from typing import Any

import trio
from trio_websocket import WebSocketConnection

from mmtrio.venues.hyperliquid.codec import dumps
from mmtrio.venues.wsconn import WsConnection

PING = dumps({"method": "ping"}).decode()


def subscribe_frame(subscription: dict[str, Any], method: str = "subscribe") -> str:
    return dumps({"method": method, "subscription": subscription}).decode()


class HyperliquidWs(WsConnection, abc.ABC):
    """A WsConnection with Hyperliquid's JSON ping (the reader calls :meth:`_pong`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pong_event = trio.Event()
        self.pongs = 0

    def _pong(self) -> None:
        self.pongs += 1
        self._pong_event.set()

    async def _pinger(self, ws: WebSocketConnection, scope: trio.CancelScope) -> None:
        while True:
            deadline, reason = await self._next_ping()
            self._pong_event = trio.Event()
            await ws.send_message(PING)
            with trio.move_on_after(deadline) as cs:
                await self._pong_event.wait()
            if cs.cancelled_caught:
                self._end_reason = reason
                scope.cancel()
                return
