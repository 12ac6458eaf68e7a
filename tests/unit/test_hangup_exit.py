"""A SIGHUP that arrives after `mmtrio run`'s engine stopped must not change its exit code.

Chaos seeds 2040 and 2043 (Hyperliquid): the bot stopped with exit code 1 after its journal
failed, the harness's SIGHUP arrived 0.8 s after the exit summary while the interpreter was
exiting, and the process died of it (exit -1)."""

from __future__ import annotations

import signal
import subprocess
import sys

from mmtrio.runtime.hangup import note_early_signals

_CHILD = """
import os, signal, sys
from mmtrio.runtime.hangup import note_early_signals
restore = note_early_signals()
restore()  # what `mmtrio run` does when the engine has stopped
os.kill(os.getpid(), signal.SIGHUP)  # delivered at once, before the exit
sys.exit(1)
"""


def test_a_sighup_while_exiting_leaves_the_exit_code_alone() -> None:
    cmd = [sys.executable, "-c", _CHILD]
    proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])


def test_restore_gives_back_sigterm_and_sigint_and_ignores_sighup() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        restore = note_early_signals()
        restore()
        assert signal.getsignal(signal.SIGTERM) == before[signal.SIGTERM]
        assert signal.getsignal(signal.SIGINT) == before[signal.SIGINT]
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
