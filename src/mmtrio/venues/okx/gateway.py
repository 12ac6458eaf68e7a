"""The OKX gateway: the venue seam's Gateway over WebSocket ops, REST the fallback.

Order entry (place, amend, cancel, and the batch cancel inside cancel-all) goes over the
logged-in WebSocket order session (:mod:`mmtrio.venues.okx.order_session`) when it is up,
and over REST (``/api/v5/trade/order``, ``amend-order``, ``cancel-order``,
``cancel-batch-orders``) when it is not. The switch is decided per request, before anything
is sent: a request the socket could not send goes over REST; a request it sent but got no
answer to is an unknown outcome, never resent (execution queries the ``clOrdId``). Reads
(order query, pending orders, position, fills) and the dead-man switch are REST: OKX has
no WebSocket form of them.

Answers are neutral here: an accepted order becomes an OrderAck, a per-order ``sCode`` a
:class:`~mmtrio.errors.VenueError` of the kind :mod:`mmtrio.venues.okx.errors` maps.

**Dead-man.** ``POST /api/v5/trade/cancel-all-after`` takes whole seconds, 0 (off) or
10..120, at most once a second: a call goes out a second after the last one that may have
used that second, not after one OKX refused (:func:`_may_count`), and a 429 on it holds it
for its one-second window. The runtime's countdown (ms) is taken in whole seconds, rounded
down (the venue then cancels no later than asked); a countdown outside OKX's range is
refused with a ConfigError naming ``runtime.deadman_countdown_ms``. OKX's switch covers the
whole account, not one instrument.

**Fills** (``GET /api/v5/trade/fills``, the last 3 days) page backwards by ``billId``,
newest first; :meth:`OkxGateway.user_trades` pages back until it passes ``from_id`` (trade
ids increase per instrument) and returns the fills from it, oldest first.
"""

from __future__ import annotations

from decimal import Decimal

import trio

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
from mmtrio.venues.okx import codec_rest as cr
from mmtrio.venues.okx.codec import OpResult
from mmtrio.venues.okx.costs import BATCH_MAX
from mmtrio.venues.okx.errors import RATE_LIMIT_RETRY_S, classify
from mmtrio.venues.okx.fields import InstrumentCodec
from mmtrio.venues.okx.order_session import OrderSession
from mmtrio.venues.okx.rest import Body, OkxRest
from mmtrio.venues.protocol import Capabilities, OrderAck

__all__ = ["CAPABILITIES", "DEADMAN_RANGE_S", "OkxGateway"]

# amend-order changes price and size in place; OKX does not document that a size decrease
# keeps queue priority, so none is assumed. The neutral gateway has no batch place, so
# ``batch`` stays False although cancel-all uses OKX's batch cancel.
CAPABILITIES = Capabilities(
    amend=True, amend_keeps_priority=False, batch=False, ws_order_entry=True, deadman=True
)
DEADMAN_RANGE_S = (10, 120)
DEADMAN_INTERVAL_S = 1.0  # OKX: cancel-all-after, 1 request per second
MAX_PAGES = 50
_PATHS = {
    "order": "/api/v5/trade/order",
    "amend-order": "/api/v5/trade/amend-order",
    "cancel-order": "/api/v5/trade/cancel-order",
    "batch-cancel-orders": "/api/v5/trade/cancel-batch-orders",
}
# WebSocket-level answers that mean "not acted on, this socket cannot take it now": the
# request is sent again over REST (definitely safe: the op was refused as a whole).
_WS_NOT_ACCEPTED = frozenset({"60011", "60012", "60016", "60019", "60028"})


