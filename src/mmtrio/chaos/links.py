"""The harness's handles on its helper processes: the TCP fault proxy and the CPU starver.

:class:`ProxyClient` starts :mod:`mmtrio.chaos.proxy` between the bot and the simulated
venue and sends it commands; :class:`CpuStarver` pins the bot's threads to one core and
runs busy-looping processes on that core. Both are synchronous (the harness is) and both
always clean up what they started, by process id.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from mmtrio.chaos.botconfig import ChaosHarnessError

ANSWER_TIMEOUT_S = 5.0  # a command's answer
# Its first line (the ports) waits for a Python start-up: on a loaded box that takes many
# seconds (a 1,000-run campaign at 6 runs at a time, load 24: 12 of 287 runs ended as harness
# errors at 5 s, and bots took up to 16 s to log their first line).
START_TIMEOUT_S = 60.0
# A busy process stops by itself at its deadline (time.monotonic(), one clock for every
# process on Linux; "inf": never): the venue is told the starvation's seconds (client_slow)
# and judges a 429 by them, and the harness's tick that stops the starver comes up to a poll
# later (DST seed 131413: a starvation that outlived its announced end got the bot banned).
_BUSY = (
    "import os, sys, time; os.sched_setaffinity(0, {int(sys.argv[1])})\n"
    "end = float(sys.argv[2])\n"
    "while time.monotonic() < end: pass"
)


class ProxyClient:
    """The fault proxy process: its ports, its commands, and the silent windows it made."""

    def __init__(self, rest: str, ws: str, log: Path) -> None:
        def upstream(url: str) -> str:
            hostport = url.split("://", 1)[1].rstrip("/")
            return hostport

        cmd = [sys.executable, "-m", "mmtrio.chaos.proxy"]
        cmd += ["--upstream", f"rest={upstream(rest)}", "--upstream", f"ws={upstream(ws)}"]
        self._log: IO[bytes] = log.open("wb")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log
        )
        self.ports: dict[str, int] = self._read(START_TIMEOUT_S)
        # (from, to) wall ms in which a target's link was silent (the judge bars them)
        self.silent: list[tuple[int, int]] = []

    def urls(self) -> dict[str, str]:
        """The venue URLs as the bot must use them: through the proxy."""
        return {
            "rest": f"http://127.0.0.1:{self.ports['rest']}",
            "ws": f"ws://127.0.0.1:{self.ports['ws']}",
        }

    def _read(self, timeout_s: float = ANSWER_TIMEOUT_S) -> Any:
        out = self.proc.stdout
        if out is None:
            raise ChaosHarnessError("fault proxy stdout is not a pipe")
        ready, _, _ = select.select([out], [], [], timeout_s)
        line = out.readline() if ready else b""
        if not line:
            raise ChaosHarnessError(
                f"the fault proxy did not answer within {timeout_s:g} s (see {self._log.name})"
            )
        return json.loads(line)

    def command(self, cmd: dict[str, Any]) -> bool:
        """Send one command; True when the proxy applied it."""
        if self.proc.stdin is None or self.proc.poll() is not None:
            raise ChaosHarnessError(f"the fault proxy is gone (see {self._log.name})")
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        self.proc.stdin.flush()
        answer = self._read()
        if not answer.get("ok"):
            raise ChaosHarnessError(f"fault proxy refused {cmd}: {answer.get('error')}")
        if cmd.get("cmd") == "half_open":
            now = int(time.time() * 1000)
            self.silent.append((now, now + int(float(cmd["seconds"]) * 1000)))
        return True

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()  # EOF: the proxy ends
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def pin_threads(pid: int, cpus: set[int]) -> bool:
    """Set the CPU affinity of every thread of ``pid`` (its journal threads too)."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return False  # it has just exited
    for tid in tids:
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(tid, cpus)
    return True


class CpuStarver:
    """Busy processes on one core, with the bot's threads pinned to that core."""

    def __init__(self, cpu: int) -> None:
        self.cpu = cpu
        self.all_cpus = set(os.sched_getaffinity(0))
        self.busy: list[subprocess.Popen[bytes]] = []
        self.until: float | None = None  # monotonic; None = until stop()
        self.active = False

    def start(self, n: int, seconds: float | None, bot_pid: int | None) -> None:
        if not hasattr(os, "sched_setaffinity"):
            raise ChaosHarnessError("CPU starvation needs Linux (os.sched_setaffinity)")
        self.until = None if seconds is None else time.monotonic() + seconds
        end = repr(math.inf if self.until is None else self.until)
        for _ in range(max(0, n - len(self.busy))):
            cmd = [sys.executable, "-c", _BUSY, str(self.cpu), end]
            quiet = subprocess.DEVNULL
            self.busy.append(subprocess.Popen(cmd, stdout=quiet, stderr=quiet))
        self.active = True
        if bot_pid is not None:
            pin_threads(bot_pid, {self.cpu})

    def pin(self, bot_pid: int) -> None:
        """A bot started while starving shares the starved core too."""
        if self.active:
            pin_threads(bot_pid, {self.cpu})

    def due(self) -> bool:
        return self.active and self.until is not None and time.monotonic() >= self.until

    def stop(self, bot_pid: int | None) -> None:
        for proc in self.busy:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.busy.clear()
        self.active = False
        self.until = None
        if bot_pid is not None:
            pin_threads(bot_pid, self.all_cpus)
