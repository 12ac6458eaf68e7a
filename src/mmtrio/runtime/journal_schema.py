"""The journal's on-disk format: tables, migrations, record kinds and payload encoding.

One SQLite database per bot, ``<state_dir>/journal.sqlite3``. Tables:

``records`` — append-only, one row per journaled fact:
  ``seq`` (INTEGER PRIMARY KEY AUTOINCREMENT: monotonic, never reused even after pruning),
  ``kind`` (one of :class:`Kind`), ``session`` (the client-id epoch of the process that wrote
  it), ``local_ts_ms`` (our wall clock), ``exchange_ts_ms`` (the venue's time, nullable),
  ``payload`` (JSON text; prices in int ticks, sizes in int lots, money as decimal strings).

``fills`` — an index of our fills: ``(symbol, trade_id)`` is UNIQUE, so journaling the same
  fill twice (user stream and REST reconciliation both report it) is a no-op, and "fills since
  the last journaled trade id" is one indexed query. Binance trade ids are unique per symbol,
  hence the pair. ``reconciled`` turns 1 once a successful ``reconcile`` record follows the
  fill (the venue's position agreed with the books): retention never deletes an unreconciled
  fill nor any record after it.

``meta`` — key/value; ``client_id_epoch`` is incremented atomically at every start.

Record kinds and their payloads (``Kind``):

- ``start`` {pid, version, venue?, mode?, symbol?} / ``stop`` {reason, exit_code} /
  ``restart`` {component, reason}
- ``config_load`` / ``config_reload`` {digest, summary} (never a secret)
- ``order_sent`` {op: place|amend|cancel|cancel_all|query, client_id, symbol, side?, price?,
  qty?, tif?, reduce_only?, reason?}
- ``order_outcome`` {outcome: accepted|rejected|unknown|not_found, op, client_id, order_id?,
  code?, reason?, price?, qty?}
- ``order_update`` {client_id, order_id, symbol, side, exec_type, status, price, qty, cum_qty,
  trade_id?}
- ``fill`` {symbol, trade_id, client_id, order_id, side, price, qty, fee, fee_asset, is_maker,
  bid?, ask?} — ``bid``/``ask`` are the book's best prices (ticks) when the fill was booked,
  the mid the report uses for spread capture and markouts.
- ``position`` {symbol, lots, entry_price} / ``balance`` {asset, wallet_balance, ...}
- ``funding`` {symbol, amount}
- ``state_change`` {state, reason} / ``kill_switch`` {reason, flatten}
- ``risk_state`` {ts, total, position_lots, valued_at, peak, day, day_start, cumulative_base,
  breaches, kill_reason, kill_flatten} — the loss limits and the kill switch a restart
  continues (:class:`mmtrio.core.loss_limits.LimitsState`); written when a latch changes, with
  every fill, and at least every second while the books move
- ``resume`` {accepted, override, operator_reason, outcome} — every operator resume, refused or
  not, with the operator's reason
- ``mid_sample`` {symbol, bid, ask} (ticks; sampled, e.g. every 250 ms, for markouts)
- ``reconcile`` {ok, orders?, position_lots?, detail?}
- ``journal_gap`` {dropped} — ordinary samples the writer had to drop (channel full)
- ``instrument`` {symbol, tick_size, lot_size, contract_size, min_qty, max_qty, min_notional,
  min_price_ticks, max_price_ticks, base_asset, quote_asset, sig_figs} — the venue's rules as
  read at start: the report turns the journal's ticks and lots back into prices with them
"""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, NamedTuple

from mmtrio.core.commands import Command, PlaceOrder
from mmtrio.core.events import Fill, OrderUpdate
from mmtrio.core.fill_record import fill_payload
from mmtrio.core.instruments import Instrument
from mmtrio.errors import JournalError


