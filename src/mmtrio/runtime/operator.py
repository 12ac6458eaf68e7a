"""The operator's requests: control-socket commands (status, kill, resume, crash) and SIGHUP.

Decisions:

- A kill reaches the strategy through the inbox's lossless lane; when even that is full (the
  loop is wedged), the kill becomes a full stop: a kill must always get through.
- Resume is refused while the kill file exists (the file is the operator's standing order).
- A reload applies reloadable keys atomically between two decisions, or nothing: a file that
  does not parse, changes a restart-only key, or builds an invalid strategy changes nothing and
  says why.
- ``crash`` (fault injection for the chaos harness) works only with ``runtime.fault_injection``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
from loguru import logger

from mmtrio import determinism
from mmtrio.config import Config, diff_reload, load_config
from mmtrio.core.events import KillSwitch, Resume
from mmtrio.core.guards import TradingState
from mmtrio.errors import ConfigError, MmtrioError
from mmtrio.runtime.status import StatusSources, build_snapshot
from mmtrio.runtime.trading import ApplyConfig
from mmtrio.runtime.venue_fit import strategy_config
from mmtrio.venues.protocol import Capabilities

if TYPE_CHECKING:
    from mmtrio.core.instruments import Instrument
    from mmtrio.runtime.inbox import Inbox
    from mmtrio.runtime.trading import TradingLoop

SETTLE_TIMEOUT_S = 2.0


class Operator:
    """Answers the operator on behalf of one running bot."""

    def __init__(
        self,
        *,
        config: Config,
        config_path: Path,
        reload_config: Callable[[], Config] | None = None,
        sources: StatusSources,
        clock_ms: Callable[[], int],
        request_stop: Callable[[str], None],
    ) -> None:
        self.config = config
        self.config_path = config_path
        # A reload reads the file the way the command did (its --name and --set included):
        # re-reading the bare file would drop the overrides and refuse or undo them.
        self.reload_config = reload_config or (lambda: load_config(config_path))
        self.sources = sources
        self.clock_ms = clock_ms
        # Called with (old, new) after a reload was accepted: the keys the strategy does not
        # own (the engine registers them; see Engine._apply_runtime_reload).
        self.on_reload: list[Callable[[Config, Config], None]] = []
        self.request_stop = request_stop
        self.inbox: Inbox | None = None
        self.loop: TradingLoop | None = None
        self.instrument: Instrument | None = None
        self.capabilities: Capabilities | None = None
        self.orders_per_minute = 0

    def bind(
        self,
        inbox: Inbox,
        loop: TradingLoop,
        instrument: Instrument,
        orders_per_minute: int,
        capabilities: Capabilities,
    ) -> None:
        """The running bot's inbox, loop and venue facts (set once start-up built them)."""
        self.inbox, self.loop, self.instrument = inbox, loop, instrument
        self.orders_per_minute = orders_per_minute
        self.capabilities = capabilities

    async def _send(self, item: Any) -> None:
        if self.inbox is None:
            raise MmtrioError("the bot is not running yet")
        await self.inbox.send(item)

    def kill_now(self, reason: str) -> None:
        """The kill file appeared: latch HALTED at once (never waits)."""
        if self.inbox is None:
            self.request_stop(reason)  # not trading yet: stopping is the kill
            return
        try:
            self.inbox.send_nowait(
                KillSwitch(reason, self.config.risk.flatten_on_kill, self.clock_ms())
            )
        except trio.WouldBlock:
            # The loop is saturated; a kill must still get through: stop the bot instead.
            logger.error("inbox full; kill request escalated to a full stop")
            self.request_stop(reason)

    async def reload(self) -> None:
        """SIGHUP: load the file, apply reloadable changes atomically, refuse the rest."""
        try:
            new = await determinism.run_sync(self.reload_config)
        except ConfigError as exc:
            logger.error("config reload failed, nothing changed: {}", exc)
            return
        plan = diff_reload(self.config, new)
        if plan.empty:
            logger.info(plan.describe())
            return
        if not plan.ok:
            logger.error(plan.describe())
            return
        if self.instrument is None or self.capabilities is None:
            logger.error("config reload refused, nothing changed: the bot is still starting")
            return
        try:
            strat = strategy_config(
                new,
                self.instrument,
                orders_per_minute=self.orders_per_minute,
                capabilities=self.capabilities,
            )
        except MmtrioError as exc:
            logger.error("config reload refused, nothing changed: {}", exc)
            return
        old, self.config = self.config, new
        await self._send(ApplyConfig(strat, plan.describe()))
        for hook in self.on_reload:
            # The runtime's own reloadable keys (disk guard, journal retention, log level):
            # validated with the file, so a hook that fails is a bug, logged, not a refusal.
            try:
                hook(old, new)
            except MmtrioError as exc:
                logger.error("config reload: a runtime setting was not applied: {}", exc)

    async def control(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one control-socket request (status, kill, resume, crash)."""
        cmd = request["cmd"]
        if cmd == "status":
            return {"ok": True, "status": build_snapshot(self.sources)}
        if cmd == "crash":
            return self._crash(request)
        if cmd == "kill":
            flatten = bool(request.get("flatten", self.config.risk.flatten_on_kill))
            reason = str(request.get("reason", "operator kill (control socket)"))
            await self._send(KillSwitch(reason, flatten, self.clock_ms()))
            await self._settle()
            return {"ok": True, "status": build_snapshot(self.sources)}
        kill_file = self.config.risk.kill_file
        if await determinism.run_sync(kill_file.exists):
            return {"ok": False, "error": f"kill file {kill_file} exists: remove it, then resume"}
        reason = str(request.get("reason") or "operator resume (control socket)")
        override = bool(request.get("override", False))
        await self._send(Resume(reason, self.clock_ms(), override))
        await self._settle()
        snap = build_snapshot(self.sources)
        state = snap.get("strategy", {}).get("trading_state")
        outcome = getattr(self.sources.strategy, "last_resume", None)
        if outcome is not None and not outcome.accepted:
            # The risk layer's own answer says what to do (e.g. the loss-limit override).
            return {"ok": False, "error": outcome.reason, "status": snap}
        if state == TradingState.HALTED.value:
            reason = snap.get("strategy", {}).get("reason")
            return {"ok": False, "error": f"resume refused by risk: {reason}", "status": snap}
        return {"ok": True, "status": snap}

    def _crash(self, request: dict[str, Any]) -> dict[str, Any]:
        # Fault injection for the chaos harness: off unless the config turns it on.
        if not self.config.runtime.fault_injection:
            return {"ok": False, "error": "fault injection is off (runtime.fault_injection)"}
        sup = self.sources.supervisor
        if sup is None:
            return {"ok": False, "error": "no supervisor is running yet"}
        try:
            sup.crash(str(request["child"]), str(request.get("reason", "control socket")))
        except MmtrioError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True}

    async def _settle(self) -> None:
        # Let the trading loop process what was just queued before answering.
        if self.loop is None:
            return
        target = self.loop.steps + 1
        with trio.move_on_after(SETTLE_TIMEOUT_S):
            while self.loop.steps < target:  # noqa: ASYNC110 - polls a counter, rare operator call
                await trio.sleep(0.01)
