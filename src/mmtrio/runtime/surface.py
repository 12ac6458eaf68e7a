"""The operator surface of a running bot: status screen, Prometheus metrics, systemd
notifications and the disk-space guard, wired onto the engine in one place.

The engine knows this module through four calls (see ``runtime/engine*.py``):

- :func:`configure_output` (the CLI, before the bot starts): foreground on a terminal shows the
  live screen and prints log records above it; otherwise (systemd, a pipe, ``--json-logs``,
  ``[logging] json = true``) there is no screen and logs are JSON lines on stdout, which is
  what journald and ``jq`` read.
- :meth:`OperatorSurface.bind` (once the strategy exists): the trading loop beats the watchdog
  every iteration and wakes at least every half ``max_silence_s`` even in a quiet market; each
  drained notice is counted, and each cancel-all sent; execution's venue requests are timed
  into the REST histogram, and its rate-budget waits counted as back-offs.
- :meth:`OperatorSurface.run` (a task of the bot nursery, after the start-up reconciliation):
  first disk check, metrics server bound; then, once the market and user streams are both
  connected, ``READY=1`` (see "READY" below); it runs the screen, the watchdog pinger,
  ``STATUS=`` updates and the disk guard until the bot stops.
- :meth:`OperatorSurface.stopping` (first thing of the shielded cleanup): ``STOPPING=1`` and
  an ``EXTEND_TIMEOUT_USEC`` covering the cleanup's deadline, so systemd does not SIGKILL the
  bot half-way through cancelling its orders.

Tick-to-order latency is not observed here: the metrics histogram exists, but no latency
probe stamps market messages yet, and a histogram fed with a guess would be worse than none.

READY (decision): ``READY=1`` means start-up is done: the journal recovered, the start-up
reconciliation completed (and the dead-man armed where the venue has one), and the market and
user streams connected. It does not mean quoting: a warm-up, a latched kill switch or a book
not yet synced may still hold quotes, and the ``STATUS=`` sent with it says why. Until then
``STATUS=`` says what start-up waits for. A start that never gets there is failed by systemd
(``TimeoutStartSec=``); the waits the venue asks for (a back-off, a full rate budget) extend
that timeout (:meth:`OperatorSurface.extend_start`), start-up's own slowness does not.

Disk space (decision): below ``[journal] disk_halt_free_mb`` the kill switch is latched
without flattening (a full disk is a recording problem, not a market-risk one; flattening
would trade more while fills may not be recorded). It stays latched until the operator frees
space and runs ``mmtrio resume``; a resume while space is still short is undone at the next
check (every :data:`DISK_CHECK_INTERVAL_S`).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import trio
from loguru import logger
from rich.console import Console

from mmtrio import determinism, units
from mmtrio.config import Config
from mmtrio.config.credentials import load_telegram_token
from mmtrio.core.commands import AmendOrder, CancelAll, CancelOrder, Command, PlaceOrder
from mmtrio.core.events import Fill, KillSwitch, OrderUpdate
from mmtrio.core.notices import Notice
from mmtrio.error_text import error_text
from mmtrio.errors import ConfigError
from mmtrio.runtime.diskguard import DiskGuard, DiskLevel, DiskState
from mmtrio.runtime.inbox import Inbox
from mmtrio.runtime.logging import SCREEN_FORMAT, add_file_sink, setup_logging
from mmtrio.runtime.metrics import Metrics, serve_metrics
from mmtrio.runtime.notifier import ControlHandler, TelegramNotifier
from mmtrio.runtime.screen import ScreenSnapshot, SnapshotBuilder, console_log_sink, run_screen
from mmtrio.runtime.sdnotify import SdNotifier, WatchdogPinger, watchdog_interval_s
from mmtrio.runtime.state_files import make_state_dir
from mmtrio.runtime.status import StatusSources
from mmtrio.runtime.trading import TradingLoop
from mmtrio.venues.protocol import Gateway, OrderAck

T = TypeVar("T")

DISK_CHECK_INTERVAL_S = 10.0
READY_POLL_S = 0.1  # how often the wait for READY looks at the streams
READY_WAIT_LOG_S = 15.0  # a start still waiting for its streams says so this often
# Given to systemd on top of a venue-imposed start-up wait (EXTEND_TIMEOUT_USEC): the
# reads that follow, and the streams' first connection.
START_EXTEND_MARGIN_S = 90.0
LOG_FILE_NAME = "mmtrio.log"
SD_STATUS_INTERVAL_S = 5.0
# Added to shutdown_deadline_s for EXTEND_TIMEOUT_USEC: the journal flush after the cancel
# round gets up to a third of the deadline, plus a few seconds to close the files.
STOP_MARGIN_S = 5.0


# --- output mode (CLI) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutputMode:
    """How the bot talks to the operator: ``console`` is the live screen's (None: headless)."""

    console: Console | None
    json_logs: bool
    log_file: Path | None = None  # the full log while the screen shows cut lines