class OkxGateway:
    """Gateway for one OKX instrument (see the module docstring)."""

    capabilities = CAPABILITIES

    def __init__(
        self,
        rest: OkxRest,
        instrument: Instrument,
        *,
        td_mode: str = "cross",
        order_session: OrderSession | None = None,
        mode: str = "live",
    ) -> None:
        self.rest = rest
        self.instrument = instrument
        self.codec = InstrumentCodec(instrument)
        self.td_mode = td_mode
        self.session = order_session
        self.mode = mode
        self.sent_ws = 0
        self.sent_rest = 0
        self._deadman_sent: float | None = None  # Trio time of the last cancel-all-after

    def _check(self, symbol: str) -> None:
        if symbol != self.instrument.symbol:
            raise ConfigError(
                f"gateway for {self.instrument.symbol} was asked to trade {symbol}; "
                "start one gateway per symbol"
            )

    # --- order entry ------------------------------------------------------------------------
    async def _op(self, op: str, args: list[dict[str, str]]) -> list[cr.OpAnswer]:
        """Send ``op`` over the socket if it is up, else REST; per-order answers."""
        session = self.session
        if session is not None and session.ready:
            try:
                result = await session.request(op, args)
            except ConnectionFailed:
                pass  # never left: REST below
            else:
                answers = self._ws_answers(op, result)
                if answers is not None:
                    self.sent_ws += 1
                    return answers
        self.sent_rest += 1
        body: Body = args if op.startswith("batch") else args[0]
        return await self.rest.order_op(_PATHS[op], body)

    def _ws_answers(self, op: str, result: OpResult) -> list[cr.OpAnswer] | None:
        """The per-order answers of an op; None when the socket refused it as a whole and
        REST should carry it; raises for a refusal that REST would meet too."""
        if result.code in ("0", "1", "2") and result.data:
            try:
                return cr.op_answers(list(result.data), op)
            except ProtocolError as exc:  # it acted, but we cannot read what it did
                raise OutcomeUnknownError(f"{op} answer unreadable: {exc}") from exc
        if result.code in _WS_NOT_ACCEPTED:
            return None
        raise self._error(result.code, result.msg or f"{op} refused")

    def _error(self, code: str, msg: str) -> VenueError:
        """The neutral error for an OKX code; a rate-limit answer over the socket blocks the
        order operations over REST too (the ops share the endpoints' limits)."""
        err = classify(0, code or None, msg, mode=self.mode)
        if isinstance(err, RateLimited):
            self.rest.block(err.retry_after_s or RATE_LIMIT_RETRY_S)
        return err

    def _one(self, answers: list[cr.OpAnswer], op: str) -> cr.OpAnswer:
        if len(answers) != 1:
            raise OutcomeUnknownError(f"{op} answered {len(answers)} results for one order")
        ans = answers[0]
        if not ans.ok:
            raise self._error(ans.s_code, ans.s_msg or f"{op} refused")
        return ans

    async def place(self, cmd: PlaceOrder) -> OrderAck:
        self._check(cmd.symbol)
        args = cr.place_args(cmd, self.instrument, self.td_mode)
        ans = self._one(await self._op("order", [args]), "order")
        if ans.order_id is None:
            raise OutcomeUnknownError("place accepted without an ordId")
        return OrderAck(cmd.client_id, ans.order_id, OrderStatus.NEW, ans.ts or 0)

    async def amend(self, cmd: AmendOrder) -> OrderAck:
        self._check(cmd.symbol)
        ans = self._one(
            await self._op("amend-order", [cr.amend_args(cmd, self.instrument)]), "amend"
        )
        # OKX acknowledges the amend; the order's state after it arrives on the orders channel.
        return OrderAck(cmd.client_id, ans.order_id or 0, OrderStatus.NEW, ans.ts or 0)

    async def cancel(self, cmd: CancelOrder) -> None:
        self._check(cmd.symbol)
        self._one(await self._op("cancel-order", [cr.cancel_args(cmd)]), "cancel")

    async def cancel_all(self, symbol: str) -> None:
        """Every open order of the instrument: list them, cancel them in batches of 20.
        An order already gone by the time its cancel arrives is not a failure."""
        self._check(symbol)
        pending = await self.open_orders(symbol)
        ids = [u.client_id for u in pending if u.client_id]
        bare = [u.order_id for u in pending if not u.client_id]
        args = [{"instId": symbol, "clOrdId": cid} for cid in ids]
        args += [{"instId": symbol, "ordId": str(oid)} for oid in bare]
        first_error: VenueError | None = None
        for start in range(0, len(args), BATCH_MAX):
            chunk = args[start : start + BATCH_MAX]
            answers = await self._op("batch-cancel-orders", chunk)
            for ans in answers:
                if ans.ok:
                    continue
                err = self._error(ans.s_code, ans.s_msg or "cancel refused")
                if err.kind is not RejectKind.UNKNOWN_ORDER and first_error is None:
                    first_error = err
        if first_error is not None:
            raise first_error

    # --- reads ------------------------------------------------------------------------------
    async def query(self, symbol: str, client_id: str) -> OrderUpdate | None:
        self._check(symbol)
        data = await self.rest.query_order(symbol, client_id)
        if not data:
            return None
        orders = cr.parse_orders(data, self.codec)
        return orders[0] if orders else None

    async def open_orders(self, symbol: str) -> list[OrderUpdate]:
        self._check(symbol)
        out: list[OrderUpdate] = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            page = await self.rest.orders_pending(symbol, after)
            out.extend(cr.parse_orders(page, self.codec))
            if len(page) < 100:
                break
            last = page[-1]
            after = str(last.get("ordId")) if isinstance(last, dict) else None
            if after is None:
                break
        return out

    async def position(self, symbol: str) -> tuple[int, Decimal]:
        self._check(symbol)
        rows = cr.parse_positions(await self.rest.positions(symbol), self.codec)
        open_rows = [r for r in rows if r.lots != 0]
        if not open_rows:
            return 0, Decimal(0)
        # Net mode has one row (signed). Long/short mode (refused at start) would list
        # positive sizes per side: the net is long minus short.
        net = sum(-abs(r.lots) if r.pos_side == "short" else r.lots for r in open_rows)
        entry = open_rows[0].entry_price if len(open_rows) == 1 else Decimal(0)
        return net, entry

    async def user_trades(self, symbol: str, from_id: int | None) -> list[Fill]:
        self._check(symbol)
        seen: dict[int, Fill] = {}
        after: int | None = None
        for _ in range(MAX_PAGES):
            page = cr.parse_fills(await self.rest.fills(symbol, after), self.codec)
            for _bill, fill in page:
                seen.setdefault(fill.trade_id, fill)
            if from_id is None or len(page) < 100:
                break
            if min(f.trade_id for _b, f in page) < from_id:
                break  # paged back past the watermark
            after = page[-1][0]
        fills = sorted(seen.values(), key=lambda f: f.trade_id)
        if from_id is not None:
            fills = [f for f in fills if f.trade_id >= from_id]
        return fills

    # --- dead-man ---------------------------------------------------------------------------
    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        self._check(symbol)
        seconds = countdown_ms // 1000
        low, high = DEADMAN_RANGE_S
        if countdown_ms != 0 and not low <= seconds <= high:
            raise ConfigError(
                f"runtime.deadman_countdown_ms = {countdown_ms} does not fit OKX's "
                f"cancel-all-after ({low}..{high} s): set it between {low * 1000} and "
                f"{high * 1000}"
            )
        # OKX takes one cancel-all-after per second: a disarm right after an arm (a stop
        # just after the start) waits out the rest of that second instead of meeting a 429.
        if self._deadman_sent is not None:
            await trio.sleep_until(self._deadman_sent + DEADMAN_INTERVAL_S)
        before, self._deadman_sent = self._deadman_sent, trio.current_time()
        try:
            await self.rest.cancel_all_after(seconds)
        except VenueError as exc:
            if not _may_count(exc):
                self._deadman_sent = before
            raise


def _may_count(exc: VenueError) -> bool:
    """Whether a failed cancel-all-after may have used OKX's one call a second: only one
    that left without an answer (it may yet arrive, or its answer was lost). One OKX
    answered with a refusal (a 5xx, an error code) or one never sent starts no spacing: the
    dead-man's retry goes out at its own pace (``runtime/deadman.py``'s ``retry_delay``),
    not held a whole second behind a call that did not arm (chaos seeds 33211, 33231: a
    refresh answered 500, the retry 0.25 s later was held until a second after it, its
    0.5 s attempt ended before it left, the link went silent in between, and the venue's
    countdown fired on a live bot). A 429 holds the endpoint through the REST client's
    back-off; if OKX did count the refused call, the early retry meets such a 429 and
    waits out its one-second window: the venue's answer, not a guess, decides."""
    return isinstance(exc, OutcomeUnknownError) and not exc.status
