"""The microprice: the size-weighted mid of the top of book (:func:`microprice`).

The conventions every estimator follows are in :mod:`mmtrio.core.estimators`.
"""

from __future__ import annotations

from mmtrio.core.estimator_base import _positive
from mmtrio.errors import ParameterError


def microprice(bid_px: float, bid_qty: float, ask_px: float, ask_qty: float) -> float:
    """Size-weighted mid: ``(bid·askQty + ask·bidQty)/(bidQty + askQty)``, within [bid, ask].

    A heavy bid pulls the price toward the ask (buyers are queued up). Both sizes must be
    positive — an empty side is not a top of book — and the book must not be crossed or
    locked; otherwise ParameterError, so the caller goes to its "cannot quote" path.
    """
    if (
        type(bid_px) is int
        and type(ask_px) is int
        and type(bid_qty) is int
        and type(ask_qty) is int
        and bid_px > 0
        and ask_px > 0
        and bid_qty > 0
        and ask_qty > 0
    ):
        # The book's own touch (positive int ticks and lots), every plan: _positive's answers.
        bid, ask, bq, aq = float(bid_px), float(ask_px), float(bid_qty), float(ask_qty)
    else:
        bid = _positive(bid_px, "bid price")
        ask = _positive(ask_px, "ask price")
        bq = _positive(bid_qty, "bid size")
        aq = _positive(ask_qty, "ask size")
    if bid >= ask:
        raise ParameterError(f"book is crossed or locked (bid {bid} >= ask {ask}): no microprice")
    total = bq + aq
    # Written as bid + spread·weight so the result can never leave [bid, ask] by rounding.
    return bid + (ask - bid) * (bq / total)
