"""The status snapshot: one JSON-able picture of the bot, for `mmtrio status`, logs and later
the rich screen.

:class:`StatusSources` holds references to the live parts (strategy, execution, supervisor,
feeds, journal); :func:`build_snapshot` reads them without awaiting — in Trio's single thread
that makes the snapshot consistent (nothing moves while it is built). Everything in the
snapshot is plain data (strings, numbers, lists, dicts): no live object escapes, and money
stays exact (Decimal → string).

:func:`status_line` is the periodic log line: state, position, mid, quotes, P&L, fills, and
the sockets that are down.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import trio
from loguru import logger

from mmtrio import determinism
from mmtrio.core.instruments import Instrument
from mmtrio.runtime.backoffs import Backoffs
from mmtrio.runtime.inbox import LaneStats
from mmtrio.runtime.socket_counts import OrderSocketCounts
from mmtrio.runtime.status_doc import STATUS_SCHEMA, strategy_doc, units_doc
from mmtrio.venues.protocol import SocketHealth


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-safe plain data (dataclasses, enums, Decimals, tuples, mappings)."""
    if depth > 8:
        return repr(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    return str(value)


@dataclass
class StatusSources:
    """What the snapshot reads. Any part may be None while the bot is starting."""

    symbol: str
    clock_ms: Callable[[], int]
    instrument: Instrument | None = None  # read from the venue at start
    strategy: Any = None  # core.strategy.MarketMaker
    execution: Any = None  # runtime.execution.Execution
    supervisor: Any = None  # runtime.supervisor.Supervisor
    market: LaneStats | None = None
    user: LaneStats | None = None
    # The venue's order socket, when the session has one (venues.protocol.OrderSocket).
    orders: Callable[[], SocketHealth | None] | None = None
    backoffs: Backoffs | None = None  # rate-limit back-offs since start (metrics)
    journal: Any = None  # runtime.journal_writer.JournalWriter
    loop: Any = None  # runtime.trading.TradingLoop
    phase: str = "starting"
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    bot: str = ""  # [runtime] name: the metric label `bot`
    venue: str = ""  # [venue] name: the metric label `venue`
    order_counts: OrderSocketCounts = dataclasses.field(default_factory=OrderSocketCounts)

    def order_socket(self) -> SocketHealth | None:
        """The order socket's health with its counts totalled since start (one count for
        the screen, the metrics and `mmtrio status`: runtime/socket_counts.py); None while the
        session has none."""
        health = self.orders() if self.orders is not None else None
        return None if health is None else self.order_counts.total(health)


def build_snapshot(src: StatusSources) -> dict[str, Any]:
    """A consistent JSON-able snapshot of the whole bot (see module docstring)."""
    now = src.clock_ms()
    inst = src.instrument
    snap: dict[str, Any] = {
        "schema": STATUS_SCHEMA,
        "ts": now,
        "pid": determinism.pid(),
        "bot": src.bot,
        "venue": src.venue,
        "symbol": src.symbol,
        "phase": src.phase,
        "units": None if inst is None else units_doc(inst),
    }
    if src.strategy is not None and inst is not None:
        snap["strategy"] = strategy_doc(src.strategy.status(now), inst)
    if src.execution is not None:
        snap["execution"] = jsonable(src.execution.stats())
    if src.supervisor is not None:
        snap["children"] = jsonable(src.supervisor.snapshot())
    orders = src.order_socket()
    snap["feeds"] = {
        "market": src.market.to_json() if src.market is not None else None,
        "user": src.user.to_json() if src.user is not None else None,
        # the order-entry socket (the screen's and the metrics' ws="orders"); None without one
        "orders": None
        if orders is None
        else {
            "connected": orders.connected,
            "reconnects": orders.reconnects,
            "requests": orders.requests,
        },
    }
    if src.journal is not None:
        snap["journal"] = {
            "written": src.journal.written,
            "backlog": src.journal.backlog,
            "dropped": src.journal.dropped,
            "lagging": src.journal.lagging,
        }
    if src.loop is not None:
        snap["loop"] = {
            "steps": src.loop.steps,
            "commands": src.loop.commands_sent,
            "last_step_us": src.loop.last_step_ns // 1000,
        }
    snap.update(jsonable(src.extra))
    return snap


def status_line(snap: Mapping[str, Any]) -> str:
    """One human line from a snapshot (``mmtrio status --text``, kill/resume answers)."""
    st = snap.get("strategy")
    who = f"{snap.get('bot') or snap.get('symbol')} ({snap.get('symbol')})"
    if not isinstance(st, Mapping):
        return f"{who} {snap.get('phase')}: strategy not started"
    unit = snap.get("units") or {}
    base, quote = unit.get("size", ""), unit.get("money", "")
    # Bids first, then asks, each nearest the touch first: the same order every time.
    quotes = sorted(
        (q for q in st.get("quotes") or [] if isinstance(q, Mapping)),
        key=lambda q: (q.get("side") != "BUY", q.get("level", 0)),
    )
    q_text = " ".join(
        f"{q.get('side')} {q.get('size')}@{q.get('price')}"
        for q in quotes
        if isinstance(q, Mapping)
    )
    raw_ledger = st.get("ledger")
    led: Mapping[str, Any] = raw_ledger if isinstance(raw_ledger, Mapping) else {}
    reason = st.get("cannot_quote") or st.get("reason")
    model = st.get("model")
    defence = model.get("defence") if isinstance(model, Mapping) else None
    acting = defence.get("reason") if isinstance(defence, Mapping) else None
    down = _sockets_down(snap.get("feeds"))
    tail = f" | ws DOWN: {','.join(down)}" if down else ""  # as the screen's log line says it
    tail += f" | {acting}" if acting and acting != "defence idle" else ""
    if led.get("equity_excludes"):  # fees in another asset not yet priced: said plainly
        tail += f" | {led.get('equity_excludes')}"
    return (
        f"{who} {st.get('trading_state')}{f' ({reason})' if reason else ''} | "
        f"position {st.get('position')} {base} ({st.get('band')}) | "
        f"bid {st.get('best_bid')} ask {st.get('best_ask')} | quotes {q_text or 'none'} | "
        f"P&L {led.get('equity')} {quote} (realised {led.get('realised')}, unrealised "
        f"{led.get('unrealised')}, fees {led.get('fees')}, funding {led.get('funding')}) | "
        f"drawdown {st.get('drawdown')}/{st.get('max_drawdown')} | fills {led.get('fills')}"
        f"{tail}"
    )


def _sockets_down(feeds: Any) -> list[str]:
    """The sockets of a snapshot's ``feeds`` that are down (market, user, orders), in order;
    a socket the bot does not have (None) is not down."""
    if not isinstance(feeds, Mapping):
        return []
    return [
        str(name)
        for name, feed in feeds.items()
        if isinstance(feed, Mapping) and feed.get("connected") is False
    ]


async def log_status(src: StatusSources, interval_s: float = 5.0) -> None:
    """Log :func:`status_line` every ``interval_s`` seconds until cancelled."""
    while True:
        await trio.sleep(interval_s)
        logger.info("status {line}", line=status_line(build_snapshot(src)))
