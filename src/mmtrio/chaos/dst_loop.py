"""Trio's run loop made cheaper for a deterministic run, which does no I/O (for
:mod:`mmtrio.chaos.dst` only): the same loop, the same steps in the same order, less work.

Two costs of Trio's loop buy nothing in a run whose every task waits on another task:

- **The I/O poll.** Before each batch of task steps Trio asks epoll, with a timeout of 0
  (the clock jumps instead of waiting), whether a file descriptor is ready: a system call
  per batch, about 18,000 of them in a 60 s run (3-4 % of its CPU time). The only
  descriptors a run registers are Trio's own wakeup sockets; once the run has detached the
  signal handler's wakeup socket (:func:`mmtrio.chaos.dst_sched.quiet_signals`, which calls
  :func:`arm`), a byte reaches them only through
  ``WakeupSocketpair.wakeup_thread_and_signal_safe`` (a thread handing work back, a
  ``run_sync_soon``), which marks the loop *rung* after writing. :func:`cheap_loop` then
  answers a zero-timeout poll with "nothing ready" without the call when the loop is not
  rung and no other descriptor is registered, and polls for real otherwise: whatever a poll
  would have found, a real poll finds.
- **The clock.** The run's ``MockClock`` has rate 0 (time moves only by jumps): its
  ``current_time`` is then read from the jumped time instead of computed from
  ``time.perf_counter()`` times a rate of 0 (the same float: ``base + 0.0``), and its
  autojump's distance to the next deadline is computed as Trio's statistics compute it,
  without building the whole statistics record (about 80,000 and 3,000 calls a run).
  (``MockClock`` cannot be subclassed: its methods are patched, as the rest.)

The run's trace hash is unchanged (every seed of the check in the branch that made this:
the same hash before and after). These are Trio internals, patched while the context is
open, like :mod:`mmtrio.chaos.dst_sched`'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from trio._core import _io_epoll, _run, _wakeup_socketpair
from trio.testing import MockClock

from mmtrio.errors import MmtrioError

if not (
    hasattr(_io_epoll, "EpollIOManager")
    and hasattr(_io_epoll.EpollIOManager, "get_events")
    and hasattr(_wakeup_socketpair.WakeupSocketpair, "wakeup_thread_and_signal_safe")
    and hasattr(_run, "GLOBAL_RUN_CONTEXT")
    and hasattr(MockClock, "_autojump")
):
    raise MmtrioError(
        "this Trio version lacks the run-loop internals the deterministic simulation patches "
        "(trio._core._io_epoll.EpollIOManager.get_events, WakeupSocketpair"
        ".wakeup_thread_and_signal_safe, _run.GLOBAL_RUN_CONTEXT, MockClock._autojump)"
    )


class _Loop:
    """What the patched poll knows: whether only Python code can ring a wakeup socket
    (``armed``), and whether one may have been rung since the last real poll."""

    armed = False
    rung = True
    entry_fd = -1  # the run's entry queue's wakeup socket (its system task waits on it)
    skipped = 0  # polls answered without the system call (the tests read it)


_real_get_events = _io_epoll.EpollIOManager.get_events
_real_wakeup = _wakeup_socketpair.WakeupSocketpair.wakeup_thread_and_signal_safe
_real_current_time = MockClock.current_time
_real_autojump = MockClock._autojump


def _wakeup(self: Any) -> None:
    _real_wakeup(self)
    _Loop.rung = True  # after the write: a poll that missed the byte is followed by another


def _get_events(self: Any, timeout: float) -> Any:
    if timeout == 0 and _Loop.armed and not _Loop.rung:
        registered = self._registered
        if not registered or (len(registered) == 1 and _Loop.entry_fd in registered):
            _Loop.skipped += 1
            return []
    _Loop.rung = False  # before the poll: a byte written after it rings again
    return _real_get_events(self, timeout)


def _current_time(self: MockClock) -> float:
    if self._rate == 0:
        return self._virtual_base  # = base + rate * elapsed, exactly, at rate 0
    return _real_current_time(self)


def _autojump(self: MockClock) -> None:
    # Trio's: current_statistics().seconds_to_next_deadline (this, and a record of numbers
    # nobody reads), then a jump if 0 < it < inf
    jump = _run.GLOBAL_RUN_CONTEXT.runner.deadlines.next_deadline() - self.current_time()
    if 0 < jump < math.inf:
        self.jump(jump)


_PATCHES = (
    (_io_epoll.EpollIOManager, "get_events", _get_events, _real_get_events),
    (_wakeup_socketpair.WakeupSocketpair, "wakeup_thread_and_signal_safe", _wakeup, _real_wakeup),
    (MockClock, "current_time", _current_time, _real_current_time),
    (MockClock, "_autojump", _autojump, _real_autojump),
)


def arm() -> None:
    """The run's signal handler no longer writes to Trio's wakeup socket (called by
    :func:`~mmtrio.chaos.dst_sched.quiet_signals` once it detached it): from now on only
    Python code rings a wakeup socket. The next poll is a real one (a byte a signal wrote
    before may be waiting). Called inside the run."""
    _Loop.entry_fd = _run.GLOBAL_RUN_CONTEXT.runner.entry_queue.wakeup.wakeup_sock.fileno()
    _Loop.rung = True
    _Loop.armed = True


@contextmanager
def cheap_loop() -> Iterator[None]:
    """Within the block, ``trio.run`` skips the I/O polls that cannot find anything once
    :func:`arm` was called (see the module docstring)."""
    _Loop.armed, _Loop.rung, _Loop.entry_fd = False, True, -1
    for owner, name, patched, _ in _PATCHES:
        setattr(owner, name, patched)
    try:
        yield
    finally:
        for owner, name, _, real in _PATCHES:
            setattr(owner, name, real)
        _Loop.armed, _Loop.rung, _Loop.entry_fd = False, True, -1
