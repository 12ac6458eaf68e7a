"""Fuzzing the Binance codec: mutated real messages in, and what may come out.

Seeds are real messages: the first messages of each kind in the shipped recordings
(``data/binance-usdm/``: depth diffs, trades, book tickers, mark prices, the REST depth
snapshot) and the golden frames of the codec tests (user-stream events from Binance's
documentation, REST answers as Binance and the simulated venue print them). A mutation
replaces, deletes or inserts a value anywhere in a message (with values chosen to hurt:
Unicode digits, negative and zero sizes, exponents, huge integers, wrong types), changes a
decimal string's sign or scale, or damages the raw bytes of a stream message.

The oracle (:func:`check`): a decoder may raise only the project's named errors
(``mmtrio.errors.MmtrioError``) or return records that respect their invariants — sizes
not negative, a trade or fill larger than zero, a fill never larger than its order or its
cumulative filled size, prices above zero, a countdown not negative. Anything else
(another exception, an impossible record) is a finding.

Used by ``tests/property/test_codec_fuzz.py`` (hypothesis, in the suite) and
``benchmarks/codec_fuzz.py`` (a longer run that reports inputs tried and crashes).
"""

from __future__ import annotations

import copy
import gzip
import itertools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

from mmtrio.core.events import (
    AccountUpdate,
    BookTicker,
    Fill,
    FundingPayment,
    MarkPrice,
    OrderUpdate,
    Trade,
)
from mmtrio.core.instruments import BTCUSDT, ETHUSDT
from mmtrio.errors import MmtrioError
from mmtrio.venues.binance.codec import BinanceDecoder, ListenKeyExpired, TradeLite
from mmtrio.venues.binance.codec_market import DepthSnapshot, DepthUpdate
from mmtrio.venues.binance.codec_rest import (
    ExchangeInfo,
    OrderAck,
    OrderState,
    PositionRisk,
    parse_account,
    parse_countdown,
    parse_error_body,
    parse_exchange_info,
    parse_listen_key,
    parse_open_orders,
    parse_order_ack,
    parse_order_state,
    parse_position_risk,
    parse_server_time,
    parse_user_trades,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "binance-usdm"
PER_KIND = 20  # recorded messages kept per event kind and file

DEC = BinanceDecoder([BTCUSDT, ETHUSDT])


def _recorded() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name in ("btcusdt_20240808.gz", "ethusdt_20240808.gz", "btcusdt_20230404.dat.gz"):
        symbol = "ETHUSDT" if name.startswith("eth") else "BTCUSDT"
        kept: dict[str, int] = {}
        with gzip.open(DATA / name, "rb") as fh:
            for line in itertools.islice(fh, 50_000):
                obj = orjson.loads(line.split(b" ", 1)[1])
                data = obj.get("data", obj)
                kind = data.get("e", "snapshot")
                if kept.get(kind, 0) >= PER_KIND:
                    continue
                kept[kind] = kept.get(kind, 0) + 1
                if kind == "snapshot":
                    out.append((f"snapshot:{symbol}", data))
                else:
                    out.append(("stream", obj))  # envelope kept: the decoder unwraps it
    return out


_OTU_O = {
    "s": "BTCUSDT", "c": "mmt1-5", "S": "SELL", "o": "LIMIT", "f": "GTX", "q": "0.002",
    "p": "61810.00", "ap": "61810.00", "sp": "0", "x": "TRADE", "X": "PARTIALLY_FILLED",
    "i": 8886774, "l": "0.001", "z": "0.001", "L": "61810.00", "N": "USDT", "n": "-0.00198200",
    "T": 1568879465650, "t": 113, "b": "0", "a": "9.91", "m": True, "R": False,
    "wt": "CONTRACT_PRICE", "ot": "LIMIT", "ps": "BOTH", "cp": False, "rp": "0", "pP": False,
    "si": 0, "ss": 0, "V": "EXPIRE_TAKER", "pm": "NONE", "gtd": 0,
}  # fmt: skip
_ORDER = {
    "orderId": 42, "symbol": "BTCUSDT", "status": "PARTIALLY_FILLED", "clientOrderId": "mmt1-5",
    "price": "61810.00", "avgPrice": "61810.00", "origQty": "0.003", "executedQty": "0.001",
    "cumQty": "0.001", "cumQuote": "61.81", "timeInForce": "GTX", "type": "LIMIT",
    "reduceOnly": False, "closePosition": False, "side": "BUY", "positionSide": "BOTH",
    "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False,
    "origType": "LIMIT", "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_TAKER",
    "goodTillDate": 0, "time": 1723161256299, "updateTime": 1723161256300,
}  # fmt: skip
_POSITION = {
    "symbol": "BTCUSDT", "positionAmt": "-0.004", "entryPrice": "61800.1", "markPrice":
    "61810.0", "unRealizedProfit": "-0.0396", "liquidationPrice": "0", "leverage": "20",
    "positionSide": "BOTH", "notional": "-247.24", "updateTime": 1723161256300,
}  # fmt: skip
_TRADE = {
    "symbol": "BTCUSDT", "id": 77, "orderId": 42, "side": "BUY", "price": "61810.00",
    "qty": "0.001", "realizedPnl": "0", "marginAsset": "USDT", "quoteQty": "61.81",
    "commission": "-0.0061810", "commissionAsset": "USDT", "time": 1723161256300,
    "positionSide": "BOTH", "buyer": True, "maker": True,
}  # fmt: skip
_SYMBOL_INFO = {
    "symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
    "pricePrecision": 2, "quantityPrecision": 3,
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764",
         "tickSize": "0.10"},
        {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
        {"filterType": "MIN_NOTIONAL", "notional": "100"},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
         "multiplierDecimal": "4"},
    ],
}  # fmt: skip
# fmt: off
GOLDEN: list[tuple[str, Any]] = [
    ("stream", {"e": "ORDER_TRADE_UPDATE", "E": 1568879465651, "T": 1568879465650, "o": _OTU_O}),
    (
        "stream",
        {"e": "ORDER_TRADE_UPDATE", "E": 1, "T": 1,
         "o": {**_OTU_O, "x": "NEW", "X": "NEW", "l": "0", "z": "0", "L": "0", "t": 0}},
    ),
    (
        "stream",
        {"e": "TRADE_LITE", "E": 1721895408092, "T": 1721895408214, "s": "BTCUSDT",
         "q": "0.002", "p": "61810.00", "m": False, "c": "mmt1-5", "S": "BUY",
         "L": "61810.00", "l": "0.001", "t": 109100866, "i": 8886774},
    ),
    (
        "stream",
        {"e": "ACCOUNT_UPDATE", "E": 1564745798939, "T": 1564745798938,
         "a": {"m": "FUNDING_FEE",
               "B": [{"a": "USDT", "wb": "122624.12345678", "cw": "100.12345678",
                      "bc": "-50.12345678"}],
               "P": [{"s": "BTCUSDT", "pa": "-0.020", "ep": "9000.0", "cr": "200",
                      "up": "0.2", "mt": "isolated", "iw": "0.0", "ps": "BOTH"}]}},
    ),
    ("stream", {"e": "listenKeyExpired", "E": "1736996475556", "listenKey": "K"}),
    ("stream", {"stream": "btcusdt@aggTrade", "data": {
        "e": "aggTrade", "E": 5, "s": "BTCUSDT", "a": 26129, "p": "61810.00", "q": "0.100",
        "f": 100, "l": 105, "T": 4, "m": False}}),
    ("order_ack", {"orderId": 42, "clientOrderId": "mmt1-5", "symbol": "BTCUSDT",
                   "status": "NEW", "updateTime": 1723161256300}),
    ("order", _ORDER),
    ("open_orders", [_ORDER, {**_ORDER, "orderId": 43, "clientOrderId": "mmt1-6"}]),
    ("position_risk", [_POSITION]),
    ("account", {"assets": [{"asset": "USDT", "walletBalance": "100.0",
                             "availableBalance": "90.0", "unrealizedProfit": "-1.5"}],
                 "positions": [{"symbol": "BTCUSDT", "positionAmt": "0.004",
                                "entryPrice": "61800.1", "unrealizedProfit": "0.1"}]}),
    ("exchange_info", {"serverTime": 1723161256300, "symbols": [_SYMBOL_INFO], "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
         "limit": 2400},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300}]}),
    ("user_trades", [_TRADE, {**_TRADE, "id": 78, "buyer": False, "maker": False}]),
    ("countdown", {"symbol": "BTCUSDT", "countdownTime": "30000"}),
    ("listen_key", {"listenKey": "pqia91ma19a5s61cv6a81va65sdf19v8a65a1"}),
    ("server_time", {"serverTime": 1723161256300}),
    ("error_body", {"code": -5022, "msg": "Due to the order could not be executed as maker"}),
]
# fmt: on

