"""Signals that arrive while `mmtrio run` is still starting must not end the process unheard.

Python's default action for SIGHUP and SIGTERM is to die on the spot, and SIGINT raises
KeyboardInterrupt wherever the interpreter is (mid-import: a traceback). A bot needs seconds to
start (imports, reading the venue's instrument and account, recovery; more on a Raspberry Pi or
a loaded box), and systemd's ``ExecReload``/``ExecStop`` or an operator's ``kill`` in that
window would end it without its stop: no confirmed cancel-all, no exit summary, exit -15.
`mmtrio run` therefore installs :func:`note_early_signals` as its very first step; the engine's
own signal receiver takes over once it runs and asks :func:`early_signals` what was noted:

- SIGTERM/SIGINT: the engine stops at once, through its ordinary stop (exit 0 when nothing was
  left open; nothing was sent yet at that point);
- SIGHUP: not replayed. The configuration in use was read during the start, so the engine logs
  that the signal came too early and that another SIGHUP reloads (decision: a reload racing the
  start is refused rather than half-applied).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType

NOTED = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
_noted: list[int] = []


def _note(signum: int, frame: FrameType | None) -> None:
    _noted.append(signum)


def note_early_signals() -> Callable[[], None]:
    """Note SIGHUP, SIGTERM and SIGINT from now on instead of dying of them (main thread).

    Returns what puts the previous handlers back (`run` calls it when it returns: a caller
    in the same process, e.g. a test, keeps its own Ctrl-C), except SIGHUP, which is ignored
    from then on: a reload after the bot stopped has nothing to reload, and dying of it while
    the interpreter exits turned a stop's exit code 1 into "killed by SIGHUP" (chaos seeds
    2040 and 2043 on Hyperliquid: a SIGHUP 0.8 s after the exit summary, exit code -1)."""
    before = {sig: signal.getsignal(sig) for sig in NOTED}
    for sig in NOTED:
        signal.signal(sig, _note)

    def restore() -> None:
        for sig, handler in before.items():
            signal.signal(sig, signal.SIG_IGN if sig == signal.SIGHUP else handler)
        _noted.clear()

    return restore


def early_signals() -> list[signal.Signals]:
    """The signals noted before the engine's receiver took over, in order; clears them."""
    out = [signal.Signals(s) for s in _noted]
    _noted.clear()
    return out