def configure_output(
    config: Config, *, json_flag: bool, level: str, stdout: Any = None
) -> OutputMode:
    """Choose the screen or headless mode and set up logging for it (returns the choice).

    Screen: stdout is a terminal and neither ``--json-logs`` nor ``[logging] json`` asks for
    JSON; log records are printed above the live screen. Headless: JSON lines on stdout.
    """
    out = sys.stdout if stdout is None else stdout
    isatty = getattr(out, "isatty", None)
    tty = bool(isatty()) if callable(isatty) else False
    if tty and not json_flag and not config.logging.json_lines:
        console = Console(file=out)
        setup_logging(level, sink=console_log_sink(console), fmt=SCREEN_FORMAT)
        # Above the screen each record is cut to one line; the whole of it goes here.
        log_file = config.runtime.state_dir / LOG_FILE_NAME
        try:
            make_state_dir(log_file.parent)  # 0700 (an existing one is judged by the journal)
            add_file_sink(level, log_file)
        except OSError as exc:
            raise ConfigError(f"cannot write the log file {log_file}: {exc.strerror}") from None
        return OutputMode(console, False, log_file)
    setup_logging(level, json_lines=True, sink=out)
    return OutputMode(None, True)


# --- REST timing -----------------------------------------------------------------------------


class TimedGateway:
    """A :class:`Gateway` that records each call's round trip in ``observe(seconds)``."""

    def __init__(self, inner: Gateway, observe: Callable[[float], None]) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self._observe = observe

    async def _timed(self, call: Awaitable[T]) -> T:
        t0 = trio.current_time()
        try:
            return await call
        finally:
            # Failures count too: a slow timeout is exactly what the histogram must show.
            self._observe(trio.current_time() - t0)

    async def place(self, cmd: PlaceOrder) -> OrderAck:
        return await self._timed(self.inner.place(cmd))

    async def amend(self, cmd: AmendOrder) -> OrderAck:
        return await self._timed(self.inner.amend(cmd))

    async def cancel(self, cmd: CancelOrder) -> None:
        await self._timed(self.inner.cancel(cmd))

    async def cancel_all(self, symbol: str) -> None:
        await self._timed(self.inner.cancel_all(symbol))

    async def query(self, symbol: str, client_id: str) -> OrderUpdate | None:
        return await self._timed(self.inner.query(symbol, client_id))

    async def open_orders(self, symbol: str) -> list[OrderUpdate]:
        return await self._timed(self.inner.open_orders(symbol))

    async def position(self, symbol: str) -> tuple[int, Decimal]:
        return await self._timed(self.inner.position(symbol))

    async def user_trades(self, symbol: str, from_id: int | None) -> list[Fill]:
        return await self._timed(self.inner.user_trades(symbol, from_id))

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        await self._timed(self.inner.arm_deadman(symbol, countdown_ms))


# --- the surface -----------------------------------------------------------------------------


def sd_status_text(snap: ScreenSnapshot | None, phase: str) -> str:
    """The one-line ``STATUS=`` for `systemctl status`: state, reason, position, P&L, fills."""
    st = snap.strategy if snap is not None else None
    if snap is None or st is None:
        return f"{phase}: no strategy status yet"
    inst = snap.instrument
    reason = st.cannot_quote or st.reason
    down = [c.name for c in snap.connections if not c.up]
    return (
        f"{inst.symbol} {st.trading_state.value}{f' ({reason})' if reason else ''} "
        f"pos {inst.lots_to_base(st.position_lots):+} quotes {len(st.quotes)} "
        f"equity {units.money(st.ledger.equity)} fills {st.ledger.fills}"
        f"{' ws DOWN: ' + ','.join(down) if down else ''}"
    )


def streams_down(sources: StatusSources) -> list[str]:
    """The streams (``market``, ``user``) not connected now, in that order."""
    lanes = (("market", sources.market), ("user", sources.user))
    return [name for name, lane in lanes if lane is None or not lane.connected]


