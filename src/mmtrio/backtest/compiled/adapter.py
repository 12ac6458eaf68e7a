"""The compiled core's orders behind the Python matching engine's interface.

:class:`CompiledOrders` is what :class:`~mmtrio.backtest.venue_side.VenueSide` calls for
requests (place, amend, cancel, cancel all, query) and what turns the kernels' update rows
into the core's ``OrderUpdate``/``Fill`` records. Checks that need Python objects happen here,
in the reference engine's order: a duplicate client id, then the instrument's filters
(:func:`mmtrio.exchange.matching.check_filters`, the same function), then, in the kernel,
reduce-only and post-only. Closed orders stay queryable up to ``closed_cap`` (oldest first
forgotten), as in the reference.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mmtrio.backtest.compiled import matching as k
from mmtrio.backtest.compiled.slots import (
    BUY,
    NONE,
    O_AHEAD,
    O_CUM,
    O_OID,
    O_PRICE,
    O_QTY,
    O_STATUS,
    ORDER_CAP,
    REJ_REDUCE_ONLY,
    S_EBA,
    S_EBB,
    S_NUPD,
    S_PBASE,
    S_POS,
    SELL,
    TIF_GTC,
    TIF_IOC,
    TIF_POST,
    U_CAUSE,
    U_CUM,
    U_EXEC,
    U_FPX,
    U_FQTY,
    U_MAKER,
    U_OID,
    U_PRICE,
    U_QTY,
    U_SLOT,
    U_STATUS,
    U_TS,
)
from mmtrio.core.events import (
    ExecType,
    Fill,
    Level,
    OrderStatus,
    OrderUpdate,
    Side,
    TimeInForce,
)
from mmtrio.core.instruments import Instrument
from mmtrio.errors import MmtrioError, ParameterError
from mmtrio.exchange.matching import (
    FeeSchedule,
    MatchingReject,
    NewOrder,
    OrderView,
    Refusal,
    check_filters,
)

I64 = npt.NDArray[np.int64]
_TIF = {TimeInForce.GTC: TIF_GTC, TimeInForce.IOC: TIF_IOC, TimeInForce.POST_ONLY: TIF_POST}
_EXEC = [ExecType.NEW, ExecType.CANCELED, ExecType.EXPIRED, ExecType.TRADE, ExecType.AMENDMENT]
_STATUS = [
    OrderStatus.NEW,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED,
    OrderStatus.CANCELED,
    OrderStatus.EXPIRED,
]
_CAUSE = [None, "self_trade", "ioc", "post_only_amend"]
_OPEN = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


@dataclass(slots=True)
class _Static:
    client_id: str
    side: Side
    tif: TimeInForce
    reduce_only: bool
    created_ts: int
    updated_ts: int


@dataclass(slots=True)
class Arrays:
    """The state the kernels share (allocated by :mod:`.engine`)."""

    s: I64
    bk: I64
    o: I64
    u: I64
    buf: I64


class CompiledOrders:
    """The order side of the compiled core (see the module doc)."""

    def __init__(
        self, instrument: Instrument, fees: FeeSchedule, arrays: Arrays, closed_cap: int = 10_000
    ) -> None:
        self.inst = instrument
        self.fees = fees
        self.a = arrays
        self._open: dict[str, int] = {}
        self._static: list[_Static | None] = [None] * ORDER_CAP
        self._free = list(range(ORDER_CAP - 1, -1, -1))  # lowest slot first
        self._closed: OrderedDict[str, OrderView] = OrderedDict()
        self._closed_cap = closed_cap
        self._next_trade_id = 1

    @property
    def position(self) -> int:
        return int(self.a.s[S_POS])

    # --- requests ---------------------------------------------------------------------------------
    def place(self, order: NewOrder, ts: int) -> list[OrderUpdate]:
        if not order.client_id:
            raise MmtrioError("an order needs a client id (the front end validates its syntax)")
        if order.client_id in self._open:
            raise MatchingReject(Refusal.DUPLICATE_CLIENT_ID, "client order id is duplicated")
        check_filters(self.inst, order.price, order.qty, order.reduce_only, order.notional_price)
        if not self._free:
            raise ParameterError(
                f"the compiled backtest core holds at most {ORDER_CAP} open orders; "
                "run with --engine-core python"
            )
        slot = self._free[-1]
        a = self.a
        side = BUY if order.side is Side.BUY else SELL
        rc = k.place(
            a.s, a.bk[0:2], a.bk[2:6], a.o, a.u, slot, side, order.price, order.qty,
            _TIF[order.time_in_force], 1 if order.reduce_only else 0, ts, a.buf[0],
        )  # fmt: skip
        if rc == REJ_REDUCE_ONLY:
            raise MatchingReject(Refusal.REDUCE_ONLY, "reduce-only order would not reduce")
        if rc != 0:
            raise MatchingReject(Refusal.WOULD_TAKE, "post-only order would take liquidity")
        self._free.pop()
        self._closed.pop(order.client_id, None)  # a reused id now names the new order
        self._open[order.client_id] = slot
        self._static[slot] = _Static(
            order.client_id, order.side, order.time_in_force, order.reduce_only, ts, ts
        )
        return self.drain()

    def amend(self, client_id: str, price: int, qty: int, ts: int) -> list[OrderUpdate]:
        slot = self._open.get(client_id)
        if slot is None:
            raise MatchingReject(Refusal.NO_SUCH_ORDER, "order does not exist")
        st = self._slot(slot)
        check_filters(self.inst, price, qty, st.reduce_only)
        a = self.a
        k.amend(a.s, a.bk[0:2], a.bk[2:6], a.o, a.u, slot, price, qty, ts, a.buf[0])
        return self.drain()

    def cancel(self, client_id: str, ts: int) -> list[OrderUpdate]:
        slot = self._open.get(client_id)
        if slot is None:
            raise MatchingReject(Refusal.UNKNOWN_ORDER, "unknown order")
        a = self.a
        k.cancel(a.s, a.bk[2:6], a.o, a.u, slot, ts)
        return self.drain()

    def cancel_all(self, ts: int) -> list[OrderUpdate]:
        a = self.a
        k.cancel_all(a.s, a.bk[2:6], a.o, a.u, ts)
        return self.drain()

    # --- queries ----------------------------------------------------------------------------------
    def get(self, client_id: str) -> OrderView | None:
        slot = self._open.get(client_id)
        if slot is None:
            return self._closed.get(client_id)
        return self._view(slot)

    def _view(self, slot: int) -> OrderView:
        st = self._slot(slot)
        o = self.a.o[slot]
        return OrderView(
            client_id=st.client_id,
            order_id=int(o[O_OID]),
            side=st.side,
            price=int(o[O_PRICE]),
            qty=int(o[O_QTY]),
            cum_qty=int(o[O_CUM]),
            status=_STATUS[int(o[O_STATUS])],
            time_in_force=st.tif,
            reduce_only=st.reduce_only,
            queue_ahead=int(o[O_AHEAD]),
            created_ts=st.created_ts,
            updated_ts=st.updated_ts,
        )

    def _slot(self, slot: int) -> _Static:
        st = self._static[slot]
        if st is None:  # pragma: no cover - open slots always have their static part
            raise MmtrioError(f"compiled core: slot {slot} holds no order")
        return st

    def best_bid(self) -> Level | None:
        return self._best(BUY, S_EBB)

    def best_ask(self) -> Level | None:
        return self._best(SELL, S_EBA)

    def _best(self, side: int, key: int) -> Level | None:
        idx = int(self.a.s[key])
        if idx == NONE:
            return None
        return (idx + int(self.a.s[S_PBASE]), int(self.a.bk[side, idx]))

    # --- the kernels' output ----------------------------------------------------------------------
    def drain(self) -> list[OrderUpdate]:
        """The order updates the kernels wrote since the last drain, as core records."""
        a = self.a
        n = int(a.s[S_NUPD])
        if n == 0:
            return []
        rows = a.u[:n].tolist()
        a.s[S_NUPD] = 0
        out: list[OrderUpdate] = []
        inst = self.inst
        for r in rows:
            slot = r[U_SLOT]
            st = self._static[slot]
            if st is None:  # pragma: no cover - the kernels only report placed orders
                raise MmtrioError(f"compiled core reported an update for empty slot {slot}")
            ts = r[U_TS]
            st.updated_ts = ts
            x = _EXEC[r[U_EXEC]]
            fill = None
            if x is ExecType.TRADE:
                rate = self.fees.maker_rate if r[U_MAKER] == 1 else self.fees.taker_rate
                fill = Fill(
                    symbol=inst.symbol,
                    trade_id=self._next_trade_id,
                    client_id=st.client_id,
                    order_id=r[U_OID],
                    side=st.side,
                    price=r[U_FPX],
                    qty=r[U_FQTY],
                    fee=inst.notional(r[U_FPX], r[U_FQTY]) * rate,
                    fee_asset=inst.quote_asset,
                    is_maker=r[U_MAKER] == 1,
                    ts=ts,
                )
                self._next_trade_id += 1
            status = _STATUS[r[U_STATUS]]
            out.append(
                OrderUpdate(
                    symbol=inst.symbol,
                    client_id=st.client_id,
                    order_id=r[U_OID],
                    side=st.side,
                    exec_type=x,
                    status=status,
                    price=r[U_PRICE],
                    qty=r[U_QTY],
                    cum_qty=r[U_CUM],
                    time_in_force=st.tif,
                    reduce_only=st.reduce_only,
                    ts=ts,
                    fill=fill,
                )
            )
            if status not in _OPEN and self._open.get(st.client_id) == slot:
                self._retire(slot, st, r[U_CAUSE])
        return out

    def _retire(self, slot: int, st: _Static, cause: int) -> None:
        del self._open[st.client_id]
        view = self._view(slot)
        self._static[slot] = None
        self._free.append(slot)
        if self._closed_cap == 0:
            return
        from dataclasses import replace

        self._closed[st.client_id] = replace(view, queue_ahead=0, expiry_cause=_CAUSE[cause])
        self._closed.move_to_end(st.client_id)
        while len(self._closed) > self._closed_cap:
            self._closed.popitem(last=False)