SEEDS: list[tuple[str, Any]] = _recorded() + GOLDEN


def _group(target: str, seed: Any) -> str:
    """Seeds are drawn group first, so the few REST and user-stream frames get as many
    mutations as the hundreds of recorded market messages."""
    data = seed.get("data", seed) if isinstance(seed, dict) else None
    kind = data.get("e") if isinstance(data, dict) else None
    return f"{target}:{kind}" if target == "stream" else target


GROUPS: dict[str, list[tuple[str, Any]]] = {}
for _target, _seed in SEEDS:
    GROUPS.setdefault(_group(_target, _seed), []).append((_target, _seed))

TARGETS: dict[str, Callable[[Any], list[object]]] = {
    "stream": lambda obj: list(DEC.decode_obj(obj)),
    "stream_bytes": lambda raw: list(DEC.decode(raw)),
    "snapshot:BTCUSDT": lambda obj: [DEC.decode_snapshot(obj, "BTCUSDT")],
    "snapshot:ETHUSDT": lambda obj: [DEC.decode_snapshot(obj, "ETHUSDT")],
    "order_ack": lambda obj: [parse_order_ack(obj, DEC.codec_for)],
    "order": lambda obj: [parse_order_state(obj, DEC.codec_for)],
    "open_orders": lambda obj: list(parse_open_orders(obj, DEC.codec_for)),
    "position_risk": lambda obj: list(parse_position_risk(obj, DEC.codec_for)),
    "account": lambda obj: [parse_account(obj, DEC.codec_for)],
    "exchange_info": lambda obj: [parse_exchange_info(obj, {"BTCUSDT"})],
    "user_trades": lambda obj: list(parse_user_trades(obj, DEC.codec_for)),
    "countdown": lambda obj: [("countdown", parse_countdown(obj))],
    "listen_key": lambda obj: [parse_listen_key(obj)],
    "server_time": lambda obj: [("server_time", parse_server_time(obj))],
    "error_body": lambda obj: [parse_error_body(400, obj, None)],
}


