"""The neutral interface between the shared engine and a venue's protocol front end.

The engine (:class:`mmtrio.sim.venue.SimVenue`) owns the market, the matching engine, the
public book, the account, the faults and the ground truth. A front end speaks one venue's
protocol on top of it:

- **Engine → front end** (:class:`FrontEnd`'s ``on_*`` methods, called synchronously as
  things happen, in order): the public book delta (the market's own sequence ids kept, our
  orders folded in), a trade, "the market printed a best bid/offer now" (the front end reads
  the public book's ticker, under the ``seq`` of the book it shows), "a mark-price tick" (read
  :meth:`SimVenue.mark_price`, ``index``, ``funding_rate``, ``next_funding_ts``), an order
  update with its realised P&L, an account change (:class:`AccountCause`), and the end of the
  user-stream session (a fault). A front end renders each one in its venue's words and
  publishes it on ``venue.hub`` (it may drop what nobody subscribed to).
- **Front end → engine**: neutral requests (:mod:`mmtrio.sim.requests`: place, amend, cancel,
  cancel-all, query, open orders, fills, the dead-man countdown), which return
  :class:`~mmtrio.sim.account.OrderRecord` or raise
  :class:`~mmtrio.exchange.matching.MatchingReject` (a ``Refusal``, whose ``kind`` is the
  core's ``RejectKind``); the request limiter (:class:`mmtrio.sim.limits.RateLimiter`, which
  raises :class:`~mmtrio.sim.limits.RateLimitHit`); the faults armed on ``venue.faults``.
- **Serving**: ``rest_app`` is an ASGI app (Hypercorn serves it on loopback; an httpx ASGI
  transport can call it in-process), ``serve_ws(stream)`` serves one websocket connection over
  any Trio stream (a TCP socket or an in-memory stream), ``run()`` holds the front end's own
  timers (e.g. a session key's life). Time: ``venue.clock`` (wall) and ``trio.current_time()``
  (timers); randomness: ``venue.rng``. Nothing else.

A front end package lives in ``mmtrio.sim.<venue>`` and registers a :class:`FrontEndFactory`
in :mod:`mmtrio.sim.frontends`. See docs/SIM.md ("How to add a front end").
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import trio

from mmtrio.core.events import BookDelta, Fill, OrderUpdate, Trade

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

# The ASGI interface as its callers (httpx.ASGITransport, hypercorn) type it.
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AccountCause(enum.Enum):
    """Why the account's balance or position changed."""

    FILL = "fill"  # one of our orders traded (balance change 0: fees and P&L ride on the fill)
    FUNDING = "funding"  # funding settled on the position (balance change = the amount)
    # the position changed without a trade of ours (liquidation, ADL, transfer: the
    # position_adjust fault); balance change 0, the position and entry price moved
    ADJUSTMENT = "adjustment"


class FrontEnd(Protocol):
    """One venue's protocol over a :class:`SimVenue` (attached with ``venue.attach``)."""

    name: str
    venue: SimVenue
    symbol: str
    """The instrument's name in this venue's protocol (a pair name, or a coin name on a
    venue that names only the coin): what its clients, and the bot's settings in paper mode,
    call it."""

    # --- engine -> front end ------------------------------------------------------------
    def on_book(self, delta: BookDelta) -> None:
        """The public book changed: ``delta`` holds every changed level (absolute sizes, our
        orders included) with the market's ``seq``/``first_seq`` and ``prev_seq`` = the last
        published ``seq`` (an unbroken chain)."""
        ...

    def on_trade(self, trade: Trade) -> None: ...

    def on_ticker(self) -> None:
        """The market printed its best bid/offer: say the public book's (``venue.book.ticker``)."""
        ...

    def on_mark(self) -> None:
        """A mark-price tick (once a market second)."""
        ...

    def on_order(self, update: OrderUpdate, realized: Decimal) -> None:
        """One order state change of ours. Publish the event(s) your venue sends; the one a
        client books a fill from goes out as ``venue.hub.publish_user(data, fill=True)``
        (the hub keeps the latest for the ``user_replay`` fault)."""
        ...

    def on_account(self, cause: AccountCause, balance_change: Decimal) -> None: ...

    def end_user_session(self, reason: str) -> None:
        """End the private stream's session now (the ``user_session_expire`` fault)."""
        ...

    # --- serving ---------------------------------------------------------------------------
    @property
    def rest_app(self) -> AsgiApp: ...

    async def serve_ws(self, stream: trio.abc.Stream) -> None:
        """Serve one websocket connection (handshake included) until it closes."""
        ...

    async def run(self) -> None:
        """The front end's own timers; runs (cancelled) with the venue's tasks."""
        ...

    def client_trade_id(self, fill: Fill) -> int:
        """The id this venue's clients book ``fill`` under (the engine's own id where the wire
        carries it; a venue whose wire ids do not increase says the neutral id its connector
        derives).
        The ground truth lists fills under it, so a judge compares like with like."""
        ...

    def admin_order(self, params: dict[str, Any]) -> Any:
        """``POST /admin/order``: an order from another client of the account, in this venue's
        request parameters; raise a :class:`~mmtrio.sim.errors.WireError` to refuse."""
        ...

    def client_urls(self, rest: str, ws: str) -> dict[str, str]:
        """The endpoints a client of this venue configures, by the names its connector
        uses (``rest``, ``market_ws``, ``private_ws``), from the served base URLs."""
        ...

    def client_credentials(self) -> dict[str, str]:
        """What this venue's clients need to sign in (printed by `mmtrio sim --json`)."""
        ...


class FrontEndFactory(Protocol):
    """What a front-end package registers (``mmtrio.sim.<venue>.FRONT_END``)."""

    @property
    def name(self) -> str:
        """The venue's name, as the registry and `mmtrio sim --venue` know it (read only)."""
        ...

    @property
    def credential_fields(self) -> tuple[str, ...]:
        """The credential keys it accepts (``mmtrio sim --api-key/--api-secret`` fill the first
        two); any it is not given keep the venue's public paper values."""
        ...

    def data_symbol(self, symbol: str) -> str:
        """The recorded data's symbol for ``symbol`` as this venue names it (a configured
        paper symbol is checked against the recording in the recording's terms)."""
        ...

    def create(self, venue: SimVenue, credentials: Mapping[str, str] | None = None) -> FrontEnd:
        """The front end over ``venue`` (attached to it: the venue calls its ``on_*``)."""
        ...
