"""The shutdown path's exit codes, including a stop before start-up reached the venue, and the
order of its steps."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from loguru import logger

from mmtrio.core.commands import CancelAll
from mmtrio.core.events import OutcomeUnknown, Side
from mmtrio.errors import JournalError, VenueError
from mmtrio.runtime.shutdown import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SAFE_STOP,
    HowItEnded,
    Parts,
    cleanup,
    exit_code,
)
from tests.unit.test_strategy import quoting_session


class Surface:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def stopping(self, reason: str, deadline_s: float) -> None:
        self.calls.append(f"stopping {reason}")

    def stopped(self, code: int) -> None:
        self.calls.append(f"stopped {code}")

    def cancel_all_sent(self) -> None:
        self.calls.append("cancel-all sent")

    async def farewell(self, text: str) -> None:
        self.calls.append("farewell " + text.splitlines()[0])


class Recorder:
    def __init__(self, full: bool = False) -> None:
        self.notes: list[tuple[str, dict[str, Any]]] = []
        self.commands: list[Any] = []
        self.full = full  # a full disk: the journal refuses every record

    def note(self, kind: str, payload: dict[str, Any], now: int) -> None:
        if self.full:
            raise JournalError("disk full")
        self.notes.append((kind, payload))

    def command(self, command: Any, now: int) -> None:
        if self.full:
            raise JournalError("disk full")
        self.commands.append(command)


class Writer:
    flushed = 0

    async def flush(self) -> None:
        self.flushed += 1


def parts(previous_clean: bool | None) -> tuple[Parts, Recorder, Surface]:
    rec, surface = Recorder(), Surface()
    p = Parts(
        bot="test-bot",
        symbol="BTCUSDT",
        execution=None,
        reconciler=None,
        mm=None,
        recorder=rec,  # type: ignore[arg-type]
        writer=Writer(),  # type: ignore[arg-type]
        surface=surface,  # type: ignore[arg-type]
        clock_ms=lambda: 0,
        previous_clean=previous_clean,
    )
    return p, rec, surface


@pytest.mark.parametrize(
    ("previous_clean", "code"), [(None, EXIT_OK), (True, EXIT_OK), (False, EXIT_FAILED)]
)
async def test_a_stop_before_order_entry_depends_on_how_the_last_session_ended(
    previous_clean: bool | None, code: int
) -> None:
    p, rec, surface = parts(previous_clean)
    assert await cleanup(p, HowItEnded(stop_reason="SIGTERM received"), 5.0) == code
    assert rec.notes == [
        (
            "stop",
            {"reason": "SIGTERM received", "exit_code": code, "open_orders": -1 if code else 0},
        )
    ]
    meaning = "clean stop" if code == EXIT_OK else "FAILED"
    assert surface.calls == [
        "stopping SIGTERM received",
        f"stopped {code}",
        f"farewell mmtrio test-bot stopped (SIGTERM received): exit code {code}, {meaning}",
    ]
    assert p.summary is not None and p.summary.left_open == (-1 if code else 0)


def test_exit_codes() -> None:
    assert exit_code(0, HowItEnded(stop_reason="x"), latched=None) == EXIT_OK
    # only a latched kill switch is a guard's stop (issue #20, finding 4: a stale-book halt
    # at a SIGTERM used to exit 3)
    assert exit_code(0, HowItEnded(stop_reason="x"), latched="kill file") == EXIT_SAFE_STOP
    assert exit_code(0, HowItEnded(escalated="sup"), latched=None) == EXIT_SAFE_STOP
    assert exit_code(0, HowItEnded(crashed="boom"), latched=None) == EXIT_FAILED
    assert exit_code(2, HowItEnded(stop_reason="x"), latched=None) == EXIT_FAILED
    assert exit_code(-1, HowItEnded(stop_reason="x"), latched=None) == EXIT_FAILED
    # the venue refused the credentials at start: bad input, whatever else happened
    assert exit_code(0, HowItEnded(auth_failed="refused", crashed="x"), latched=None) == 2
    assert HowItEnded(stop_reason="a", crashed="b", escalated="c").reason == "c"


class LeftBehind:
    """A venue holding what an unclean previous session left: cancel-all fails ``fails``
    times (a 5xx), then clears the book."""

    def __init__(self, open_ids: list[str], fails: int = 0) -> None:
        self.open_ids = list(open_ids)
        self.fails = fails
        self.calls: list[str] = []

    async def cancel_all(self, symbol: str) -> None:
        self.calls.append(f"cancel_all {symbol}")
        if self.fails:
            self.fails -= 1
            raise VenueError("HTTP 503", status=503)
        self.open_ids.clear()

    async def open_orders(self, symbol: str) -> list[str]:
        self.calls.append(f"open_orders {symbol}")
        return list(self.open_ids)


@pytest.mark.parametrize("fails", [0, 2])
async def test_a_start_up_stopped_before_order_entry_cancels_what_an_unclean_session_left(
    fails: int, autojump_clock: trio.testing.MockClock
) -> None:
    # Chaos seed 3015 (OKX): the restart after a kill -9 read the instrument, then stopped on a
    # full journal before order entry; the killed bot's quote rested until the venue's
    # cancel-all-after fired. With the session's gateway the stop cancels it and confirms.
    venue = LeftBehind(["mmt2x19"], fails=fails)
    p, rec, surface = parts(previous_clean=False)
    p.gateway = venue  # type: ignore[assignment]
    assert await cleanup(p, HowItEnded(crashed="journal failed: disk I/O error"), 5.0) == (
        EXIT_FAILED  # a journal failure is still a failure; the venue side is settled
    )
    assert venue.open_ids == []
    assert venue.calls[-2:] == ["cancel_all BTCUSDT", "open_orders BTCUSDT"]
    assert len(venue.calls) == 2 * (fails + 1)
    # each cancel-all is journaled before it goes out (`mmtrio report` counts them)
    assert rec.commands == [CancelAll("BTCUSDT", "stop: journal failed: disk I/O error")] * (
        fails + 1
    )
    # and counted in the metrics (notices_total{kind="cancel_all"}), each one
    assert surface.calls.count("cancel-all sent") == fails + 1
    assert rec.notes[-1] == (
        "stop",
        {"reason": "journal failed: disk I/O error", "exit_code": EXIT_FAILED, "open_orders": 0},
    )
    assert p.summary is not None and p.summary.left_open == 0
    assert "zero open orders confirmed at the venue" in p.summary.text()  # it asked the venue


async def test_a_clean_previous_session_sends_nothing_at_a_failed_start_up() -> None:
    venue = LeftBehind(["someone-else"])
    p, _, _ = parts(previous_clean=True)
    p.gateway = venue  # type: ignore[assignment]
    assert await cleanup(p, HowItEnded(stop_reason="SIGTERM received"), 5.0) == EXIT_OK
    assert venue.calls == []  # nothing of ours can rest: another client's order is left alone


def infos() -> tuple[list[str], int]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m).rstrip("\n")), level="INFO", format="{message}")
    return lines, sink


@pytest.mark.parametrize(
    ("previous_clean", "before"),
    [(True, "the previous session ended cleanly"), (None, "the journal has no earlier session")],
)
async def test_a_start_refused_before_order_entry_claims_no_confirmation(
    previous_clean: bool | None, before: str
) -> None:
    """Operator QA: the log said "nothing to cancel", then the log and the exit summary said
    "zero open orders confirmed at the venue", which nobody had asked the venue."""
    p, _, _ = parts(previous_clean)
    p.gateway = LeftBehind([])  # type: ignore[assignment]  # the session was open
    lines, sink = infos()
    try:
        code = await cleanup(p, HowItEnded(start_refused="the account cannot trade"), 5.0)
    finally:
        logger.remove(sink)
    assert code == 2
    assert p.summary is not None
    said = "\n".join(lines + p.summary.lines())
    assert "confirmed" not in said, said
    assert "start-up never reached the venue's order entry" in said  # chaos/logs.py reads it
    orders = next(line for line in p.summary.lines() if line.startswith("  orders"))
    assert "nothing placed by this process" in orders and before in orders, orders


async def test_credentials_refused_claim_no_confirmation_either() -> None:
    p, _, _ = parts(previous_clean=True)
    code = await cleanup(p, HowItEnded(auth_failed="invalid API key"), 5.0)
    assert code == 2 and p.summary is not None
    (orders,) = [line for line in p.summary.lines() if line.startswith("  orders")]
    assert "confirmed" not in orders
    assert "nothing placed by this process (the venue refused its credentials)" in orders


async def test_a_journal_that_refuses_the_stop_s_cancel_all_does_not_stop_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = LeftBehind(["mmt2x19"], fails=1)
    p, _, _ = parts(previous_clean=False)
    p.recorder = Recorder(full=True)  # type: ignore[assignment]
    p.gateway = venue  # type: ignore[assignment]
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="ERROR")
    try:
        code = await cleanup(p, HowItEnded(stop_reason="SIGTERM received"), 5.0)
    finally:
        logger.remove(sink)
    assert code == EXIT_FAILED  # the stop record itself could not be journaled
    said = [line for line in lines if "cancel-all is not journaled (sent regardless)" in line]
    assert len(said) == 1  # said once, not per attempt
    assert venue.open_ids == []  # sent regardless, twice (the first met a 503)
    assert venue.calls.count("cancel_all BTCUSDT") == 2
    assert p.summary is not None and p.summary.left_open == 0


class StopVenue:
    """The stop's execution and final reconciliation over a venue where our bid, whose amend
    is in doubt, may have filled while the stop cancelled: each call is logged in order."""

    def __init__(self, session: Any, bid: Any, *, filled: bool) -> None:
        self.session, self.bid, self.filled = session, bid, filled
        self.calls: list[str] = []
        self.recovered = True
        self.venue_position_at_stop: int | None = None
        self.gateway = self

    async def cancel_all_and_confirm(self, symbol: str, deadline_s: float, note: Any) -> int:
        self.calls.append("cancel-all")
        return 0

    async def watch_late_landings(
        self, symbol: str, until_ms: int, ids: list[str], ends: float
    ) -> bool:
        self.calls.append("watch " + ",".join(ids))
        return True

    async def at_stop(self, time_left_s: float) -> None:
        self.calls.append("reconcile")
        if self.filled:  # what the real pass books: the venue's fill of the order in doubt
            self.filled = False
            b = self.bid
            self.session.fill(b.client_id, Side.BUY, b.price, b.qty, b.qty, b.qty)
            self.venue_position_at_stop = b.qty

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        self.calls.append(f"dead-man {countdown_ms}")


def stop_parts(filled: bool) -> tuple[Parts, StopVenue]:
    s, bid, _ = quoting_session()
    s.step(OutcomeUnknown(bid.client_id, "amend", "HTTP 503", s.now))  # the amend in doubt
    venue = StopVenue(s, bid, filled=filled)
    p, _, _ = parts(previous_clean=True)
    p.mm, p.deadman = s.mm, True
    p.execution = venue  # type: ignore[assignment]
    p.reconciler = venue  # type: ignore[assignment]
    p.clock_ms = lambda: s.now
    return p, venue


async def test_a_fill_that_raced_the_cancel_all_is_booked_before_any_watch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """DST seed 205635: the amend in doubt had filled just before the stop's cancel-all; the
    stop watched 3.8 s for it to land before its final reconciliation booked the fill. Now
    the final pass comes first: the fill settles the doubt, nothing is left to watch, and the
    exit summary states the position left open."""
    p, venue = stop_parts(filled=True)
    assert await cleanup(p, HowItEnded(stop_reason="SIGTERM received"), 5.0) == EXIT_OK
    assert venue.calls == ["cancel-all", "reconcile", "dead-man 0"]
    assert p.summary is not None and p.summary.status is not None
    assert p.summary.status.position_lots == 3
    assert trio.current_time() == 0


async def test_an_order_still_in_doubt_is_watched_then_reconciled_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    p, venue = stop_parts(filled=False)
    assert await cleanup(p, HowItEnded(stop_reason="SIGTERM received"), 5.0) == EXIT_OK
    # what lands late may fill before the watch cancels it: booked by a second pass
    assert venue.calls == ["cancel-all", "reconcile", "watch t1-0", "reconcile", "dead-man 0"]
