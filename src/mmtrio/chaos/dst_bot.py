"""One incarnation of the real bot (:class:`mmtrio.runtime.engine.Engine`) inside the
deterministic simulation: its context (:mod:`mmtrio.determinism`), its in-memory network
(:class:`~mmtrio.chaos.memlinks.Link`), its log, and the four things a process harness does
to a process: SIGTERM, SIGHUP, a control-socket request, and kill -9.

kill -9 is the hard one in a single Trio run: a task cannot be made to vanish. The bot is
*fenced* instead, in this order, before it can take another step: its files close and every
later journal or file operation fails (:meth:`Determinism.fence`), its network is severed (no
byte of it reaches the venue again, and the venue sees its connections drop), its log is
cut; then its cancel scope is cancelled. Whatever the abandoned tree still runs (its shielded
cleanup) meets closed files and a dead network, as a killed process would have had none: no
side effect of it reaches the world. The next incarnation starts from the same journal file.

The log is kept as the process harness keeps a bot's stderr: one plain line per record,
``YYYY-MM-DD HH:MM:SS.mmm LEVEL name message`` (local time, the bot's file-sink format),
tracebacks on the following lines, stamped with the simulation's virtual wall clock, so the
same judge (:mod:`mmtrio.chaos.invariants`, :mod:`mmtrio.chaos.logs`) reads it.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import trio

from mmtrio import determinism
from mmtrio.chaos.memlinks import Link
from mmtrio.config import load_config
from mmtrio.errors import MmtrioError
from mmtrio.runtime.engine import Engine
from mmtrio.runtime.engine_base import Transports
from mmtrio.venues.protocol import VenueCredentials, VenueFactory, VenueSettings

EXIT_KILLED = -9  # subprocess convention for "killed by signal 9" (what the judge expects)
EXIT_FAILED = 1
STARTUP_S = (0.8, 1.5)  # virtual seconds from process start to the bot's first step


def stamp(wall_ms: int) -> str:
    """The bot's log time stamp for ``wall_ms`` (local time, as the file sink writes it)."""
    return datetime.fromtimestamp(wall_ms / 1000).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@dataclass
class DstBot:
    """One bot incarnation (the process harness's ``_Bot``)."""

    index: int
    det: determinism.Determinism
    link: Link
    config_path: Path
    start_ms: int
    end_ms: int | None = None
    exit_code: int | None = None
    signal_sent: str | None = None  # "KILL" | "TERM" | "FSIZE", as the process harness says
    fault_ms: int | None = None  # when its journal writes were refused (journal_full)
    lines: list[str] = field(default_factory=list)
    engine: Engine | None = None
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    ended: trio.Event = field(default_factory=trio.Event)
    _requests: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    _wake: trio.Event = field(default_factory=trio.Event)

    @property
    def alive(self) -> bool:
        return self.end_ms is None

    @property
    def log_text(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.lines else "")

    def log(self, level: str, name: str, message: str, exc: BaseException | None) -> None:
        if self.det.fenced:
            return  # a killed process writes nothing more
        self.lines.append(f"{stamp(self.det.wall_ms())} {level: <7} {name} {message}")
        if exc is not None:
            self.lines.extend("".join(traceback.format_exception(exc)).rstrip("\n").splitlines())

    # --- the process --------------------------------------------------------------------
    async def run(
        self,
        factory: VenueFactory,
        settings: VenueSettings,
        credentials: VenueCredentials,
        on_end: Callable[[DstBot], None],
    ) -> None:
        """The incarnation's life; ``on_end`` is told when it ended (not after a kill: the
        harness ended it then)."""
        determinism.CURRENT.set(self.det)  # this task and every task it starts
        code: int = EXIT_FAILED
        try:
            with self.scope:
                # A process takes time to start (the interpreter, imports) before it does
                # anything: the process harness's schedule counts on it (a kill "moments
                # after the first quote", fills "during the start-up recovery").
                await trio.sleep(self.det.rng("startup").uniform(*STARTUP_S))
                config = load_config(self.config_path)
                engine = Engine(
                    config,
                    config_path=self.config_path,
                    venue=factory,
                    settings=settings,
                    credentials=credentials,
                    transports=Transports(
                        http=self.link.rest,
                        ws_connect=self.link.connect,
                        control_socket=False,
                        signals=False,
                    ),
                )
                self.engine = engine
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._serve_requests)
                    code = await engine.run()
                    nursery.cancel_scope.cancel()
        except (MmtrioError, OSError, BaseExceptionGroup) as exc:
            if not self.det.fenced:
                # what `mmtrio run` prints on stderr before exit 1 (cli/run.py)
                self.log("ERROR", "mmtrio.cli.run", f"mmtrio run: {exc}", None)
        if self.alive:
            self.end_ms = self.det.wall_ms()
            self.exit_code = code
            on_end(self)
        self.ended.set()

    async def _serve_requests(self) -> None:
        """Run what the harness asks (a reload, a control request) in the bot's context."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._requests:
                await self._requests.pop(0)()

    async def call(self, fn: Callable[[], Awaitable[Any]], timeout_s: float = 3.0) -> Any:
        """``await fn()`` inside the bot (its context, its nursery); its answer, or None when
        it failed or the bot did not answer within ``timeout_s`` (a socket would time out)."""
        done, box = trio.Event(), []

        async def job() -> None:
            try:
                box.append(await fn())
            except MmtrioError as exc:
                self.log(
                    "WARNING", "mmtrio.runtime.control", f"control request failed: {exc}", None
                )
            finally:
                done.set()

        self._requests.append(job)
        self._wake.set()
        with trio.move_on_after(timeout_s):
            await done.wait()
        return box[0] if box else None

    # --- what the harness does to it -----------------------------------------------------
    def terminate(self) -> bool:
        """SIGTERM: the bot's own graceful stop (as its signal watcher does it)."""
        if self.engine is None or not self.alive:
            return False
        if self.signal_sent != "FSIZE":
            self.signal_sent = "TERM"
        self.log(
            "INFO",
            "mmtrio.runtime.control",
            "SIGTERM received: stopping (cancelling all orders first)",
            None,
        )
        self.engine.request_stop("SIGTERM received")
        return True

    async def hangup(self) -> bool:
        """SIGHUP: reload the config file (the harness rewrote it first)."""
        engine = self.engine
        if engine is None or not self.alive or not self.lines:
            return False  # as the process harness: only once the bot has logged
        await self.call(engine.reload, timeout_s=1.0)
        return True

    def kill(self) -> None:
        """kill -9 (see the module docstring)."""
        if not self.alive:
            return
        self.signal_sent = "KILL"
        self.det.fence()
        self.link.sever()
        self.scope.cancel()
        self.end_ms = self.det.wall_ms()
        self.exit_code = EXIT_KILLED
