"""What every OKX WebSocket connection shares: the text keep-alive and the login.

**Keep-alive.** OKX closes a connection that carries no data for 30 s and documents its own
keep-alive: the client sends the text ``ping`` and OKX answers the text ``pong`` (docs
"WebSocket — Connect"). A quiet private connection (no order for minutes) would otherwise be
cut, so every OKX connection sends ``ping`` every ``ping_interval_s`` (20 s) and reconnects
when no ``pong`` comes within ``pong_timeout_s`` — instead of the protocol-level ping the
shared :class:`~mmtrio.venues.wsconn.WsConnection` sends, which OKX does not document.

**Login** (private connections): ``{"op": "login", "args": [signer.login_args(t)]}`` with
``t`` the venue time in seconds; OKX answers ``{"event": "login", "code": "0"}`` or
``{"event": "error", "code": "600xx"}``. A refused login (bad key, sign or passphrase) is an
:class:`~mmtrio.errors.AuthError` that ends the stream's loop with the fix named: no
reconnect can cure it, and retrying a wrong passphrase forever would hide the problem.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import orjson
import trio
from trio_websocket import WebSocketConnection

from mmtrio.errors import AuthError, ConnectionFailed, ProtocolError
from mmtrio.venues.okx.codec import PONG, OkxDecoder, Record, WsEvent
from mmtrio.venues.okx.errors import classify
from mmtrio.venues.okx.signing import Signer
from mmtrio.venues.wsconn import Connect, WsConnection, open_socket

LOGIN_TIMEOUT_S = 10.0


class OkxWs(WsConnection):
    """A reconnecting OKX connection: text keep-alive, optional login, fatal auth errors."""

    def __init__(
        self,
        url: str,
        decoder: OkxDecoder,
        *,
        clock_ms: Callable[[], int],
        venue_ms: Callable[[], int] | None = None,
        signer: Signer | None = None,
        mode: str = "live",
        rng: random.Random | None = None,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        ping_interval_s: float = 20.0,
        pong_timeout_s: float = 10.0,
        max_connection_age_s: float = 23.5 * 3600,
        connect_timeout_s: float = 10.0,
        connect: Connect = open_socket,
        market_silence_s: float | None = None,
    ) -> None:
        super().__init__(
            rng=rng,
            clock_ms=clock_ms,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            ping_interval_s=ping_interval_s,
            pong_timeout_s=pong_timeout_s,
            max_connection_age_s=max_connection_age_s,
            connect_timeout_s=connect_timeout_s,
            connect=connect,
            market_silence_s=market_silence_s,
        )
        self._ws_url = url
        self.decoder = decoder
        self._signer = signer
        self._mode = mode
        self._venue_ms = venue_ms if venue_ms is not None else clock_ms
        self._pong = trio.Event()
        self._fatal: AuthError | None = None
        self.logins = 0

    async def _url(self) -> str:
        return self._ws_url

    async def _loop(self) -> None:
        while True:
            reason = await self._connect_once()
            if self._fatal is not None:
                raise self._fatal
            await self._report(False, reason)
            await trio.sleep(self._retry_delay())

    async def _pinger(self, ws: WebSocketConnection, scope: trio.CancelScope) -> None:
        while True:
            deadline, reason = await self._next_ping()
            self._pong = trio.Event()
            await ws.send_message("ping")
            with trio.move_on_after(deadline):
                await self._pong.wait()
            if not self._pong.is_set():
                self._end_reason = reason
                scope.cancel()
                return

    def _decode(self, msg: str | bytes) -> list[Record]:
        try:
            records = self.decoder.decode(msg)
        except ProtocolError as exc:
            self._count_protocol_error(exc)
            return []
        if records and records[0] is PONG:
            self._pong.set()
        return records

    async def _send(self, ws: WebSocketConnection, obj: object) -> None:
        await ws.send_message(orjson.dumps(obj).decode())

    async def _login(self, ws: WebSocketConnection) -> None:
        """Log in on ``ws``; AuthError (fatal) if refused, ConnectionFailed if unanswered."""
        if self._signer is None:
            raise ConnectionFailed("a private OKX connection needs credentials")
        await self._send(
            ws, {"op": "login", "args": [self._signer.login_args(self._venue_ms() // 1000)]}
        )
        with trio.move_on_after(LOGIN_TIMEOUT_S):
            while True:
                for rec in self._decode(await ws.get_message()):
                    if not isinstance(rec, WsEvent):
                        continue
                    if rec.event == "login" and rec.code in ("", "0"):
                        self.logins += 1
                        return
                    if rec.event in ("login", "error"):
                        err = classify(
                            0, rec.code or None, rec.msg or "login refused", mode=self._mode
                        )
                        if isinstance(err, AuthError):
                            self._fatal = err
                        raise err
        raise ConnectionFailed(f"no answer to the WebSocket login within {LOGIN_TIMEOUT_S} s")
