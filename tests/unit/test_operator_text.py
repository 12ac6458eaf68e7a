"""Operator-facing text is words, never a Python repr.

A QA pass found, in the log and on Telegram, ``FitRejected(reason=...)`` (the intensity fit
refused), ``PlaceRejected mmt1-9: would_cross`` at INFO for every post-only order the book
moved through, ``CloseReason<code=1006, ...>`` (a websocket closed) and
``ExceptionGroup: Exceptions from Trio nursery (1 sub-exception)`` hiding the error it
carried. These are the builders of that text; ``REPR`` is the pattern the DST log check
(tests/chaos/test_dst_operator_text.py) looks for too.
"""

from __future__ import annotations

import re

import httpx
import pytest
from trio_websocket import CloseReason, ConnectionClosed, ConnectionRejected, ConnectionTimeout

from mmtrio.core.estimators import FitRejected, IntensityFit, NotEnoughData
from mmtrio.core.events import AmendRejected, PlaceRejected
from mmtrio.core.instruments import Instrument
from mmtrio.core.loss_limits import LimitsState
from mmtrio.core.order_feedback import reject_text
from mmtrio.core.rejects import RejectKind, describe
from mmtrio.error_text import error_text
from mmtrio.errors import ConnectionFailed, InstrumentError, ParameterError, ProtocolError

# ``Name(`` (a dataclass repr), ``Name<`` (trio-websocket's reprs), ``<Enum.X: 1>`` (an enum's
# repr), ``Enum.X`` (an enum's str) and the exception group's own words.
REPR = re.compile(
    r"\b[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*[(<]"
    r"|<[A-Z]\w*\.\w+: "
    r"|\b[A-Z][a-z]+[A-Z]\w*\.[A-Z][A-Z_]+\b"
    r"|Exceptions from Trio nursery"
)


def reprs_in(text: str) -> list[str]:
    return [m.group(0) for m in REPR.finditer(text)]


def test_the_pattern_finds_each_kind_of_repr_and_not_plain_words() -> None:
    found = reprs_in(
        f"{FitRejected('x')!r} "
        f"{CloseReason(1006, None)!r} {RejectKind.WOULD_CROSS!r} {RejectKind.AUTH!s} "
        "ExceptionGroup: Exceptions from Trio nursery (1 sub-exception)"
    )
    assert found == [
        "FitRejected(",
        "CloseReason<",
        "<RejectKind.WOULD_CROSS: ",
        "RejectKind.AUTH",
        "Exceptions from Trio nursery",
    ]
    plain = (
        "status binance-paper (BTCUSDT) ACTIVE (warming up) | P&L +0.00 USDT (realised +0.00) "
        "| fill SELL 0.002 BTC @ 28147.50 (mmt1-1); HALTED -> ACTIVE; reconcile (start): ok; "
        "POST /fapi/v1/order: ReadTimeout after the request was sent; fit r² 0.412 (A 3/s)"
    )
    assert reprs_in(plain) == []


@pytest.mark.parametrize("kind", list(RejectKind))
def test_every_reject_kind_has_words(kind: RejectKind) -> None:
    words = describe(kind)
    assert words and kind.value not in words and reprs_in(words) == []


def test_a_refused_place_says_what_was_refused_why_and_the_venues_words() -> None:
    event = PlaceRejected(
        "mmt1-9",
        RejectKind.WOULD_CROSS,
        "-5022",
        "Due to the order could not be executed as maker, the Post Only order will be rejected.",
        0,
    )
    assert reject_text(event) == (
        "place mmt1-9 refused: post-only, it would have crossed the book (-5022 Due to the "
        "order could not be executed as maker, the Post Only order will be rejected.)"
    )


def test_a_refused_amend_without_a_code_or_a_message() -> None:
    assert reject_text(AmendRejected("mmt1-a", RejectKind.UNKNOWN_ORDER, "", " ", 0)) == (
        "amend mmt1-a refused: the venue has no such open order"
    )
    local = PlaceRejected("mmt1-b", RejectKind.LOCAL, "", "circuit breaker open", 0)
    assert reject_text(local) == "place mmt1-b refused: not sent by this bot (circuit breaker open)"


def test_intensity_results_read_as_words() -> None:
    assert str(FitRejected("fit r² 0.412 below estimators.min_fit_r2 0.5")) == (
        "fit r² 0.412 below estimators.min_fit_r2 0.5"
    )
    fit = IntensityFit(a=3.21, k=0.1234, r2=0.9312, n=500, points=20, span_ms=60_000)
    assert str(fit) == "A 3.21/s, k 0.123/tick (r² 0.931, 500 arrivals over 60 s)"
    assert str(NotEnoughData("trades", 3, 50)) == "not enough data: trades (3 of 50)"


def test_an_exception_group_is_said_as_the_errors_it_carries() -> None:
    inner = ExceptionGroup("inner", [ProtocolError("depth: missing field 'U'")])
    group = ExceptionGroup("outer", [inner, ProtocolError("depth: missing field 'U'"), OSError(5)])
    assert error_text(group) == "depth: missing field 'U'; OSError: 5"


def test_websocket_errors_are_said_without_their_reprs() -> None:
    closed = ConnectionClosed(CloseReason(1006, None))
    assert error_text(closed) == "websocket closed (code 1006 ABNORMAL_CLOSURE)"
    going = ConnectionClosed(CloseReason(1001, "server restart"))
    assert error_text(going) == "websocket closed (code 1001 GOING_AWAY: server restart)"
    assert error_text(ConnectionClosed(None)) == "websocket closed"
    refused = ConnectionRejected(403, (), b"forbidden")
    assert error_text(refused) == "websocket refused by the server (HTTP 403)"
    assert error_text(ConnectionTimeout()) == "websocket handshake timed out"


def test_own_errors_are_their_message_and_others_name_their_type() -> None:
    failed = ConnectionFailed("connect refused")
    assert error_text(failed) == str(failed) == "venue error connect refused (unknown)"
    assert error_text(KeyError("price")) == "KeyError: 'price'"
    assert error_text(httpx.ReadTimeout("")) == "ReadTimeout"
    assert error_text(RuntimeError()) == "RuntimeError"


def test_typed_names_every_errors_type_once() -> None:
    assert error_text(ProtocolError("bad frame"), typed=True) == "ProtocolError: bad frame"
    assert error_text(ValueError("x"), typed=True) == "ValueError: x"
    closed = ConnectionClosed(CloseReason(1006, None))
    assert error_text(ExceptionGroup("g", [closed]), typed=True) == (
        "ConnectionClosed: websocket closed (code 1006 ABNORMAL_CLOSURE)"
    )


def test_a_malformed_record_names_the_error_not_its_repr() -> None:
    with pytest.raises(InstrumentError) as inst:
        Instrument.from_json({"symbol": "BTCUSDT"})
    assert "is malformed: KeyError: " in str(inst.value) and reprs_in(str(inst.value)) == []
    with pytest.raises(ParameterError) as state:
        LimitsState.from_json({})
    assert "is malformed (KeyError: 'ts')" in str(state.value)
    assert reprs_in(str(state.value)) == []
