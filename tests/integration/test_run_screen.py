"""`mmtrio run` in the foreground, as an operator sees it: a real pseudo-terminal of 80×24,
the built-in simulated venue, the live status screen read back through a terminal emulator
(pyte) until it shows a resting quote and a fill; then Ctrl-C stops it with exit 0 and the
last lines say zero open orders were confirmed.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pexpect
import pyte

from tests.integration.test_run_engine import write_config

ROWS, COLS = 24, 80
# A quote row of the screen's ladder: side, level, price, size.
QUOTE_ROW = re.compile(r"^(BUY|SELL)\s+\d+\s+\d+\.\d+\s+0\.\d+\s")
# A row of "latest fills": age, side, size @ price, M(aker)/T(aker).
FILL_ROW = re.compile(r"^\s*[\d.]+m?s\s+(BUY|SELL)\s+0\.\d+ @ \d+\.\d+ [MT]")


class Terminal:
    """A child process on an 80×24 pty, its output rendered by a VT100 emulator."""

    def __init__(self, argv: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.screen = pyte.Screen(COLS, ROWS)
        self._stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()  # every byte the program wrote to the terminal
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm-256color"}
        self.child = pexpect.spawn(
            argv[0], argv[1:], cwd=str(cwd), dimensions=(ROWS, COLS), env={**base, **(env or {})}
        )

    def pump(self, timeout_s: float = 0.2) -> bool:
        """Read what is there (up to ``timeout_s``); False once the program closed the pty."""
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout_s)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.raw.extend(data)
        self._stream.feed(data)
        return True

    def lines(self) -> list[str]:
        """The 24 rows of the screen as they are now."""
        return list(self.screen.display)

    def wait_until(self, cond: Callable[[list[str]], bool], timeout_s: float, what: str) -> None:
        """Pump until ``cond(lines)`` holds; a bounded wait that shows the screen on failure."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            alive = self.pump()
            if cond(self.lines()):
                return
            if not alive:
                break
        raise AssertionError(f"timed out waiting for {what}; screen:\n" + "\n".join(self.lines()))

    def stop(self, timeout_s: float = 40.0) -> int | None:
        """Ctrl-C, then read until the program exits; its exit status (None if killed)."""
        self.child.sendintr()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.pump(0.5):
            pass
        if self.child.isalive():
            self.child.terminate(force=True)
            raise AssertionError(
                "mmtrio run did not exit after Ctrl-C:\n" + "\n".join(self.lines())
            )
        self.child.close()
        status: int | None = self.child.exitstatus
        return status


def has_quote_and_fill(lines: list[str]) -> bool:
    """The screen shows at least one resting quote and one fill."""
    return any(QUOTE_ROW.match(line) for line in lines) and any(
        FILL_ROW.match(line) for line in lines
    )


def test_screen_shows_quotes_and_fills_and_ctrl_c_exits_clean(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)  # state dir, socket and kill file inside tmp_path
    term = Terminal([sys.executable, "-m", "mmtrio", "run", "--config", str(cfg)], tmp_path)
    try:
        term.wait_until(has_quote_and_fill, 120, "a quote and a fill on the screen")
        screen = term.lines()
        print("\n".join(screen))  # the captured 80×24 screen, shown with pytest -s
        # Log records scroll above the live status; the status block starts at its header.
        top = next(i for i, line in enumerate(screen) if line.startswith("mmtrio BTCUSDT"))
        assert " ACTIVE " in screen[top], screen[top]
        assert screen[top + 1].startswith("bid ") and "book synced" in screen[top + 1]
        assert screen[top + 2].startswith("pos ")
        assert any(line.startswith("ws market up") for line in screen[top:])
        code = term.stop()
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
    # Log lines longer than 80 columns wrap on the screen: read them from the raw output.
    out = term.raw.decode(errors="replace")
    assert code == 0, out[-3000:]
    assert "zero open orders confirmed at the venue" in out
    assert "stopped: exit code 0" in out
