"""Claiming the control socket's path for this bot, before anything starts.

Why a lock and not only a look: `mmtrio run` used to check that nobody served the socket, and
the bot bound it much later (after the venue was reached). Two bots started together on one
``runtime.control_socket`` both passed the check; the loser then failed to bind (exit 1, a
crash that systemd restarts), or, looking in the instant between the winner's ``bind`` and
its ``listen``, took the socket for a stale one and removed it. Now `mmtrio run` takes an
exclusive ``flock`` on ``<socket>.lock`` (mode 0600, beside the socket) first and holds it for
the process's life: exactly one bot owns the path, whatever the timing. The holder writes
``<pid> <bot name>`` into the file, so the other one's refusal (exit 2) names it.

Bots of older versions do not take the lock: after taking it, a socket someone serves is
refused the same way (``check_control_socket_free``, which names the pid the kernel gives).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from mmtrio.runtime.control import ControlSocketInUseError, check_control_socket_free

LOCK_SUFFIX = ".lock"
HOLDER_WAIT_S = 2.0  # the holder writes its name just after locking: wait that long for it


def lock_path(socket_path: Path) -> Path:
    """The lock file that claims ``socket_path``."""
    return socket_path.with_name(socket_path.name + LOCK_SUFFIX)


class ControlSocketClaim:
    """The held claim on a control socket's path; :meth:`release` (or process exit) ends it."""

    __slots__ = ("_fd", "path")

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def claim_control_socket(path: Path, bot: str) -> ControlSocketClaim:
    """Claim ``path`` for the bot named ``bot``, or raise ``ControlSocketInUseError`` (a usage
    error, exit 2) naming the path and the bot that holds it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # the state directory: 0700
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise ControlSocketInUseError(
            f"another bot ({holder}) holds the control socket {path}; stop it first, or give "
            "this bot its own runtime.control_socket (or its own [runtime] name or "
            "state_dir): two bots on one account would fight over the same orders"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    claim = ControlSocketClaim(path, fd)
    try:
        os.fchmod(fd, 0o600)  # a lock file an older run left more open
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {bot}\n".encode(), 0)
        check_control_socket_free(path)  # a bot of an older version, which takes no lock
    except BaseException:
        claim.release()
        raise
    return claim


def _holder(fd: int) -> str:
    """Who holds the lock, in words: ``bot-name, pid N`` (the holder may be a moment from
    writing it: wait up to ``HOLDER_WAIT_S``)."""
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        text = os.pread(fd, 256, 0).decode(errors="replace")
        if text.endswith("\n") or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    pid, _, name = text.strip().partition(" ")
    if not pid.isdigit():
        return "its pid unknown"
    return f"{name}, pid {pid}" if name else f"pid {pid}"


__all__ = ["LOCK_SUFFIX", "ControlSocketClaim", "claim_control_socket", "lock_path"]
