"""What the trading loop records in the journal: the loop's :class:`~.trading.Recorder`.

:class:`JournalRecorder` maps the events the loop applies, the commands it sends and the
notices the strategy raises onto journal records (their formats are :mod:`.journal_schema`'s)
and appends them to the writer (:mod:`.journal_writer`). It says which events must be durable
before the next decision leaves (a fill) and waits for exactly that (``commit``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from mmtrio.core.commands import Command
from mmtrio.core.events import (
    AccountUpdate,
    AmendAccepted,
    AmendRejected,
    CancelAccepted,
    CancelRejected,
    Event,
    FundingPayment,
    KillSwitch,
    OrderNotFound,
    OrderUpdate,
    OutcomeUnknown,
    PlaceAccepted,
    PlaceRejected,
)
from mmtrio.core.notices import Notice
from mmtrio.runtime import journal_schema as js


class JournalSink(Protocol):
    """runtime.journal_writer.JournalWriter, as the recorder uses it."""

    def append(self, record: js.Record) -> int: ...
    async def committed_through(self, position: int) -> None: ...


_OUTCOMES: dict[type, tuple[str, str]] = {
    PlaceAccepted: ("accepted", "place"),
    PlaceRejected: ("rejected", "place"),
    AmendAccepted: ("accepted", "amend"),
    AmendRejected: ("rejected", "amend"),
    CancelAccepted: ("accepted", "cancel"),
    CancelRejected: ("rejected", "cancel"),
    OrderNotFound: ("not_found", "query"),
}
_OUTCOME_FIELDS = ("client_id", "order_id", "code", "reason", "price", "qty")
# Per outcome class: (outcome, op, the fields of _OUTCOME_FIELDS it has, whether it has a
# reject ``kind``), worked out on its first outcome instead of probing seven attributes on
# every outcome the loop journals.
_OUTCOME_SHAPES: dict[type, tuple[str, str, tuple[str, ...], bool]] = {}


def _outcome_shape(event: Event) -> tuple[str, str, tuple[str, ...], bool] | None:
    cls = type(event)
    shape = _OUTCOME_SHAPES.get(cls)
    if shape is None:
        names = _OUTCOMES.get(cls)
        if names is None:
            return None
        present = tuple(k for k in _OUTCOME_FIELDS if hasattr(event, k))
        shape = _OUTCOME_SHAPES[cls] = (*names, present, hasattr(event, "kind"))
    return shape


class JournalRecorder:
    """Maps what the loop sees and does onto journal records (formats in journal_schema).

    Recorded: every command (``order_sent``), every request outcome, every order update and
    fill, position/balance/funding changes, kill switch, config reloads, and the strategy's
    state changes and mid samples. Market data is not journaled here (the recordings are the
    market's journal); quotes show up as the commands that placed them.
    """

    def __init__(
        self,
        sink: JournalSink,
        wall_ms: Callable[[], int],
        book_top: Callable[[], tuple[int | None, int | None]] | None = None,
    ) -> None:
        self._sink = sink
        self._wall_ms = wall_ms
        self._durable = 0  # journal position of the last fill (what commit waits for)
        # Best bid/ask (ticks) when a fill is booked: the report's mid for spread capture.
        self._book_top = book_top

    def event(self, event: Event, now: int) -> bool:
        """Record ``event`` if it is one the journal keeps; True if it must be durable before
        the next decision is sent: a fill. (Order states without a fill are not waited for:
        after a crash, recovery takes them from the venue's open orders and queries.)"""
        ts = self._wall_ms()
        append = self._sink.append
        if isinstance(event, OrderUpdate):
            append(js.order_update(event, ts))
            if event.fill is not None:
                bid, ask = self._book_top() if self._book_top is not None else (None, None)
                self._durable = append(js.fill(event.fill, ts, bid, ask))
                return True
            return False
        elif (shape := _outcome_shape(event)) is not None:
            outcome, op, names, has_kind = shape
            payload: dict[str, Any] = {"outcome": outcome, "op": op}
            for k in names:
                payload[k] = getattr(event, k)
            kind = getattr(event, "kind", None) if has_kind else None
            if kind is not None:
                payload["kind"] = kind.value
            append(js.Record(js.Kind.ORDER_OUTCOME, ts, payload))
        elif isinstance(event, OutcomeUnknown):
            append(
                js.Record(
                    js.Kind.ORDER_OUTCOME,
                    ts,
                    {
                        "outcome": "unknown",
                        "op": event.operation,
                        "client_id": event.client_id,
                        "reason": event.reason,
                    },
                )
            )
        elif isinstance(event, AccountUpdate):
            for pos in event.positions:
                append(
                    js.Record(
                        js.Kind.POSITION,
                        ts,
                        {"symbol": pos.symbol, "lots": pos.amount, "entry_price": pos.entry_price},
                        exchange_ts_ms=event.ts,
                    )
                )
            for bal in event.balances:
                append(
                    js.Record(
                        js.Kind.BALANCE,
                        ts,
                        {
                            "asset": bal.asset,
                            "wallet_balance": bal.wallet_balance,
                            "cross_wallet_balance": bal.cross_wallet_balance,
                            "balance_change": bal.balance_change,
                        },
                        exchange_ts_ms=event.ts,
                    )
                )
        elif isinstance(event, FundingPayment):
            append(
                js.Record(
                    js.Kind.FUNDING,
                    ts,
                    {"symbol": event.symbol, "amount": event.amount},
                    exchange_ts_ms=event.ts,
                )
            )
        elif isinstance(event, KillSwitch):
            append(
                js.Record(
                    js.Kind.KILL_SWITCH, ts, {"reason": event.reason, "flatten": event.flatten}
                )
            )

        return False

    async def commit(self) -> None:
        """Wait until the last fill recorded is committed (fsync'd): at once if it already is."""
        await self._sink.committed_through(self._durable)

    def command(self, command: Command, now: int) -> None:
        """``order_sent`` for every command."""
        self._sink.append(js.order_sent(command, self._wall_ms()))

    def notice(self, notice: Notice, now: int) -> None:
        """State changes, mid samples, the risk state and resumes; other notices are for the
        log and status only."""
        data = notice.data if isinstance(notice.data, dict) else {}
        if notice.kind == "state_change":
            self._sink.append(
                js.Record(
                    js.Kind.STATE_CHANGE,
                    self._wall_ms(),
                    # The notice names the new state "to_state" (journals before this fix
                    # hold null here; reporting.timeline reads the state from the reason).
                    {"state": data.get("to_state"), "reason": notice.message},
                )
            )
        elif notice.kind == "mid_sample":
            self._sink.append(js.Record(js.Kind.MID_SAMPLE, self._wall_ms(), dict(data)))
        elif notice.kind == "risk_state":
            state = data.get("state")
            if isinstance(state, str):
                self._sink.append(js.Record(js.Kind.RISK_STATE, self._wall_ms(), json.loads(state)))
        elif notice.kind == "resume":
            self._sink.append(
                js.Record(js.Kind.RESUME, self._wall_ms(), {**data, "outcome": notice.message})
            )

    def note(self, kind: str, payload: dict[str, Any], now: int) -> None:
        """A runtime record (``start``, ``stop``, ``config_reload``, ``reconcile``…)."""
        self._sink.append(js.Record(js.Kind(kind), self._wall_ms(), payload))


__all__ = ["JournalRecorder", "JournalSink"]