def _telegram(
    config: Config,
    sources: StatusSources,
    control: ControlHandler | None,
    environ: Mapping[str, str] | None,
) -> TelegramNotifier | None:
    """The notifier when ``[telegram] enabled``; its token problems are config errors."""
    tg = config.telegram
    if not tg.enabled:
        return None
    token = load_telegram_token(tg.token_file, environ)

    def status() -> Any:
        return None if sources.strategy is None else sources.strategy.status(sources.clock_ms())

    return TelegramNotifier(
        tg,
        token,
        bot=config.runtime.name,
        instrument=lambda: sources.instrument,
        status=status,
        control=control,
        wall_ms=determinism.wall_ms,
    )


def kill_switch_tripped(strategy: Any) -> bool:
    """True when the strategy's kill switch is latched (False when it cannot tell: the disk
    guard then sends its kill again, which is harmless — a latch keeps its first reason)."""
    kill = getattr(getattr(strategy, "risk", None), "kill_switch", None)
    return bool(getattr(kill, "tripped", False))


class OperatorSurface:
    """Screen, metrics, sd_notify and the disk guard for one bot run (module docstring)."""

    def __init__(
        self,
        config: Config,
        sources: StatusSources,
        *,
        console: Console | None = None,
        environ: Mapping[str, str] | None = None,
        control: ControlHandler | None = None,
    ) -> None:
        self.config = config
        self.sources = sources
        self.console = console
        self.builder = SnapshotBuilder(sources)
        self.notifier = SdNotifier.from_environment(environ)
        timeout = watchdog_interval_s(environ)
        self.pinger = WatchdogPinger(self.notifier, timeout) if timeout is not None else None
        labels = {
            "bot": config.runtime.name,
            "venue": config.venue.name,
            "symbol": sources.symbol,
        }
        self.metrics = Metrics(self.builder.build, labels) if config.metrics.enabled else None
        j = config.journal
        self.disk = DiskGuard(
            config.runtime.state_dir,
            j.disk_warn_free_mb,
            j.disk_halt_free_mb,
            interval_s=DISK_CHECK_INTERVAL_S,
        )
        self.metrics_url: str | None = None
        self._events: Inbox | None = None
        self.telegram = _telegram(config, sources, control, environ)

    @property
    def screen_active(self) -> bool:
        """True when the live screen replaces the periodic status log line."""
        return self.console is not None

    def bind(self, loop: TradingLoop, execution: Any, events: Inbox) -> None:
        """Hook the trading loop, execution's gateway and the inbox (see module doc)."""
        self._events = events
        execution.backoffs = self.sources.backoffs  # its rate-budget waits (metrics)
        if self.pinger is not None:
            loop.on_iteration = self.pinger.beat
            # Half the allowed silence: a quiet market still beats well inside the window.
            loop.max_idle_s = self.pinger.max_silence_s / 2
        if self.metrics is not None:
            metrics = self.metrics

            def count(notice: Notice) -> None:
                metrics.count_notice(notice.kind)

            def sent(command: Command) -> None:
                if isinstance(command, CancelAll):  # a halt's (no notice says it was sent)
                    metrics.count_cancel_all()

            loop.on_notice = count
            loop.on_command = sent
            loop.on_tick_to_order = metrics.observe_tick_to_order
            execution.gateway = TimedGateway(execution.gateway, metrics.observe_rest)
        if self.telegram is not None:
            telegram, before = self.telegram, loop.on_notice

            def tell(notice: Notice) -> None:
                if before is not None:
                    before(notice)
                telegram.on_notice(notice)

            loop.on_notice = tell

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start everything, send ``READY=1``, run until cancelled."""
        async with trio.open_nursery() as nursery:
            # Start from "ok" so the first check logs only a real problem (the guard logs
            # level changes, and its own initial state is "not checked yet").
            self.disk.state = DiskState(DiskLevel.OK, None, "not checked yet")
            self._on_disk(await self.disk.check())
            if self.metrics is not None:
                host, port = self.config.metrics.host, self.config.metrics.port
                try:
                    self.metrics_url = await nursery.start(serve_metrics, self.metrics, host, port)
                except* OSError as group:
                    raise ConfigError(
                        f"cannot serve metrics on {host}:{port}: {error_text(group)}; another "
                        "process holds the port? change [metrics] port or set enabled = false"
                    ) from None
                logger.info("metrics on {}/metrics", self.metrics_url)
            if self.pinger is not None:
                nursery.start_soon(self.pinger.run)
            if self.console is not None:
                nursery.start_soon(partial(run_screen, self.builder.build, console=self.console))
            nursery.start_soon(self._disk_loop)
            if self.telegram is not None:
                await nursery.start(self.telegram.run)
                self.telegram.notify(self._started_text())
            if not self.notifier.enabled:
                # No systemd to tell: nothing waits for the streams (a waiting task would
                # only move a deterministic run's schedule: DST seeds 51 and 110435). The
                # status is built here as before (building it reads the strategy's state).
                self.notifier.ready(sd_status_text(self.builder.build(), "running"))
                task_status.started()
                return
            task_status.started()  # the supervisor starts the streams next
            await self._ready_when_connected()
            nursery.start_soon(self._status_loop)

    async def _ready_when_connected(self) -> None:
        """``READY=1`` once both streams are connected (module docstring, "READY")."""
        waiting: list[str] = []
        since = trio.current_time()
        logged = since
        while down := streams_down(self.sources):
            if down != waiting:
                waiting = down
                self.notifier.status(
                    f"starting: reconciled; waiting for the {' and '.join(down)} stream"
                    f"{'s' if len(down) > 1 else ''} to connect"
                )
            now = trio.current_time()
            if now - logged >= READY_WAIT_LOG_S:
                logged = now
                logger.warning(
                    "start-up: still waiting for the {} stream to connect ({:.0f} s); not "
                    "ready yet",
                    " and ".join(down),
                    now - since,
                )
            await trio.sleep(READY_POLL_S)
        logger.info(
            "ready: start-up reconciliation done, market and user streams connected "
            "(READY=1 sent to systemd)"
        )
        self.notifier.ready(sd_status_text(self.builder.build(), "running"))

    def cancel_all_sent(self) -> None:
        """The stop sent a cancel-all (it does not go through the loop): count it."""
        if self.metrics is not None:
            self.metrics.count_cancel_all()

    def extend_start(self, seconds: float) -> None:
        """Start-up waits ``seconds`` because the venue asked: give systemd that long more."""
        if self.notifier.enabled and seconds > 0:
            self.notifier.extend_timeout(seconds + START_EXTEND_MARGIN_S)

    def stopping(self, reason: str, deadline_s: float) -> None:
        """Shutdown begins: tell systemd, and ask for time to finish the cleanup."""
        self.builder.stopping = reason
        self.notifier.stopping(f"stopping: {reason}")
        if self.notifier.enabled:
            self.notifier.extend_timeout(deadline_s + deadline_s / 3 + STOP_MARGIN_S)

    def _started_text(self) -> str:
        c = self.config
        mode = {
            "paper": "paper trading on the built-in simulated venue",
            "testnet": "testnet",
            "live": "LIVE",
        }[c.venue.mode]
        return f"▶ {c.runtime.name} started: {c.venue.name} {self.sources.symbol}, {mode}"

    async def farewell(self, text: str) -> None:
        """The exit summary to Telegram (shielded, bounded: the cleanup must not wait long)."""
        if self.telegram is None:
            return
        with trio.CancelScope(shield=True):
            await self.telegram.send_now(text)

    def stopped(self, code: int) -> None:
        """The cleanup finished: the last status line, then close the socket."""
        self.notifier.status(f"stopped: exit code {code}")
        self.notifier.close()

    # --- tasks --------------------------------------------------------------------------------
    async def _status_loop(self) -> None:
        while True:
            await trio.sleep(SD_STATUS_INTERVAL_S)
            self.notifier.status(sd_status_text(self.builder.build(), self.sources.phase))

    async def _disk_loop(self) -> None:
        while True:
            await trio.sleep(self.disk.interval_s)
            self._on_disk(await self.disk.check())

    def _on_disk(self, state: DiskState) -> None:
        # "warn" is logged by DiskGuard.check itself (once per level change).
        if state.level is not DiskLevel.HALT:
            return
        if kill_switch_tripped(self.sources.strategy) or self._events is None:
            # Latched already (by us, or by anyone: the first reason stays), or the loop does
            # not exist yet. A transient halt (stale book) does not count: it clears alone.
            return
        now = self.sources.clock_ms()
        # The guard's thresholds, not the start's config: [journal] reloads (SIGHUP).
        reason = f"disk space below {self.disk.halt_free_mb} MB at {self.disk.path}: {state.reason}"
        logger.bind(component="diskguard").error("{}; kill switch latched", reason)
        try:
            self._events.send_nowait(KillSwitch(reason, False, now))
        except trio.WouldBlock:
            # The loop is saturated; the next check (interval_s) tries again.
            logger.error("inbox full: disk-space kill deferred to the next check")


__all__ = [
    "OperatorSurface",
    "OutputMode",
    "TimedGateway",
    "configure_output",
    "sd_status_text",
]
