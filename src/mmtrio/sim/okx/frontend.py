"""The OKX front end: the shared engine's happenings in OKX v5's protocol.

Serves ``/api/v5`` REST (:mod:`.rest`: public data, account, order operations; signing with
the passphrase in :mod:`.auth`; OKX's per-endpoint limits in :mod:`.limits`) and the
``/ws/v5/public`` and ``/ws/v5/private`` WebSockets (:mod:`.ws`: login, channels, order ops)
over the shared server (public channels: :mod:`.streams` for ``books`` deltas, trades, mark
price and funding, :mod:`.quotes` for ``books5``, ``bbo-tbt`` and ``tickers``; the trades
OKX prints, ours included, feed :mod:`.market`'s ticker, trades and candles). The
recording's instrument is shown as an OKX USDT swap (:mod:`.data`: ``BTCUSDT`` →
``BTC-USDT-SWAP``, sizes in contracts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import trio

from mmtrio.core.events import BookDelta, Fill, OrderUpdate, Trade
from mmtrio.errors import ConfigError
from mmtrio.sim.frontend import AccountCause, AsgiApp, FrontEndFactory
from mmtrio.sim.okx.auth import OkxCredentials
from mmtrio.sim.okx.data import okx_instrument
from mmtrio.sim.okx.limits import OkxLimiter
from mmtrio.sim.okx.rest import RestApp
from mmtrio.sim.okx.streams import OkxStreams
from mmtrio.sim.okx.trade import Trading
from mmtrio.sim.okx.wire import OkxError
from mmtrio.sim.okx.ws import OkxWs
from mmtrio.sim.wsserve import serve_ws_connection

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

# A paper venue: fixed, public test credentials by default (printed by `mmtrio sim --json`).
DEFAULT_CREDENTIALS = OkxCredentials(
    api_key="mmtrio-okx-sim-key",
    api_secret="mmtrio-okx-sim-secret-not-a-real-secret",
    passphrase="mmtrio-okx-sim-passphrase",
)


class OkxFrontEnd:
    """:class:`~mmtrio.sim.frontend.FrontEnd` for OKX USDT perpetual swaps."""

    name = "okx"

    def __init__(self, venue: SimVenue, credentials: OkxCredentials = DEFAULT_CREDENTIALS) -> None:
        self.venue = venue
        self.credentials = credentials
        self.inst = okx_instrument(venue.instrument)
        self.symbol = self.inst.symbol
        self.streams = OkxStreams(venue, self.inst)
        self.limiter = OkxLimiter(venue.limiter)
        self.trading = Trading(self)
        self.ws = OkxWs(self)
        self.rest = RestApp(self)
        venue.attach(self)

    # --- engine -> front end ------------------------------------------------------------
    def on_book(self, delta: BookDelta) -> None:
        self.streams.on_book(delta)

    def on_trade(self, trade: Trade) -> None:
        self.streams.on_trade(trade)

    def on_ticker(self) -> None:
        pass  # bbo-tbt and tickers follow the public book's changes (quotes.py, on_book)

    def on_mark(self) -> None:
        self.streams.on_mark()

    def on_order(self, update: OrderUpdate, realized: Decimal) -> None:
        self.streams.on_order(update, realized)

    def on_account(self, cause: AccountCause, balance_change: Decimal) -> None:
        self.streams.on_account(cause, balance_change)

    def end_user_session(self, reason: str) -> None:
        # OKX has no session key to expire: the private connections are closed (a client
        # reconnects and logs in again).
        self.venue.hub.close_user_streams(reason)

    # --- serving ---------------------------------------------------------------------------
    @property
    def rest_app(self) -> AsgiApp:
        return self.rest

    async def serve_ws(self, stream: trio.abc.Stream) -> None:
        await serve_ws_connection(self.venue, self.ws, stream)

    async def run(self) -> None:
        await trio.sleep_forever()  # no timers of its own

    def client_trade_id(self, fill: Fill) -> int:
        return fill.trade_id  # tradeId (and billId) on OKX's wire are the engine's ids

    def admin_order(self, params: dict[str, Any]) -> Any:
        """An order as ``POST /api/v5/trade/order`` takes it (no signature, no limits)."""
        (answer,) = self.trading.run("order", dict(params))
        if answer["sCode"] != "0":
            raise OkxError(answer["sCode"], answer["sMsg"], status=400)
        return answer

    def client_urls(self, rest: str, ws: str) -> dict[str, str]:
        return {
            "rest": rest,
            "market_ws": f"{ws.rstrip('/')}/ws/v5/public",
            "private_ws": f"{ws.rstrip('/')}/ws/v5/private",
        }

    def client_credentials(self) -> dict[str, str]:
        c = self.credentials
        return {"api_key": c.api_key, "api_secret": c.api_secret, "passphrase": c.passphrase}


@dataclass(frozen=True, slots=True)
class OkxFactory:
    """Registered in :mod:`mmtrio.sim.frontends` as ``okx``."""

    name: str = "okx"
    credential_fields: tuple[str, ...] = ("api_key", "api_secret", "passphrase")

    def data_symbol(self, symbol: str) -> str:
        """``BTC-USDT-SWAP`` → ``BTCUSDT`` (:mod:`.data`); a name without dashes is taken as
        the recording's own (``mmtrio sim --venue okx --symbol BTCUSDT``)."""
        parts = symbol.split("-")
        if len(parts) == 3 and parts[2] == "SWAP":
            return f"{parts[0]}{parts[1]}"
        return symbol

    def create(self, venue: SimVenue, credentials: Mapping[str, str] | None = None) -> OkxFrontEnd:
        given = dict(credentials or {})
        unknown = sorted(set(given) - set(self.credential_fields))
        if unknown:
            raise ConfigError(
                f"the okx sim takes credentials {', '.join(self.credential_fields)}; "
                f"got {', '.join(unknown)}"
            )
        creds = OkxCredentials(
            api_key=given.get("api_key", DEFAULT_CREDENTIALS.api_key),
            api_secret=given.get("api_secret", DEFAULT_CREDENTIALS.api_secret),
            passphrase=given.get("passphrase", DEFAULT_CREDENTIALS.passphrase),
        )
        return OkxFrontEnd(venue, creds)


FRONT_END = OkxFactory()
_SEAM: FrontEndFactory = FRONT_END  # mypy checks the factory against the seam
