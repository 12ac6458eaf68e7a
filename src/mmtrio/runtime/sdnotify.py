"""systemd notification (``sd_notify``) and the watchdog pinger, without libsystemd.

The protocol is one datagram of ``KEY=VALUE`` lines sent to the Unix socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace). We speak it directly
rather than depend on ``systemd-python`` (a C extension, awkward to build on a Raspberry Pi).

Why the watchdog is fed the way it is: ``WatchdogSec=`` exists so that a *hung trading loop*
gets the service restarted (and the venue's dead-man countdown cancels the orders). A timer
task that pinged on its own schedule would keep pinging while the trading loop is stuck on an
await that never returns. So the trading loop calls :meth:`WatchdogPinger.beat` on every
iteration, and the pinger task sends ``WATCHDOG=1`` only while that heartbeat is fresh. If the
whole event loop is blocked (a synchronous call that never returns) the pinger cannot run
either, and systemd sees silence in both cases. The trading loop must therefore wake at least
once per :attr:`WatchdogPinger.max_silence_s` even when the market is quiet (its wait is
bounded by the core's next deadline or that value, whichever is sooner).

Sending is a non-blocking ``sendto`` on a local datagram socket: it never waits, so it is safe
to call from the trading loop. A full receive buffer (systemd not reading) drops the message
and logs once; the next ping retries.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import trio
from loguru import logger

from mmtrio.errors import MmtrioError

# The longest STATUS= systemd shows is bounded by the datagram; keep ours short for
# `systemctl status` (one line), and never let a caller push an unbounded string.
MAX_STATUS_CHARS = 200


class SdNotifyError(MmtrioError):
    """``$NOTIFY_SOCKET`` / ``$WATCHDOG_USEC`` are malformed or the socket cannot be used."""


def _address(value: str) -> str:
    """The sockaddr for ``$NOTIFY_SOCKET``: a filesystem path or an abstract ``@name``."""
    if value.startswith("@"):
        # Linux abstract namespace: a leading NUL instead of '@'.
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    raise SdNotifyError(
        f"NOTIFY_SOCKET={value!r} is neither an absolute path nor an abstract '@name' socket; "
        "mmtrio speaks sd_notify over Unix datagram sockets only (run it with Type=notify "
        "under systemd, or unset NOTIFY_SOCKET)"
    )


def _clean_status(text: str) -> str:
    # A newline would start a new KEY=VALUE assignment inside the datagram.
    one_line = " ".join(text.split())
    return one_line[:MAX_STATUS_CHARS]


class SdNotifier:
    """A client of the systemd notification socket; a no-op when not run by systemd.

    Build it with :meth:`from_environment`. Every method is synchronous, non-blocking and
    returns whether the datagram was handed to the kernel (False when disabled or dropped).
    """

    def __init__(self, address: str | None) -> None:
        self._address = address
        self._sock: socket.socket | None = None
        self._warned_drop = False
        if address is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            sock.setblocking(False)
            self._sock = sock

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SdNotifier:
        """A notifier for ``$NOTIFY_SOCKET``; disabled when the variable is unset or empty."""
        env = os.environ if environ is None else environ
        value = env.get("NOTIFY_SOCKET", "")
        return cls(_address(value) if value else None)

    @property
    def enabled(self) -> bool:
        """True when a notification socket is configured (we run under systemd Type=notify)."""
        return self._sock is not None

    def notify(self, fields: Mapping[str, str]) -> bool:
        """Send one datagram with ``fields`` as ``KEY=VALUE`` lines."""
        if self._sock is None or self._address is None:
            return False
        payload = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        try:
            self._sock.sendto(payload, self._address)
        except BlockingIOError:
            if not self._warned_drop:
                self._warned_drop = True
                logger.warning("sd_notify: systemd's socket buffer is full; message dropped")
            return False
        except OSError as exc:
            # systemd restarted or the socket vanished: not a reason to stop trading, but the
            # operator must know the watchdog may fire.
            logger.warning("sd_notify to {addr} failed: {err}", addr=self._address, err=exc)
            return False
        self._warned_drop = False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Tell systemd start-up is complete (``READY=1``), optionally with a status line."""
        fields = {"READY": "1"}
        if status is not None:
            fields["STATUS"] = _clean_status(status)
        return self.notify(fields)

    def status(self, text: str) -> bool:
        """Set the one-line status `systemctl status` shows."""
        return self.notify({"STATUS": _clean_status(text)})

    def watchdog(self) -> bool:
        """Feed the watchdog (``WATCHDOG=1``)."""
        return self.notify({"WATCHDOG": "1"})

    def reloading(self, monotonic_usec: int) -> bool:
        """Announce a config reload (``RELOADING=1``; systemd ≥ 253 wants ``MONOTONIC_USEC``)."""
        return self.notify({"RELOADING": "1", "MONOTONIC_USEC": str(monotonic_usec)})

    def stopping(self, status: str | None = None) -> bool:
        """Announce the shutdown has begun (``STOPPING=1``)."""
        fields = {"STOPPING": "1"}
        if status is not None:
            fields["STATUS"] = _clean_status(status)
        return self.notify(fields)

    def extend_timeout(self, seconds: float) -> bool:
        """Ask systemd for ``seconds`` more before it kills a slow start or stop.

        Used by the shielded cleanup: cancel-all plus confirmation may take longer than a
        plain stop, and being SIGKILLed half-way would leave orders to the dead-man timer.
        """
        if not seconds > 0:
            raise SdNotifyError(f"extend_timeout needs a positive number of seconds, got {seconds}")
        return self.notify({"EXTEND_TIMEOUT_USEC": str(int(seconds * 1_000_000))})

    def close(self) -> None:
        """Close the socket; later calls are no-ops."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout systemd set for *this* process in seconds, or None if none.

    ``$WATCHDOG_USEC`` is the timeout; ``$WATCHDOG_PID``, when set, names the process it is
    meant for (a child we spawned must not answer for us).
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid:
        if not pid.isdigit():
            raise SdNotifyError(f"WATCHDOG_PID={pid!r} is not a process id")
        if int(pid) != os.getpid():
            return None
    if not usec.isdigit() or int(usec) == 0:
        raise SdNotifyError(
            f"WATCHDOG_USEC={usec!r} is not a positive whole number of microseconds; "
            "check WatchdogSec= in the unit"
        )
    return int(usec) / 1_000_000


class WatchdogPinger:
    """Feeds systemd's watchdog only while the trading loop proves it is alive.

    ``timeout_s`` is the watchdog timeout (``WatchdogSec``). The pinger wakes every
    ``timeout_s / 4`` (systemd recommends pinging at least twice per timeout; four times gives
    slack for a busy loop) and sends ``WATCHDOG=1`` if :meth:`beat` was called within
    :attr:`max_silence_s` (half the timeout). Time is Trio's clock, so tests use
    ``autojump_clock``.
    """

    def __init__(self, notifier: SdNotifier, timeout_s: float) -> None:
        if not timeout_s > 0:
            raise SdNotifyError(f"watchdog timeout must be positive, got {timeout_s} s")
        self._notifier = notifier
        self.timeout_s = timeout_s
        self.max_silence_s = timeout_s / 2
        self.period_s = timeout_s / 4
        self._last_beat: float | None = None
        self.pings = 0
        self.withheld = 0

    def beat(self) -> None:
        """Record that the trading loop completed an iteration (call it every iteration)."""
        self._last_beat = trio.current_time()

    def loop_alive(self) -> bool:
        """True if the trading loop beat within :attr:`max_silence_s`."""
        if self._last_beat is None:
            return False
        return trio.current_time() - self._last_beat <= self.max_silence_s

    async def run(self) -> None:
        """Ping while the loop is alive, until cancelled. Run it in the engine's nursery."""
        stalled = False
        while True:
            if self.loop_alive():
                if stalled:
                    logger.info("trading loop is beating again; watchdog pings resume")
                    stalled = False
                if self._notifier.watchdog():
                    self.pings += 1
            else:
                self.withheld += 1
                if not stalled and self._last_beat is not None:
                    stalled = True
                    silent = trio.current_time() - self._last_beat
                    logger.error(
                        "trading loop silent for {s:.1f} s: withholding the systemd watchdog "
                        "ping; systemd restarts the service after {t:g} s without one",
                        s=silent,
                        t=self.timeout_s,
                    )
                    self._notifier.status(f"trading loop stalled for {silent:.1f} s")
            await trio.sleep(self.period_s)
