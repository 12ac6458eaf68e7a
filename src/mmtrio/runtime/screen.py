"""The live status screen of `mmtrio run` in the foreground (rich), and its log-line fallback.

What is shown, top to bottom, in an 80×24 terminal: trading state and its reason; market
(bid/ask/mid/spread, book sync, feed age); position, inventory band, P&L and its attribution,
drawdown against its limit; our quotes per level (price, size, queue-ahead estimate, age);
connection health (websockets, reconnects, REST latency p50/p99); rate-limit usage; supervised
children and restarts; the latest fills and alerts.

Why it cannot slow trading: the screen never runs on the Trio thread. ``rich.live.Live`` owns a
refresh thread that calls :func:`render_status` ~4×/s on whatever snapshot ``latest()``
returns. Snapshots are immutable (frozen dataclasses), and swapping the reference to the latest
one is atomic in CPython, so the two threads share nothing mutable and need no lock. The
rendering holds the GIL for a few milliseconds at most per frame; the trading thread gets it
back within the interpreter's switch interval.

When stdout is not a terminal (systemd, a pipe, `nohup`), there is no screen: a log line with
the same essentials is written every ``log_interval_s`` instead.

The snapshot type is the engine's (``runtime/status.py``); what this module reads of it is
spelled out by :class:`StatusView`, so the two can evolve separately.

Modules: ``screen_view`` (what is read: the view protocol, the snapshot and its builder),
``screen_panels`` (how it is drawn: the panels and the log line), this one (where and when:
the refresh loop, the terminal, the log sink).
"""

from __future__ import annotations

import contextlib
import termios
from collections.abc import Callable, Iterator

import trio
from loguru import logger
from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from mmtrio.runtime.screen_panels import (
    render_status,
    side_off,
    status_line,
    styled_line,
)
from mmtrio.runtime.screen_view import (
    Connection,
    RateLimit,
    ScreenSnapshot,
    SnapshotBuilder,
    StatusView,
)

__all__ = [
    "CLOSED_FRAME",
    "Connection",
    "RateLimit",
    "ScreenSnapshot",
    "SnapshotBuilder",
    "StatusView",
    "console_log_sink",
    "render_status",
    "run_screen",
    "side_off",
    "status_line",
]


def _safe_render(latest: Callable[[], StatusView | None]) -> RenderableType:
    # Runs on rich's refresh thread: an exception there would silently freeze the screen, and
    # a bug in the status display must never stop the bot.
    try:
        return render_status(latest())
    except Exception as exc:  # any render bug: show it, keep refreshing
        return styled_line(("status screen error: ", "bold red"), f"{type(exc).__name__}: {exc}")


async def run_screen(
    build: Callable[[], StatusView | None],
    *,
    console: Console | None = None,
    refresh_per_second: float = 4.0,
    log_interval_s: float = 10.0,
) -> None:
    """Show the live status until cancelled (run it as a task of the engine).

    ``build`` (e.g. :meth:`SnapshotBuilder.build`) is called on the Trio thread
    ``refresh_per_second`` times a second; the immutable result is stored in one reference
    that rich's refresh thread renders, so no rendering happens on the Trio thread. When the
    console is not a terminal, a :func:`status_line` is logged every ``log_interval_s``.
    """
    console = console if console is not None else Console()
    if not console.is_terminal:
        while True:
            logger.info(status_line(build()))
            await trio.sleep(log_interval_s)
    latest: list[StatusView | None] = [None]
    closed: list[bool] = [False]

    def frame() -> RenderableType:
        return CLOSED_FRAME if closed[0] else _safe_render(lambda: latest[0])

    live = Live(
        get_renderable=frame,
        console=console,
        refresh_per_second=refresh_per_second,
        vertical_overflow="crop",
        # The last frame is replaced when the screen closes (below): it would show ACTIVE and
        # OPEN quotes while the cleanup cancels them. The exit summary follows (cli/run.py).
        # Log records are routed through the console (console_log_sink), not by swapping
        # sys.stdout under loguru's feet.
        redirect_stdout=False,
        redirect_stderr=False,
    )
    try:
        with _no_echo(console), live:
            try:
                while True:
                    try:
                        latest[0] = build()
                    except Exception as exc:  # a status bug must not stop the bot
                        logger.opt(exception=exc).warning(
                            "status snapshot failed; screen shows the last"
                        )
                    await trio.sleep(1.0 / refresh_per_second)
            finally:
                closed[0] = True
                live.refresh()
    except OSError as exc:
        # The terminal is gone (its window or ssh session closed: EIO): the screen cannot
        # draw, and that must not stop the bot nor turn its stop into a crash (QA, Hyperliquid
        # paper bot: a SIGTERM after `tmux kill-session` ended "the bot crashed: OSError:
        # [Errno 5] Input/output error", exit 1). Go on headless; a cancel ends it as before.
        logger.warning(
            "the terminal is gone ({}): no live screen any more, a status line is logged "
            "every {:g} s",
            exc.strerror or exc,
            log_interval_s,
        )
    while True:
        logger.info(status_line(build()))
        await trio.sleep(log_interval_s)


@contextlib.contextmanager
def _no_echo(console: Console) -> Iterator[None]:
    """Turn the terminal's echo off while the screen is up: the screen reads no input, and an
    echoed ``^C`` moves the cursor under rich's feet, leaving a stale header line behind."""
    try:
        fd = console.file.fileno()
        saved = termios.tcgetattr(fd)
    except (OSError, ValueError, AttributeError, termios.error):
        yield  # not a real terminal (a test console, a pipe): nothing to do
        return
    quiet = list(saved)
    quiet[3] &= ~(termios.ECHO | termios.ECHOCTL)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSANOW, saved)


CLOSED_FRAME = styled_line(
    ("mmtrio ", "bold"),
    (" STOPPING ", "bold white on blue"),
    ("  screen closed: cancelling every order, summary below", "italic"),
)


def console_log_sink(console: Console) -> Callable[[str], None]:
    """A loguru sink that prints above the live screen instead of tearing through it.

    Use it as ``setup_logging(level, sink=console_log_sink(console))`` while the screen runs:
    rich's console serialises writes with the Live refresh thread.
    """

    def sink(message: str) -> None:
        # One line each, cut to the terminal's width: a wrapped record would push the layout
        # around mid-word. The full record is in the log file (runtime/surface.py).
        text = Text(str(message).rstrip("\n").replace("\n", " ⏎ "), no_wrap=True)
        text.truncate(max(10, console.width), overflow="ellipsis")
        console.print(text, no_wrap=True, crop=True, overflow="ellipsis")

    return sink