class Kind(enum.StrEnum):
    """Record kinds (the ``kind`` column). Their payloads are listed in the module docstring."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"
    CONFIG_LOAD = "config_load"
    CONFIG_RELOAD = "config_reload"
    ORDER_SENT = "order_sent"
    ORDER_OUTCOME = "order_outcome"
    ORDER_UPDATE = "order_update"
    FILL = "fill"
    POSITION = "position"
    BALANCE = "balance"
    FUNDING = "funding"
    STATE_CHANGE = "state_change"
    KILL_SWITCH = "kill_switch"
    MID_SAMPLE = "mid_sample"
    RECONCILE = "reconcile"
    JOURNAL_GAP = "journal_gap"
    INSTRUMENT = "instrument"
    RISK_STATE = "risk_state"
    RESUME = "resume"


DROPPABLE_KINDS = frozenset({Kind.MID_SAMPLE})
"""Kinds the writer may drop when its channel is full (samples, rebuilt by the next one).
Every other kind is never dropped: see ``journal_writer``."""

META_EPOCH = "client_id_epoch"

# Each entry moves the schema from version i to i+1; applied in order inside one transaction
# each, so a crash mid-migration leaves the previous version intact. Never edit a released
# entry: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        session INTEGER NOT NULL,
        local_ts_ms INTEGER NOT NULL,
        exchange_ts_ms INTEGER,
        payload TEXT NOT NULL
    );
    CREATE INDEX records_kind_seq ON records(kind, seq);
    CREATE INDEX records_ts ON records(local_ts_ms);
    CREATE TABLE fills (
        symbol TEXT NOT NULL,
        trade_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        session INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL,
        reconciled INTEGER NOT NULL DEFAULT 0,
        UNIQUE (symbol, trade_id)
    );
    CREATE INDEX fills_seq ON fills(seq);
    CREATE INDEX fills_unreconciled ON fills(reconciled, seq);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta(key, value) VALUES ('client_id_epoch', '0');
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to ``SCHEMA_VERSION``; returns the version found before."""
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise JournalError(
            f"journal schema version {found} is newer than this mmtrio understands "
            f"({SCHEMA_VERSION}); run the mmtrio version that wrote it, or upgrade"
        )
    if found == 0:
        # Must precede the first CREATE TABLE: lets pruning hand pages back to the filesystem.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    for version in range(found, SCHEMA_VERSION):
        statements = [s.strip() for s in MIGRATIONS[version].split(";") if s.strip()]
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in statements:
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


@dataclass(frozen=True, slots=True)
class Record:
    """One journal row before it is written (``seq`` and ``session`` are assigned on write)."""

    kind: Kind
    local_ts_ms: int
    payload: Mapping[str, Any] = field(default_factory=dict)
    exchange_ts_ms: int | None = None


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot journal a {type(value).__name__}: {value!r}")


# One encoder, built once: ``json.dumps`` with keyword arguments builds a new encoder per call.
_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"), sort_keys=True)
_quote: Callable[[str], str] = encode_basestring_ascii  # a str → its JSON string literal
# The C scanner ``_ENCODER.encode`` builds anew on every call (with a fresh dict to detect
# circular references), built once: the same text, a few µs less per record on the trading
# loop. Without that dict a circular payload ends in RecursionError instead of ValueError;
# encode_record refuses both. None when the C accelerator is missing (then _ENCODER does it).
_ENCODE_C: Callable[[object, int], Sequence[str]] | None = (
    None
    if c_make_encoder is None
    else c_make_encoder(None, _default, encode_basestring_ascii, None, ":", ",", True, False, True)
)


def encode_payload(payload: Mapping[str, Any]) -> str:
    """Payload → compact JSON text (Decimals as strings so money stays exact)."""
    if _ENCODE_C is None or not isinstance(payload, dict):
        return _ENCODER.encode(payload)
    return "".join(_ENCODE_C(payload, 0))


class EncodedRecord(NamedTuple):
    """A :class:`Record` encoded to its final text, ready for ``Journal.write_rows``.

    Built by :func:`encode_record` on the producer's side (the event loop), so the commit
    thread only joins strings and hands SQLite one parameter per run of rows: it holds the
    GIL for microseconds per batch, not per record (figures in ``journal_writer``).
    """

    kind: Kind
    local_ts_ms: int
    row: str  # JSON array [kind, local_ts_ms, exchange_ts_ms, payload text]: one bulk-insert row
    fill_key: tuple[str, int] | None  # (symbol, trade_id) of a fill: the dedupe key
    marks_reconciled: bool  # a successful ``reconcile``: earlier fills become reconciled


def _timestamp(rec: Record, name: str, value: object, *, nullable: bool) -> None:
    if (value is None and nullable) or type(value) is int:
        return
    raise JournalError(
        f"cannot journal a {rec.kind} record: {name} must be an int (ms), got "
        f"{value!r}; this is a bug in the code that built the record"
    )


