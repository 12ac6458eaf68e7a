"""What the chaos judge is given and what it returns: the evidence of one run (venue
snapshots, journal records, bot processes, stop checks, limits) and :class:`Violation`.

Plain data, no I/O and no clock; the checkers are :mod:`mmtrio.chaos.invariants` and the
``*_checks`` modules it gathers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mmtrio.chaos.botconfig import ChaosHarnessError


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: int
    at_ms: int | None  # wall ms of the offending event, when known
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"invariant": self.invariant, "at_ms": self.at_ms, "message": self.message}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The venue's state as polled by the harness at ``wall_ms``."""

    wall_ms: int
    open_orders: tuple[str, ...]
    position_lots: int
    n_fills: int
    bot_alive: bool


def snapshot_of(truth: Mapping[str, Any], *, bot_alive: bool) -> Snapshot:
    """A venue state (``/admin/state``) as a :class:`Snapshot` for the process harness,
    stamped with the venue's own time of that state (its ``wall_ms``), never with when its
    answer reached the harness (the deterministic harness reads the venue in memory).

    A bot's statements are compared with snapshots by time, and a statement is never ahead of
    the venue only if the snapshot's time is the time its state held. Stamped on arrival, a
    state read before a fill and delivered after the bot had booked and logged that fill
    was judged against the bot's newer position: chaos seed 3057 on Binance ("bot 2 lots,
    venue 0 lots") and seeds 1803 and 1817 on Hyperliquid ("bot 4 / venue 2" and "bot -8 /
    venue -6", each a fill the bot booked 22-30 ms before the arrival stamp, on a machine at
    load 10-13). A state without its time is a harness error: there is no honest stamp."""
    wall = truth.get("wall_ms")
    if isinstance(wall, bool) or not isinstance(wall, int):
        raise ChaosHarnessError(
            f"the venue's state has no integer wall_ms (got {wall!r}): the judge needs the time "
            "the venue read it; a sim front end must report SimVenue.ground_truth() as is"
        )
    return Snapshot(
        wall_ms=wall,
        open_orders=tuple(truth["open_orders"]),
        position_lots=int(truth["position"]["lots"]),
        n_fills=len(truth["fills"]),
        bot_alive=bot_alive,
    )


@dataclass(frozen=True, slots=True)
class JournalRecord:
    seq: int
    kind: str
    local_ts_ms: int
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """One incarnation of the bot: how it ended and what the harness did to it."""

    index: int
    start_ms: int
    end_ms: int | None  # None: still running when evidence was collected
    exit_code: int | None  # negative: killed by that signal (subprocess convention)
    # "KILL" | "TERM" | None: the harness's last stop signal; "FSIZE": its file writes were
    # refused (journal_full), so it had to stop by itself
    signal_sent: str | None
    log_text: str


@dataclass(frozen=True, slots=True)
class StopCheck:
    """Open orders at the venue once the stop deadline had passed, or (``journal_full``)
    right after the bot stopped by itself; ``signal_ms`` is then its first failed write."""

    kind: str  # "sigterm" | "sigkill" | "journal_full"
    signal_ms: int
    deadline_ms: int  # the budget: shutdown deadline or dead-man countdown
    checked_ms: int
    open_orders: tuple[str, ...]
    # sigkill: whether the venue's dead-man countdown was armed when the kill was sent (the
    # only thing that can then clear the venue); False when no bot had armed it yet
    deadman_armed: bool = True
    # journal_full: ms of the stop the venue barred the bot's requests (429/418 waits, held
    # answers; :func:`barred_ms_within`)
    barred_ms: int = 0


@dataclass(frozen=True, slots=True)
class Limits:
    max_position_lots: int
    reconcile_interval_ms: int
    cancel_deadline_ms: int
    grace_ms: int = 1_500  # scheduling and polling slack added to every deadline
    # the bot's dead-man countdown and refresh period (invariant 11); None: not judged
    deadman_countdown_ms: int | None = None
    deadman_refresh_ms: int | None = None


@dataclass
class Evidence:
    """Everything one run produced, as the checkers need it."""

    final_truth: Mapping[str, Any]
    snapshots: list[Snapshot]
    journal_trade_ids: list[int]  # the `fills` table
    records: list[JournalRecord]
    processes: list[ProcessRecord]
    stop: StopCheck | None
    limits: Limits
    foreign_ids: frozenset[str] = frozenset()
    self_stops: list[StopCheck] = field(default_factory=list)  # after journal_full
    fill_cutoff: int | None = None  # check only the first N venue fills (final SIGKILL)
    final_position_check: bool = True
    extra: list[Violation] = field(default_factory=list)
    # (from, to) wall ms in which the link to the venue was silent (the fault proxy)
    link_silent: list[tuple[int, int]] = field(default_factory=list)
    gap_faults: list[int] = field(default_factory=list)  # wall ms of each position_gap


def journal_lot(records: Sequence[JournalRecord]) -> Decimal | None:
    """One lot of the instrument the bot journaled, in the base asset its log speaks sizes
    in: the lot size times the contract size (OKX: 0.1 contracts of 0.01 BTC is 0.001 BTC;
    read as 0.1, a log line's "0.002 BTC" was no whole number of lots and was skipped)."""
    for r in reversed(records):
        if r.kind == "instrument" and "lot_size" in r.payload:
            contract = Decimal(str(r.payload.get("contract_size", "1")))
            return Decimal(str(r.payload["lot_size"])) * contract
    return None
