"""The Binance codec's fast paths agree with its checked parsers on every input.

Each hot parser (depth diff, trade, aggTrade, bookTicker, order update) reads a message
without the named accessors and hands anything unexpected to the checked parser. These tests
take a valid message of each kind and every single-field corruption of it (field removed,
each wrong type, off-grid, negative, zero, out of order sizes) and require the public parser
to give exactly what the checked parser gives: the same record, or a ProtocolError with the
same words.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mmtrio.core.events import ExecType
from mmtrio.core.instruments import BTCUSDT
from mmtrio.errors import ProtocolError
from mmtrio.venues.binance import codec_market as m
from mmtrio.venues.binance import codec_user as u
from mmtrio.venues.binance.codec import BinanceDecoder

DEC = BinanceDecoder([BTCUSDT])
IC = DEC.codec_for("BTCUSDT")

DEPTH: dict[str, Any] = {
    "e": "depthUpdate", "E": 7, "T": 6, "s": "BTCUSDT", "U": 10, "u": 12, "pu": 9,
    "b": [["100.10", "1.000"], ["100.00", "0.000"]], "a": [["100.20", "0.500"]],
}  # fmt: skip
TRADE: dict[str, Any] = {
    "e": "trade", "E": 5, "T": 4, "s": "BTCUSDT", "t": 26129, "p": "100.10", "q": "0.003",
    "m": True,
}  # fmt: skip
AGG: dict[str, Any] = {**TRADE, "e": "aggTrade", "a": 555}
TICKER: dict[str, Any] = {
    "e": "bookTicker", "u": 400, "E": 8, "T": 7, "s": "BTCUSDT", "b": "100.10", "B": "1.000",
    "a": "100.20", "A": "0.000",
}  # fmt: skip
UPDATE: dict[str, Any] = {
    "e": "ORDER_TRADE_UPDATE", "E": 1568879465651, "T": 1568879465650,
    "o": {
        "s": "BTCUSDT", "c": "mmt1-7", "S": "BUY", "o": "LIMIT", "f": "GTX", "q": "0.002",
        "p": "100.10", "x": "AMENDMENT", "X": "NEW", "i": 8886774, "l": "0", "z": "0.001",
        "L": "0", "T": 1568879465650, "t": 0, "m": False, "R": False,
    },
}  # fmt: skip

# Values every field is tried with: wrong types, bad numbers, off-grid, zero and negatives.
ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 1.5, "", "x", "0", "-1", "-0.10", "100.15", "0.0005",
    "1e2", "١", [], {}, [["100.10"]], [["100.10", "1.000", "2"]], [[100.1, "1.000"]],
    [["100.10", 1]], [["-100.10", "1.000"]], [["100.10", "-1.000"]], [["0.00", "1.000"]],
    "BUY", "SELL", "TRADE", "NEW", "CANCELED", "GTC", "ETHUSDT", "XRPUSDT",
]  # fmt: skip


def _outcome(parse: Callable[..., object], *args: Any) -> str:
    try:
        return repr(parse(*args))
    except ProtocolError as exc:
        return f"ProtocolError: {exc}"


def _variants(msg: dict[str, Any]) -> Iterator[Any]:
    """``msg`` itself, then each field (also inside ``o``) removed or given each odd value."""
    yield msg
    paths = [(k,) for k in msg] + [("o", k) for k in msg.get("o", {})]
    for path in paths:
        holder_of: Callable[[dict[str, Any]], dict[str, Any]] = (
            (lambda d: d) if len(path) == 1 else (lambda d: d["o"])
        )
        gone = copy.deepcopy(msg)
        del holder_of(gone)[path[-1]]
        yield gone
        for value in ODD_VALUES:
            odd = copy.deepcopy(msg)
            holder_of(odd)[path[-1]] = copy.deepcopy(value)
            yield odd
    yield from (None, [], "x", 1)  # not even an object


CASES = [
    ("depthUpdate", DEPTH, m.parse_depth_update, m._depth_update_checked),
    ("trade", TRADE, m.parse_trade, m._trade_checked),
    ("aggTrade", AGG, m.parse_agg_trade, m._agg_trade_checked),
    ("bookTicker", TICKER, m.parse_book_ticker, m._book_ticker_checked),
]


@pytest.mark.parametrize(("name", "base", "fast", "checked"), CASES, ids=[c[0] for c in CASES])
def test_market_fast_paths_match_the_checked_parsers(
    name: str, base: dict[str, Any], fast: Any, checked: Any
) -> None:
    tried = 0
    for msg in _variants(base):
        assert _outcome(fast, msg, IC) == _outcome(checked, msg, IC), msg
        tried += 1
    # The valid message itself goes the fast way and is a real record.
    assert not _outcome(fast, base, IC).startswith("ProtocolError")
    assert tried > 100


def test_order_update_fast_path_matches_the_checked_parser() -> None:
    lookup = DEC.codec_for
    trade = copy.deepcopy(UPDATE)
    trade["o"].update({"x": "TRADE", "X": "PARTIALLY_FILLED", "l": "0.001", "L": "100.10",
                       "t": 113, "n": "0.0001", "N": "USDT"})  # fmt: skip
    for base in (UPDATE, trade):
        for msg in _variants(base):
            got = _outcome(u.parse_order_trade_update, msg, lookup)
            assert got == _outcome(u._order_update_checked, msg, lookup), msg


def test_fast_paths_take_the_valid_messages() -> None:
    """The fast paths are the ones that answer a valid message (not the fallback): each gives
    the record itself, and a fill-carrying update is left to the checked parser."""
    assert m._depth_update_fast(DEPTH, IC) == m._depth_update_checked(DEPTH, IC)
    assert m._trade_fast(TRADE, IC, "t") == m._trade_checked(TRADE, IC)
    assert m._trade_fast(AGG, IC, "a") == m._agg_trade_checked(AGG, IC)
    assert m._book_ticker_fast(TICKER, IC) == m._book_ticker_checked(TICKER, IC)
    upd = u._order_update_fast(UPDATE, DEC.codec_for)
    assert upd is not None and upd == u._order_update_checked(UPDATE, DEC.codec_for)
    assert upd.exec_type is ExecType.AMENDMENT and upd.cum_qty == 1 and upd.price == 1001
    trade = copy.deepcopy(UPDATE)
    trade["o"]["x"] = "TRADE"
    assert u._order_update_fast(trade, DEC.codec_for) is None
    assert m._depth_update_fast({**DEPTH, "b": [["100.15", "1.000"]]}, IC) is None
