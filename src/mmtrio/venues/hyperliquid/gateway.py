"""The Hyperliquid gateway: the venue seam's Gateway over signed actions.

Order entry goes over the websocket ``post`` method of the user stream's connection when it
is up (a ~70 µs send against ~480 µs for an httpx POST here: DESIGN.md §3) and falls back to
REST ``/exchange`` when it is not. The fallback re-sends the *same* signed payload (same
nonce): were the first copy ever processed, the venue would refuse the second for its nonce,
so an action can never execute twice. Reads go over REST ``/info``.

**Amend.** Hyperliquid's modify is a cancel-replace (new oid, same cloid, back of the queue:
``amend_keeps_priority`` is False) whose size is the new *remaining* size, while the core's
amend names the order's total size. The gateway sends ``total − filled`` with ``filled`` the
fills this connector has seen for the cloid (:mod:`.tracking`). A fill still in flight when
the modify lands leaves the venue order larger than the core counts by that fill (every client
of this venue's modify has the same race; it is bounded by one quote, shows in the next
update's size, and the periodic position reconciliation catches any booking gap).

**Dead-man (``scheduleCancel``).** :meth:`HyperliquidGateway.arm_deadman` sets the venue's
cancel-all time to venue-now + the countdown (at least ``MIN_LEAD_MS``: the venue requires 5 s
and the request takes time to land); 0 disarms it (``scheduleCancel`` without a time). The
venue counts a *trigger* only when the time is reached and it cancels (the SDK's docstring:
"Once the time comes, all open orders will be canceled and a trigger count will be
incremented. The max number of triggers per day is 10", reset 00:00 UTC). A healthy bot moves
the time out every ``deadman_refresh_ms`` and never triggers it; a clean stop disarms it. It
fires only after a crash, a kill -9 or a stall longer than the countdown. The connector counts
the triggers it sees (``scheduledCancel`` cancels on the user stream, per UTC day) and logs
them; when the venue refuses an arm (the daily limit reached, or any other refusal), the
refusal propagates (after one retry on a freshly read venue clock: a time refused as too
soon is most often our clock off the venue's): at start the bot does not quote without the
protection (the dead-man task must arm before the runtime reports it started), and a refused
refresh is logged while the last armed time stands. See docs/OPERATOR.md, "Hyperliquid".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from mmtrio import units
from mmtrio.core.commands import AmendOrder, CancelOrder, PlaceOrder
from mmtrio.core.events import Fill, OrderStatus, OrderUpdate
from mmtrio.core.instruments import Instrument
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import (
    ConfigError,
    ConnectionFailed,
    OutcomeUnknownError,
    ProtocolError,
    RateLimited,
    VenueError,
)
from mmtrio.venues.hyperliquid.codec import trade_id_time_ms
from mmtrio.venues.hyperliquid.codec_exchange import (
    cancel_cloid_action,
    cancel_oids_action,
    exchange_payload,
    modify_action,
    parse_cancel_answer,
    parse_cancel_batch,
    parse_default_answer,
    parse_order_answer,
    place_action,
    schedule_cancel_action,
)
from mmtrio.venues.hyperliquid.codec_info import (
    parse_clearinghouse,
    parse_fills,
    parse_open_orders,
    parse_order_status,
)
from mmtrio.venues.hyperliquid.costs import ACTION
from mmtrio.venues.hyperliquid.errors import kind_of
from mmtrio.venues.hyperliquid.nonces import NonceSource
from mmtrio.venues.hyperliquid.rest import FALLBACK_RETRY_AFTER_429_S, HyperliquidRest
from mmtrio.venues.hyperliquid.signing import L1Signer
from mmtrio.venues.hyperliquid.tracking import OrderTracking
from mmtrio.venues.hyperliquid.userstream import PostUnavailable, UserStream, to_update
from mmtrio.venues.protocol import Capabilities, OrderAck

CAPABILITIES = Capabilities(
    amend=True, amend_keeps_priority=False, batch=False, ws_order_entry=True, deadman=True
)
MIN_LEAD_MS = 6_000  # the venue wants the time ≥ 5 s ahead when the action lands
FILL_PAGE = 2000  # userFills/userFillsByTime answer at most 2000 fills
MAX_PAGES = 25
FILL_LOOKBACK_MS = 1_000  # read from a second before the watermark's millisecond


class HyperliquidGateway:
    """Gateway for one account and one coin (module docstring)."""

    capabilities = CAPABILITIES

    def __init__(
        self,
        rest: HyperliquidRest,
        signer: L1Signer,
        nonces: NonceSource,
        *,
        account: str,
        asset: int,
        instrument: Instrument,
        tracking: OrderTracking,
        venue_ms: Callable[[], int],
    ) -> None:
        self.rest = rest
        self.signer = signer
        self.nonces = nonces
        self.account = account
        self.asset = asset
        self.instrument = instrument
        self.tracking = tracking
        self.venue_ms = venue_ms
        self.post: UserStream | None = None  # the session plugs the user stream in
        # The session's clock sync (re-reads the venue's time); None: no resync on a refusal.
        self.resync_clock: Callable[[], Awaitable[object]] | None = None
        self.via_ws = 0
        self.via_rest = 0
        self.deadman_refused = 0

    def _check(self, symbol: str) -> None:
        if symbol != self.instrument.symbol:
            raise ConfigError(
                f"gateway for {self.instrument.symbol} was asked to trade {symbol}; "
                "start one gateway per coin"
            )

    # --- transport ------------------------------------------------------------------------
    async def _act(self, action: dict[str, Any], *, idempotent: bool = False) -> Any:
        """Sign ``action`` and send it (websocket post, REST if the post path is down).

        ``idempotent`` (the dead-man's time): an unknown outcome over the websocket (it closed
        while the answer was due, as at a stop) is settled by sending the action again over
        REST, signed anew: doing it twice is doing it once."""
        await self.rest.paid_for(ACTION)  # the dead-man's refresh; orders are paid already
        try:
            nonce = await self.nonces.take()
        except OSError as exc:
            raise ConnectionFailed(f"nonce reservation could not be written: {exc}") from None
        payload = exchange_payload(
            action, nonce, self.signer.sign(action, nonce), self.signer.vault
        )
        # One back-off for both ways in: Hyperliquid counts websocket posts against the same
        # IP budget, and a request sent into a 429's back-off earns a ban (chaos seeds 1702
        # and 1704: the dead-man's refresh went out over the websocket 0.4 s after a post
        # was answered 429, then every second into the ban). A post's 429 starts the back-off
        # in the user stream's reader (note_limit), before the poster wakes.
        self.rest.check_blocked()
        post = self.post
        if post is not None and post.connected:
            try:
                answer = await post.post("action", payload)
                self.via_ws += 1
                return answer
            except PostUnavailable:
                pass  # not sent: the same signed payload over REST
            except OutcomeUnknownError:
                if not idempotent:
                    raise
                return await self._act_rest(action)
        self.via_rest += 1
        return await self.rest.exchange(payload)

    def note_limit(self, exc: RateLimited) -> None:
        """A post answered 429 (the user stream's reader calls this as it reads the answer,
        whether or not anyone still waits for it): the back-off binds both ways in."""
        if not exc.retry_after_s:
            exc.retry_after_s = FALLBACK_RETRY_AFTER_429_S
        self.rest.block(exc.retry_after_s)

    async def _act_rest(self, action: dict[str, Any]) -> Any:
        await self.rest.paid_for(ACTION)
        self.rest.check_blocked()
        nonce = await self.nonces.take()
        signature = self.signer.sign(action, nonce)
        self.via_rest += 1
        return await self.rest.exchange(
            exchange_payload(action, nonce, signature, self.signer.vault)
        )

    @staticmethod
    def _read_answer(parse: Callable[[Any], Any], body: Any, op: str) -> Any:
        try:
            return parse(body)
        except ProtocolError as exc:
            # The venue answered 200 but not in a form we know: it may have acted.
            raise OutcomeUnknownError(f"{op} answered unreadably: {exc}", status=200) from exc

    # --- orders ---------------------------------------------------------------------------
    async def place(self, cmd: PlaceOrder) -> OrderAck:
        self._check(cmd.symbol)
        self.tracking.placed(
            cmd.client_id, cmd.side, cmd.price, cmd.qty, cmd.time_in_force, cmd.reduce_only
        )
        body = await self._act(place_action(self.asset, self.instrument, cmd))
        result = self._read_answer(parse_order_answer, body, "place")
        self.tracking.acked(cmd.client_id, result.oid)
        status = OrderStatus.NEW if result.resting else OrderStatus.FILLED
        return OrderAck(cmd.client_id, result.oid, status, self.venue_ms())

    async def amend(self, cmd: AmendOrder) -> OrderAck:
        self._check(cmd.symbol)
        t = self.tracking.get(cmd.client_id)
        filled = 0 if t is None else t.filled
        remaining = cmd.qty - filled
        if remaining <= 0:
            # Refused here, never sent (a modify carries the size left). Said in the
            # instrument's units and without a code: the operator reads it beside the client id.
            inst = self.instrument
            raise VenueError(
                f"already filled: {units.size(inst, filled)} of {units.sized(inst, cmd.qty)}; "
                "not sent",
                kind=RejectKind.UNKNOWN_ORDER,
            )
        reduce_only = False if t is None else t.reduce_only
        action = modify_action(self.asset, self.instrument, cmd, remaining, reduce_only)
        self.tracking.begin_amend(cmd.client_id)
        new_oid: int | None = None
        try:
            body = await self._act(action)
            result = self._read_answer(parse_order_answer, body, "amend")
            new_oid = result.oid
        finally:
            self.tracking.end_amend(cmd.client_id, new_oid, cmd.price, cmd.qty)
        status = OrderStatus.NEW if result.resting else OrderStatus.FILLED
        return OrderAck(cmd.client_id, result.oid, status, self.venue_ms())

    async def cancel(self, cmd: CancelOrder) -> None:
        self._check(cmd.symbol)
        body = await self._act(cancel_cloid_action(self.asset, cmd.client_id))
        self._read_answer(parse_cancel_answer, body, "cancel")

    async def cancel_all(self, symbol: str) -> None:
        """Every open order of the coin, in one cancel batch (Hyperliquid has no cancel-all).

        An order gone in between (filled, cancelled) is what cancel-all wanted anyway."""
        self._check(symbol)
        states = parse_open_orders(
            await self.rest.info({"type": "openOrders", "user": self.account}), self.instrument
        )
        if not states:
            return
        body = await self._act(cancel_oids_action(self.asset, [s.oid for s in states]))
        errors = self._read_answer(parse_cancel_batch, body, "cancel-all")
        bad = [e for e in errors if e is not None and kind_of(e) is not RejectKind.UNKNOWN_ORDER]
        if bad:
            raise VenueError(
                f"cancel-all: {len(bad)} cancels refused: {bad[0]}", kind=kind_of(bad[0])
            )

    # --- reads ----------------------------------------------------------------------------
    async def query(self, symbol: str, client_id: str) -> OrderUpdate | None:
        self._check(symbol)
        body = await self.rest.info({"type": "orderStatus", "user": self.account, "oid": client_id})
        st = parse_order_status(body, self.instrument)
        if st is None:
            return None
        if st.coin != self.instrument.symbol:
            raise ProtocolError(f"orderStatus of {client_id} names coin {st.coin!r}")
        t = self.tracking.learn(st)
        return to_update(st, t, self.instrument.symbol)

    async def open_orders(self, symbol: str) -> list[OrderUpdate]:
        self._check(symbol)
        body = await self.rest.info({"type": "openOrders", "user": self.account})
        out = []
        for st in parse_open_orders(body, self.instrument):
            t = self.tracking.learn(st)
            out.append(to_update(st, t, self.instrument.symbol))
        return out

    async def position(self, symbol: str) -> tuple[int, Decimal]:
        self._check(symbol)
        body = await self.rest.info({"type": "clearinghouseState", "user": self.account})
        ch = parse_clearinghouse(body, self.instrument)
        return ch.position_lots, ch.entry_price

    async def user_trades(self, symbol: str, from_id: int | None) -> list[Fill]:
        """Our fills with neutral trade id >= ``from_id`` (and the rest of its millisecond),
        oldest first; ``from_id`` None: the venue's most recent 2000 (``userFills``)."""
        self._check(symbol)
        if from_id is None:
            fills = parse_fills(
                await self.rest.info({"type": "userFills", "user": self.account}), self.instrument
            )
            return self._learn_fills(fills)
        start = trade_id_time_ms(from_id) - FILL_LOOKBACK_MS
        seen: dict[int, Fill] = {}
        for _ in range(MAX_PAGES):
            body = await self.rest.info(
                {"type": "userFillsByTime", "user": self.account, "startTime": start,
                 "aggregateByTime": False}
            )  # fmt: skip
            rows = body if isinstance(body, list) else []
            page = parse_fills(rows, self.instrument)
            for f in page:
                seen[f.trade_id] = f
            if len(rows) < FILL_PAGE:
                break
            # A full page: continue from its last time (the same ms may repeat; deduped).
            last = max((r.get("time", start) for r in rows if isinstance(r, dict)), default=start)
            if last <= start:
                break
            start = last
        fills = sorted(
            (f for f in seen.values() if f.trade_id >= from_id or _same_ms(f.trade_id, from_id)),
            key=lambda f: f.trade_id,
        )
        return self._learn_fills(fills)

    def _learn_fills(self, fills: list[Fill]) -> list[Fill]:
        for f in fills:
            self.tracking.on_fill(f.client_id, f.order_id, f.trade_id, f.qty)
        return fills

    # --- dead-man -------------------------------------------------------------------------
    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        """Arm (or with 0 disarm) ``scheduleCancel`` (module docstring: the policy)."""
        self._check(symbol)
        if countdown_ms < 0:
            raise ConfigError(f"dead-man countdown must be >= 0 ms, got {countdown_ms}")
        try:
            await self._schedule_cancel(countdown_ms)
        except VenueError as exc:
            if isinstance(exc, RateLimited) or not (
                exc.definite and countdown_ms > 0 and self.resync_clock is not None
            ):
                raise
            # A time the venue calls too soon (or otherwise refuses) is most often our clock
            # off the venue's (chaos seed 1703 on Hyperliquid: a clock_skew fault, then every
            # refresh refused "at least 5 seconds in the future" until the supervisor gave
            # up): read the venue's time again and arm once more; a second refusal stands.
            # Not a rate limit (definite too, and no clock's doing): its resync's reads went
            # out as reads, which the budget keeps below the refresh's share, and a refresh
            # that met a 429's back-off was then refused for 14 s (Hyperliquid DST seed 21).
            await self.resync_clock()
            await self._schedule_cancel(countdown_ms)

    async def _schedule_cancel(self, countdown_ms: int) -> None:
        when = None if countdown_ms == 0 else self.venue_ms() + max(countdown_ms, MIN_LEAD_MS)
        body = await self._act(schedule_cancel_action(when), idempotent=True)
        try:
            self._read_answer(parse_default_answer, body, "scheduleCancel")
        except VenueError as exc:
            if exc.definite:
                self.deadman_refused += 1
            raise


def _same_ms(trade_id: int, other: int) -> bool:
    return trade_id_time_ms(trade_id) == trade_id_time_ms(other)
