"""The journal's payload text and the records the trading loop builds stay exactly as before.

The encoder is built once (not per record) and the order_sent / order_outcome payloads are
built from per-class field lists: these tests pin the text and the payloads against the
plain, unoptimised forms (``json.dumps`` with the documented options; every attribute
probed by name), so the journal's content cannot drift.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from mmtrio.core.commands import AmendOrder, CancelAll, CancelOrder, PlaceOrder, QueryOrder
from mmtrio.core.events import (
    AmendAccepted,
    AmendRejected,
    CancelAccepted,
    CancelRejected,
    ExecType,
    OrderNotFound,
    OrderStatus,
    PlaceAccepted,
    PlaceRejected,
    Side,
    TimeInForce,
)
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import JournalError
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.journal_recorder import JournalRecorder


def _plain(payload: Any) -> str:
    return json.dumps(payload, default=js._default, separators=(",", ":"), sort_keys=True)


class _Colour(enum.Enum):
    RED = 1


PAYLOADS: list[dict[Any, Any]] = [  # Any keys: the last one's are ints, on purpose
    {},
    {"b": 1, "a": [1, 2.5, None, True], "c": {"z": Decimal("-0.00100"), "y": Side.BUY}},
    {"reason": 'HALTED → ACTIVE: ünïcode and "quotes"\n\t', "n": 10**30, "f": 1e16},
    {"nan": float("nan"), "inf": float("-inf"), "e": ExecType.TRADE, "s": OrderStatus.NEW},
    {"t": (1, 2), "tif": TimeInForce.POST_ONLY, "colour": _Colour.RED},
    {3: "int keys", 1: "sort as numbers", 2: None},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_text_is_json_dumps_with_the_documented_options(payload: dict[Any, Any]) -> None:
    assert js.encode_payload(payload) == _plain(payload)
    row = js.encode_record(js.Record(js.Kind.MID_SAMPLE, 5, payload)).row
    assert json.loads(row) == ["mid_sample", 5, None, _plain(payload)]


def test_unjournalable_payloads_are_refused_naming_the_record() -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    unjournalable: tuple[dict[Any, Any], ...] = (
        circular,
        {"x": object()},
        {"x": {1, 2}},
        {"a": 1, 2: "mixed keys"},
    )
    for payload in unjournalable:
        with pytest.raises(JournalError, match="cannot journal a mid_sample record"):
            js.encode_record(js.Record(js.Kind.MID_SAMPLE, 5, payload))


COMMANDS = [
    PlaceOrder("c1", "BTCUSDT", Side.BUY, 1001, 3),
    PlaceOrder("c2", "BTCUSDT", Side.SELL, 1002, 4, TimeInForce.GTC, reduce_only=True),
    AmendOrder("c1", "BTCUSDT", Side.BUY, 1003, 5),
    CancelOrder("c1", "BTCUSDT"),
    CancelAll("BTCUSDT", "kill"),
    QueryOrder("c3", "BTCUSDT"),
]


def _order_sent_by_probing(command: Any) -> dict[str, Any]:
    op = {"PlaceOrder": "place", "AmendOrder": "amend", "CancelOrder": "cancel",
          "CancelAll": "cancel_all", "QueryOrder": "query"}[type(command).__name__]  # fmt: skip
    payload: dict[str, Any] = {"op": op, "symbol": command.symbol}
    for name in ("client_id", "side", "price", "qty", "time_in_force", "reduce_only", "reason"):
        if hasattr(command, name):
            payload[name] = getattr(command, name)
    if isinstance(command, PlaceOrder):
        payload["tif"] = payload.pop("time_in_force")
    return payload


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_order_sent_payload_is_every_field_the_command_has(command: Any) -> None:
    for _ in range(2):  # the first call learns the class's shape, the second uses it
        rec = js.order_sent(command, 7)
        assert rec.kind is js.Kind.ORDER_SENT and rec.local_ts_ms == 7
        assert rec.payload == _order_sent_by_probing(command)
        assert js.encode_payload(rec.payload) == _plain(_order_sent_by_probing(command))


@dataclass
class _Sink:
    records: list[js.Record]

    def append(self, record: js.Record) -> int:
        self.records.append(record)
        return len(self.records)

    async def committed_through(self, position: int) -> None:
        return None


OUTCOMES: list[tuple[Any, dict[str, Any]]] = [
    (PlaceAccepted("c1", 99, 1), {"outcome": "accepted", "op": "place", "client_id": "c1",
                                  "order_id": 99}),
    (PlaceRejected("c1", RejectKind.LOCAL, "", "no budget", 1),
     {"outcome": "rejected", "op": "place", "client_id": "c1", "code": "", "reason": "no budget",
      "kind": RejectKind.LOCAL.value}),
    (AmendAccepted("c1", 1003, 5, 1), {"outcome": "accepted", "op": "amend", "client_id": "c1",
                                       "price": 1003, "qty": 5}),
    (AmendRejected("c1", RejectKind.WOULD_CROSS, "-5022", "post only", 1),
     {"outcome": "rejected", "op": "amend", "client_id": "c1", "code": "-5022",
      "reason": "post only", "kind": RejectKind.WOULD_CROSS.value}),
    (CancelAccepted("c1", 1), {"outcome": "accepted", "op": "cancel", "client_id": "c1"}),
    (CancelRejected("c1", RejectKind.UNKNOWN_ORDER, "-2011", "unknown", 1),
     {"outcome": "rejected", "op": "cancel", "client_id": "c1", "code": "-2011",
      "reason": "unknown", "kind": RejectKind.UNKNOWN_ORDER.value}),
    (OrderNotFound("c1", 1), {"outcome": "not_found", "op": "query", "client_id": "c1"}),
]  # fmt: skip


def test_request_outcomes_are_journaled_with_every_field_they_have() -> None:
    sink = _Sink([])
    recorder = JournalRecorder(sink, lambda: 42)
    for _ in range(2):  # learn each class's shape, then use it
        sink.records.clear()
        for event, _expected in OUTCOMES:
            assert recorder.event(event, 0) is False
        assert [r.kind for r in sink.records] == [js.Kind.ORDER_OUTCOME] * len(OUTCOMES)
        assert [dict(r.payload) for r in sink.records] == [exp for _e, exp in OUTCOMES]
        assert {r.local_ts_ms for r in sink.records} == {42}
