"""The shutdown path's exit codes, including a stop before start-up reached the venue."""

from __future__ import annotations

from typing import Any

import pytest

from mmtrio.runtime.shutdown import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SAFE_STOP,
    HowItEnded,
    Parts,
    cleanup,
    exit_code,
)


class Surface:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def stopping(self, reason: str, deadline_s: float) -> None:
        self.calls.append(f"stopping {reason}")

    def stopped(self, code: int) -> None:
        self.calls.append(f"stopped {code}")

    async def farewell(self, text: str) -> None:
        self.calls.append("farewell " + text.splitlines()[0])


class Recorder:
    def __init__(self) -> None:
        self.notes: list[tuple[str, dict[str, Any]]] = []

    def note(self, kind: str, payload: dict[str, Any], now: int) -> None:
        self.notes.append((kind, payload))


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