# --- the oracle ---------------------------------------------------------------------------------


def _fill_problems(f: Fill | TradeLite, what: str) -> list[str]:
    out = []
    if f.qty <= 0:
        out.append(f"{what}: fill size {f.qty} lots is not positive")
    if f.price <= 0:
        out.append(f"{what}: fill price {f.price} ticks is not positive")
    return out


def problems(record: object) -> list[str]:
    """Invariants a decoded record must respect (empty when it does)."""
    out: list[str] = []
    if isinstance(record, DepthUpdate | DepthSnapshot):
        for price, qty in (*record.bids, *record.asks):
            if price <= 0 or qty < 0:
                out.append(f"{type(record).__name__}: level ({price}, {qty})")
    elif isinstance(record, Trade):
        if record.qty <= 0 or record.price <= 0:
            out.append(f"Trade: price {record.price}, size {record.qty}")
    elif isinstance(record, BookTicker):
        if min(record.bid_qty, record.ask_qty) < 0 or min(record.bid_price, record.ask_price) <= 0:
            out.append(f"BookTicker: {record}")
    elif isinstance(record, OrderUpdate):
        if record.qty < 0 or record.cum_qty < 0 or record.price < 0:
            out.append(f"OrderUpdate: size {record.qty}, filled {record.cum_qty}")
        if record.cum_qty > record.qty:
            out.append(f"OrderUpdate: filled {record.cum_qty} of {record.qty}")
        if record.fill is not None:
            out += _fill_problems(record.fill, "OrderUpdate")
            if record.fill.qty > record.qty:
                out.append(f"OrderUpdate: fill {record.fill.qty} on an order of {record.qty}")
            if record.fill.qty > record.cum_qty:
                out.append(f"OrderUpdate: fill {record.fill.qty} above filled {record.cum_qty}")
    elif isinstance(record, TradeLite):
        out += _fill_problems(record, "TradeLite")
    elif isinstance(record, Fill):
        out += _fill_problems(record, "userTrades")
    elif isinstance(record, OrderState):
        if record.qty < 0 or not 0 <= record.cum_qty <= max(record.qty, 0) or record.price < 0:
            out.append(f"OrderState: size {record.qty}, filled {record.cum_qty}")
    elif isinstance(record, MarkPrice):
        for name in ("mark_price", "index_price", "funding_rate"):
            if not getattr(record, name).is_finite():
                out.append(f"MarkPrice: {name} not finite")
        if record.mark_price <= 0 or record.index_price <= 0:
            out.append(f"MarkPrice: mark {record.mark_price}, index {record.index_price}")
    elif isinstance(record, AccountUpdate | FundingPayment):
        values = (
            [b.wallet_balance for b in record.balances] if isinstance(record, AccountUpdate)
            else [record.amount]
        )  # fmt: skip
        if not all(isinstance(v, Decimal) and v.is_finite() for v in values):
            out.append(f"{type(record).__name__}: a balance is not a finite number")
    elif isinstance(record, tuple) and record and record[0] == "countdown":
        if not isinstance(record[1], int) or record[1] < 0:
            out.append(f"countdownTime {record[1]!r}")
    elif isinstance(record, OrderAck | PositionRisk | ExchangeInfo | ListenKeyExpired):
        pass  # their constructors and the codec validate what they hold
    return out


