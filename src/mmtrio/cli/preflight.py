"""Checks `mmtrio run` makes before anything starts, so that a usage mistake is one clear line
and exit 2, not a traceback from deep inside the task tree.

- the metrics port: a second bot on the same box with the same ``[metrics] port`` is the
  common case. The check binds the port the way the server will (``SO_REUSEADDR``, which
  ignores TIME_WAIT leftovers but not a listener) and lets go at once. A race with another
  process binding in between is still caught where the server binds (a ``ConfigError``).
- the state directory: another running bot holds its lock; the error names that bot's pid
  (the journal takes the same lock for real a moment later, and raises the same error).
- the control socket (``runtime.control_socket``, e.g. set by ``--set`` to another bot's):
  another bot holds it; `mmtrio run` claims the path with a lock it holds for its life, and
  the error names the socket and that bot's name and pid
  (:mod:`mmtrio.runtime.control_claim`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path

from mmtrio.config import Config
from mmtrio.errors import ConfigError, StateDirInUseError

LOCK_NAME = "lock"  # the journal's lock file (runtime/journal.py)


def check_metrics_port(config: Config, config_path: Path) -> None:
    """Raise ``ConfigError`` naming the port and the key that sets it when it is taken."""
    m = config.metrics
    if not m.enabled:
        return
    family = socket.AF_INET6 if ":" in m.host else socket.AF_INET
    try:
        infos = socket.getaddrinfo(m.host, m.port, family, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(
            f"[metrics] host = {m.host!r} in {config_path} does not resolve: {exc}"
        ) from None
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(infos[0][4])
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"metrics port {m.host}:{m.port} is already in use (another mmtrio bot, or "
                    f"another program); set [metrics] port in {config_path} to a free port, or "
                    "[metrics] enabled = false (for one run: `--set metrics.port=N`)"
                ) from None
            raise ConfigError(
                f"cannot bind the metrics port {m.host}:{m.port} ([metrics] host/port in "
                f"{config_path}): {exc.strerror}"
            ) from None


def check_state_dir_free(state_dir: Path) -> None:
    """Raise ``StateDirInUseError`` naming the other bot's pid when its lock is held."""
    path = state_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # no lock file yet: no bot ran here (or the journal will say what is wrong)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise StateDirInUseError(
                f"another mmtrio bot (pid {holder}) is running with state directory "
                f"{state_dir}; stop it first (`mmtrio kill`, then Ctrl-C or `kill {holder}`), "
                "or give this bot its own [runtime] name or state_dir"
            ) from None
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


__all__ = ["check_metrics_port", "check_state_dir_free"]
