"""What an operator reads when Hyperliquid refuses or does not answer (QA of the paper bot).

The runtime shows a refusal as ``amend <cid> refused: <kind in words> (<code> <venue text>)``
and a slot's back-off as ``… after a refusal: <kind in words> (<code>)``; an error in other
logs as ``HTTP <status> error <code>: <text> (<kind>)``. Hyperliquid has no error codes, so
the connector must not invent any: a 429 on a websocket post read ``rate limited (post Too many
requests…)`` and a slot ``backs off 1 s after a refusal: rate limited (post)``, a REST 429
``HTTP 429 error 429: …``, an amend of a filled order ``(filled amend of 0x… to 2 lots: 2
already filled)``, a post left unanswered ``post 16: no answer within 5.0 s``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import pytest
import trio
import trio.testing

from mmtrio.core.commands import AmendOrder
from mmtrio.core.events import AmendRejected, Side, TimeInForce
from mmtrio.core.instruments import Instrument
from mmtrio.core.order_feedback import reject_text
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import OutcomeUnknownError, RateLimited, VenueError
from mmtrio.sim.hyperliquid.ws import limit_text
from mmtrio.venues.hyperliquid import errors as hl_errors
from mmtrio.venues.hyperliquid.gateway import HyperliquidGateway
from mmtrio.venues.hyperliquid.tracking import OrderTracking
from mmtrio.venues.hyperliquid.userstream import UserStream

INST = Instrument(
    "BTC", Decimal(1), Decimal("0.001"), 1, 10**6, Decimal(10),
    base_asset="BTC", quote_asset="USDC", sig_figs=5,
)  # fmt: skip
CLOID = "0x" + "ab" * 16


def _said(exc: VenueError) -> str:
    """The log line the runtime writes for an amend refused with ``exc``."""
    return reject_text(AmendRejected(CLOID, exc.kind, exc.code, exc.msg, 0))


def _stream() -> UserStream:
    return UserStream("ws://127.0.0.1:1/ws", "0x" + "11" * 20, INST, OrderTracking(),
                      clock_ms=lambda: 0)  # fmt: skip


def test_a_rate_limited_post_is_said_in_the_venues_words_only() -> None:
    us = _stream()
    told: list[RateLimited] = []
    us.on_limit = told.append
    us._on_post({"id": 3, "response": {"type": "error",
                 "payload": "Too many requests: injected. Retry after 5 s."}})  # fmt: skip
    (limited,) = told
    assert limited.code == "" and limited.retry_after_s == 5.0
    assert _said(limited) == (
        f"amend {CLOID} refused: rate limited (Too many requests: injected. Retry after 5 s.)"
    )


def test_a_post_error_that_is_not_text_is_shown_as_json_not_a_python_repr() -> None:
    us = _stream()
    answered: list[Any] = []

    async def main() -> None:
        done = trio.Event()
        us._pending[7] = (done, answered)
        us._on_post({"id": 7, "response": {"type": "error", "payload": {"why": "odd", "n": 1}}})

    trio.run(main)
    (err,) = answered
    assert isinstance(err, OutcomeUnknownError)
    assert err.msg == 'the venue answered the post with an error: {"why":"odd","n":1}'


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (429, "Too many requests", "HTTP 429 error Too many requests (rate_limited)"),
        (502, "Bad Gateway", "HTTP 502 error Bad Gateway (unknown)"),
        (500, "", "HTTP 500 error HTTP 500 (unknown)"),
    ],
)
def test_http_errors_do_not_repeat_the_status_as_a_code(status: int, body: str, said: str) -> None:
    err = hl_errors.http_error(status, body, "5")
    assert err.code == "" and str(err) == said


def test_the_address_budget_refusal_has_no_made_up_code() -> None:
    text = "Too many cumulative requests sent (37986 > 10436) for cumulative volume traded."
    err = hl_errors.rejection(text)
    assert isinstance(err, RateLimited) and err.code == ""
    assert _said(err) == f"amend {CLOID} refused: rate limited ({text})"


def test_an_amend_of_a_filled_order_says_so_in_the_coin() -> None:
    tracking = OrderTracking()
    tracking.placed(CLOID, Side.BUY, 28148, 2, TimeInForce.POST_ONLY, False)
    tracking.acked(CLOID, 7)
    tracking.on_fill(CLOID, 7, trade_id=1, lots=2)  # the whole order filled
    gw = HyperliquidGateway(
        cast(Any, None), cast(Any, None), cast(Any, None), account="0x" + "11" * 20, asset=0,
        instrument=INST, tracking=tracking, venue_ms=lambda: 0,
    )  # fmt: skip
    cmd = AmendOrder(CLOID, "BTC", Side.BUY, 28150, 2)

    with pytest.raises(VenueError) as caught:
        trio.run(gw.amend, cmd)
    err = caught.value
    assert err.kind is RejectKind.UNKNOWN_ORDER and err.definite and err.code == ""
    assert _said(err) == (
        f"amend {CLOID} refused: the venue has no such open order "
        "(already filled: 0.002 of 0.002 BTC; not sent)"
    )


async def test_an_unanswered_post_names_the_websocket_post(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class _Silent:
        async def send_message(self, text: str) -> None:
            return None

    us = _stream()
    us._ws = cast(Any, _Silent())
    with pytest.raises(OutcomeUnknownError) as caught:
        await us.post("action", {"action": {"type": "order"}})
    assert caught.value.msg == f"no answer to websocket post 1 within {us.post_timeout_s:g} s"


@pytest.mark.parametrize(
    ("detail", "said"),
    [
        (
            "Too many requests (injected fault); back off.",
            "Too many requests (injected fault); back off. Retry after 3 s.",
        ),
        ("weight 1200 per minute spent.", "Too many requests: weight 1200 per minute spent. "
         "Retry after 3 s."),
    ],
)  # fmt: skip
def test_the_sims_rate_limited_post_says_too_many_requests_once(detail: str, said: str) -> None:
    # QA: "Too many requests: Too many requests (injected fault); back off. Retry after 3 s."
    assert limit_text(detail, 3) == said
    assert isinstance(_post_error_of(said), RateLimited)


def _post_error_of(text: str) -> Exception:
    us = _stream()
    told: list[RateLimited] = []
    us.on_limit = told.append
    us._on_post({"id": 9, "response": {"type": "error", "payload": text}})
    (limited,) = told
    assert limited.retry_after_s == 3.0
    return limited