def encode_record(rec: Record) -> EncodedRecord:
    """Encode ``rec`` once, up front; raises :class:`JournalError` for a record SQLite would
    refuse (unencodable payload value, fill without symbol/trade id, bad timestamps).

    Refusing here, in the caller's ``append``, names the faulty record to the code that made
    it, instead of failing a whole batch later in the commit thread and stopping the writer.
    """
    _timestamp(rec, "local_ts_ms", rec.local_ts_ms, nullable=False)
    _timestamp(rec, "exchange_ts_ms", rec.exchange_ts_ms, nullable=True)
    payload = rec.payload
    try:
        text = encode_payload(payload)
    except (TypeError, ValueError, RecursionError) as exc:
        raise JournalError(f"cannot journal a {rec.kind} record: {exc}") from exc
    fill_key: tuple[str, int] | None = None
    if rec.kind is Kind.FILL:
        symbol, trade_id = payload.get("symbol"), payload.get("trade_id")
        if not isinstance(symbol, str) or type(trade_id) is not int:
            raise JournalError(
                f"cannot journal a fill without a str symbol and an int trade_id (got symbol="
                f"{symbol!r}, trade_id={trade_id!r}); build fills with journal_schema.fill()"
            )
        fill_key = (symbol, trade_id)
    ex = "null" if rec.exchange_ts_ms is None else str(rec.exchange_ts_ms)
    # Kind values are plain identifiers and the timestamps were checked to be ints above, so
    # only the payload text needs quoting.
    row = f'["{rec.kind.value}",{rec.local_ts_ms},{ex},{_quote(text)}]'
    marks = rec.kind is Kind.RECONCILE and payload.get("ok") is True
    return EncodedRecord(rec.kind, rec.local_ts_ms, row, fill_key, marks)


# --- builders: core objects → records (the engine calls these; one place, one format) -------


_SENT_OPS = {
    "PlaceOrder": "place",
    "AmendOrder": "amend",
    "CancelOrder": "cancel",
    "CancelAll": "cancel_all",
    "QueryOrder": "query",
}
_SENT_FIELDS = ("client_id", "side", "price", "qty", "time_in_force", "reduce_only", "reason")
# Per command class: its op and (payload key, attribute) pairs, worked out on its first
# order_sent instead of probing seven attributes on every command the loop journals.
_SENT_SHAPES: dict[type, tuple[str, tuple[tuple[str, str], ...]]] = {}


def _sent_shape(command: Command) -> tuple[str, tuple[tuple[str, str], ...]]:
    cls = type(command)
    shape = _SENT_SHAPES.get(cls)
    if shape is None:
        op = _SENT_OPS[cls.__name__]
        tif_key = "tif" if isinstance(command, PlaceOrder) else "time_in_force"
        pairs = tuple(
            (tif_key if name == "time_in_force" else name, name)
            for name in _SENT_FIELDS
            if hasattr(command, name)
        )
        shape = _SENT_SHAPES[cls] = (op, pairs)
    return shape


def order_sent(command: Command, local_ts_ms: int) -> Record:
    """``order_sent`` for any command (the client id is the key recovery works with)."""
    op, pairs = _sent_shape(command)
    payload: dict[str, Any] = {"op": op, "symbol": command.symbol}
    for key, name in pairs:
        payload[key] = getattr(command, name)
    return Record(Kind.ORDER_SENT, local_ts_ms, payload)


def fill(f: Fill, local_ts_ms: int, bid: int | None = None, ask: int | None = None) -> Record:
    """``fill`` with the best bid/ask (ticks) at booking time, for spread capture
    (:mod:`mmtrio.core.fill_record` defines the payload, and reads it back)."""
    return Record(Kind.FILL, local_ts_ms, fill_payload(f, bid, ask), exchange_ts_ms=f.ts)


def order_update(u: OrderUpdate, local_ts_ms: int) -> Record:
    """``order_update``: the essentials of ORDER_TRADE_UPDATE (the fill goes in its own record)."""
    payload = {
        "client_id": u.client_id,
        "order_id": u.order_id,
        "symbol": u.symbol,
        "side": u.side,
        "exec_type": u.exec_type,
        "status": u.status,
        "price": u.price,
        "qty": u.qty,
        "cum_qty": u.cum_qty,
        "trade_id": u.fill.trade_id if u.fill is not None else None,
    }
    return Record(Kind.ORDER_UPDATE, local_ts_ms, payload, exchange_ts_ms=u.ts)


def instrument_record(inst: Instrument, local_ts_ms: int) -> Record:
    """The venue's rules for ``inst`` as read at start (``instrument``)."""
    return Record(Kind.INSTRUMENT, local_ts_ms, inst.to_json())
