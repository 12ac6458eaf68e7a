"""The log an operator reads holds words, not Python reprs: a whole deterministic session.

Seed 5 for 60 virtual seconds (about 5 s of wall time) is the real bot on the simulated
Binance venue through 35 faults: websockets closed abnormally and by the venue, amends of
orders already gone, post-only orders the book moved through, a restart. Every record at
INFO and above of every incarnation is checked against the repr pattern of
tests/unit/test_operator_text.py, and for the name of any of the core's records
(``PlaceRejected``, ``FitRejected``, ``TradingState``...), which is a class, not words.
Before the fix this session logged ``PlaceRejected mmt2-7: would_cross ...`` at INFO and
``market stream down: ExceptionGroup: Exceptions from Trio nursery (1 sub-exception)``.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
from pathlib import Path

from mmtrio.chaos.dst import run_one
from mmtrio.core import events, intensity, notices, rejects, risk
from tests.unit.test_operator_text import reprs_in

SEED, DURATION_S = 5, 60.0
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (\w+)\s+(\S+) (.*)$")
SAID = {"INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"}


def _record_names() -> re.Pattern[str]:
    """The core's records and enums with a CamelCase name (a plain word like ``Trade`` could
    start a sentence; ``PlaceRejected`` cannot)."""
    names = {
        name
        for module in (events, intensity, notices, rejects, risk)
        for name, obj in inspect.getmembers(module, inspect.isclass)
        if (dataclasses.is_dataclass(obj) or issubclass(obj, enum.Enum))
        and sum(c.isupper() for c in name) >= 2
    }
    assert {"PlaceRejected", "FitRejected", "RejectKind", "TradingState"} <= names
    return re.compile(r"\b(?:" + "|".join(sorted(names)) + r")\b")


def _said(log: Path) -> list[str]:
    """The records at INFO and above (a record's continuation lines belong to it)."""
    out: list[str] = []
    keep = False
    for line in log.read_text().splitlines():
        m = LINE.match(line)
        if m is not None:
            keep = m.group(1) in SAID
            if keep:
                out.append(f"{m.group(1)} {m.group(2)} {m.group(3)}")
        elif keep and out:
            out[-1] += "\n" + line
    return out


def test_a_faulty_session_logs_no_repr_at_info_and_above(tmp_path: Path) -> None:
    done = run_one(SEED, DURATION_S, tmp_path)
    logs = sorted(Path(done.run_dir).glob("bot-*.log"))
    records = [r for log in logs for r in _said(log)]
    # The session did what this test needs: streams dropped, orders refused, a restart.
    assert len(logs) >= 2, logs
    assert any("stream down" in r for r in records)
    assert any(" refused: " in r for r in records)
    classes = _record_names()
    bad = [r for r in records if reprs_in(r) or classes.search(r)]
    assert bad == [], "\n".join(bad[:20])
