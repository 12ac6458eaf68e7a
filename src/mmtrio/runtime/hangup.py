"""A SIGHUP that arrives while `mmtrio run` is still starting must not end the process.

Python's default action for SIGHUP is to terminate. A bot needs seconds to start (imports,
reading the venue's instrument and account, recovery; more on a Raspberry Pi or a loaded box),
and systemd's ``ExecReload`` or an operator's ``kill -HUP`` in that window would end it before
it could cancel anything or write its exit summary. `mmtrio run` therefore installs
:func:`note_early_hangups` as its very first step; the engine's own signal receiver takes over
once it runs and asks :func:`early_hangups` whether one was noted. It does not replay it: the
configuration in use was read during the start, so the engine logs that the signal came too
early and that another SIGHUP reloads (decision: a reload racing the start is refused rather
than half-applied).
"""

from __future__ import annotations

import signal
from types import FrameType

_noted: list[int] = []


def _note(signum: int, frame: FrameType | None) -> None:
    _noted.append(signum)


def note_early_hangups() -> None:
    """Note SIGHUPs from now on instead of dying of them (main thread only)."""
    signal.signal(signal.SIGHUP, _note)


def early_hangups() -> int:
    """How many SIGHUPs were noted before the engine's receiver took over; resets the count."""
    count = len(_noted)
    _noted.clear()
    return count
