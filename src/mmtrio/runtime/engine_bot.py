"""The running bot: the bot nursery's task tree, and the journal writer that outlives it.

:meth:`EngineBot._run_bot` starts the bot nursery's tasks (execution, control socket,
kill-file watcher, trading loop, operator surface) and runs the supervisor;
:meth:`EngineBot._run_writer` is the infra nursery's journal writer.
"""

from __future__ import annotations

import trio
from loguru import logger

from mmtrio.errors import JournalError, MmtrioError
from mmtrio.runtime.assembly import Watches, supervise
from mmtrio.runtime.control import serve_control, watch_kill_file
from mmtrio.runtime.engine_base import EngineBase
from mmtrio.runtime.journal_writer import JournalWriter
from mmtrio.runtime.status import log_status
from mmtrio.venues.protocol import VenueSession

STATUS_LOG_INTERVAL_S = 5.0


class EngineBot(EngineBase):
    """The running-bot layer of :class:`~mmtrio.runtime.engine.Engine`."""

    # --- the running bot --------------------------------------------------------------------
    async def _run_bot(self, session: VenueSession) -> None:
        run = self.running
        if run is None:  # pragma: no cover - _startup sets it before returning True
            raise MmtrioError("the bot was not built")
        cfg = self.config
        sup = supervise(
            cfg,
            session,
            run,
            self.inbox,
            self.clock_ms,
            lambda: self.config.runtime.reconcile_interval_s,
            # the live screen replaces the status log line
            None
            if self.surface.screen_active
            else lambda: log_status(self.sources, STATUS_LOG_INTERVAL_S),
            self.extra_children,
            Watches(self._account, self._on_clock_offset, self.clock_resync),
            self.deadman_armed_at,
        )
        self.sources.supervisor = sup
        run.execution.on_clock_skew = self._on_clock_skew
        inbox = self.inbox

        with trio.CancelScope() as scope:
            self._bot_scope = scope
            if self.ended.stop_reason is not None:
                scope.cancel()
            async with trio.open_nursery() as bot:
                bot.start_soon(run.execution.run, run.cmd_recv)
                if self.transports.control_socket:
                    bot.start_soon(serve_control, cfg.runtime.control_socket, self.operator.control)
                bot.start_soon(watch_kill_file, cfg.risk.kill_file, self.operator.kill_now)
                bot.start_soon(run.loop.run, inbox)
                await bot.start(self.surface.run)  # READY=1 once the streams connect
                await sup.run()

    async def _run_writer(
        self,
        writer: JournalWriter,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The journal writer; its failure (a full disk, an I/O error) stops the bot cleanly.

        Nothing may be decided that cannot be journaled, so a failed write is a stop with exit
        code 1, not a crash: the shielded cleanup still cancels every order at the venue.
        """
        try:
            await writer.run(task_status=task_status)
        except JournalError as exc:
            self.ended.crashed = f"journal failed: {exc}"
            logger.error("{}; stopping", self.ended.crashed)
            self.request_stop(self.ended.crashed)