def check(target: str, value: Any) -> str | None:
    """None when the decoder behaved; else what went wrong (a finding)."""
    try:
        out = TARGETS[target](value)
    except MmtrioError:
        return None
    except Exception as exc:  # the finding: anything but a named error
        return f"{target}: {type(exc).__name__}: {exc}"
    found = [p for record in out for p in problems(record)]
    return f"{target}: {'; '.join(found)}" if found else None


# --- mutations ------------------------------------------------------------------------------------

NASTY = st.one_of(
    st.sampled_from(
        ["²", "١٢", "-0.001", "0", "0.000", "-1", "1e400", "1E-400", "NaN", "Infinity", "-0",
         "", " 1", "1_000", "0x10", "99999999999999999999999.9", "5000.000", "61810.05",
         "61810.00", "1.0", "true", "null", "[]", "{}"]
    ),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def _scaled(value: str, factor: str) -> str:
    try:
        return str(Decimal(value) * Decimal(factor))
    except ArithmeticError:
        return value


@st.composite
def _mutate_once(draw: st.DrawFn, obj: Any) -> Any:
    path = draw(st.sampled_from(_paths(obj)))
    target = _get(obj, path)
    ops = ["replace", "insert", "wrap"]
    if path:
        ops.append("delete")
    if isinstance(target, str):
        ops += ["scale", "scale"]
    op = draw(st.sampled_from(ops))
    if op == "scale":
        factor = draw(st.sampled_from(["-1", "0", "1000", "2500", "0.5", "1.0000001"]))
        new: Any = _scaled(target, factor)
    elif op == "replace":
        new = draw(NASTY)
    elif op == "wrap":
        new = [target]
    elif op == "insert" and isinstance(target, dict):
        key = draw(st.sampled_from([*target.keys(), "e", "x", "data", "stream", "zz"]))
        target[key] = draw(NASTY)
        return obj
    elif op == "insert" and isinstance(target, list):
        target.insert(draw(st.integers(0, len(target))), draw(NASTY))
        return obj
    elif op == "delete":
        parent = _get(obj, path[:-1])
        del parent[path[-1]]
        return obj
    else:
        new = draw(NASTY)
    if not path:
        return new
    _get(obj, path[:-1])[path[-1]] = new
    return obj


@st.composite
def mutated_messages(draw: st.DrawFn) -> tuple[str, Any]:
    """A (target, message) pair: a seed with one to four mutations."""
    group = draw(st.sampled_from(sorted(GROUPS)))
    target, seed = draw(st.sampled_from(GROUPS[group]))
    obj = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 4))):
        obj = draw(_mutate_once(obj))
    return target, obj


@st.composite
def damaged_bytes(draw: st.DrawFn) -> bytes:
    """A stream seed's bytes, truncated, overwritten or extended at a random place."""
    _, seed = draw(st.sampled_from([s for s in SEEDS if s[0] == "stream"]))
    raw = bytearray(orjson.dumps(seed))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(raw)))
        op = draw(st.sampled_from(["cut", "flip", "insert"]))
        if op == "cut":
            raw = raw[:i]
        elif op == "flip" and i < len(raw):
            raw[i] = draw(st.integers(0, 255))
        else:
            raw[i:i] = draw(st.binary(min_size=1, max_size=4))
    return bytes(raw)
