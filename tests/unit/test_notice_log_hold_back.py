"""A quote held back because it would cross our own order is said once while it lasts.

QA on the Extended paper bot (two levels a side; Extended's replace is cancel-then-new, so
the old orders rest a while): both levels of one side were held back on every step, and the
log said them alternately, a WARNING every few ms, because only the last case said was
remembered.
"""

from __future__ import annotations

from mmtrio.core.notice_log import HOLD_BACK_QUIET_MS, NoticeLog


def _alerts(log: NoticeLog) -> list[str]:
    return [n.message for n in log.drain() if n.kind == "alert"]


def test_two_cases_held_back_on_every_step_are_said_once_each() -> None:
    log = NoticeLog()
    for step in range(50):
        log.t = 1_000 + 10 * step
        log.hold_back("SELL at 28146.00 held back: would cross our own order")
        log.hold_back("SELL at 28146.10 held back: would cross our own order")
    assert _alerts(log) == [
        "SELL at 28146.00 held back: would cross our own order",
        "SELL at 28146.10 held back: would cross our own order",
    ]


def test_a_case_that_comes_back_after_a_quiet_spell_is_said_again() -> None:
    log = NoticeLog()
    log.t = 1_000
    log.hold_back("BUY at 100.0 held back: would cross our own order")
    log.t += HOLD_BACK_QUIET_MS  # just within the quiet spell: the same case
    log.hold_back("BUY at 100.0 held back: would cross our own order")
    log.t += HOLD_BACK_QUIET_MS + 1
    log.hold_back("BUY at 100.0 held back: would cross our own order")
    assert len(_alerts(log)) == 2


def test_the_cases_remembered_are_bounded() -> None:
    log = NoticeLog()
    for i in range(1_000):
        log.hold_back(f"BUY at {i} held back: would cross our own order")
    assert len(_alerts(log)) == 1_000
    assert len(log._held_back) <= 64
