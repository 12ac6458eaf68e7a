"""The process harness's fault actions, executed inside the deterministic simulation.

Each executor of :mod:`mmtrio.chaos.schedule` has its in-memory counterpart:

- ``admin``: the same ``POST /admin/fault`` body, to the venue's admin API in memory;
- ``signal``: ``KILL`` is the fenced abandonment of :meth:`DstBot.kill` and a new
  incarnation on the same journal after ``restart_after_ms``; ``HUP`` rewrites the config
  file and reloads it (the bot's own reload path);
- ``control``: the request goes to the bot's operator (what its control socket calls);
- ``foreign_order``: an order through the admin API, as there;
- ``proxy``: :class:`~mmtrio.chaos.memlinks.Link` faults (``half_open``, ``kill``) plus the
  venue's ``link_silent``, as the process harness tells the venue;
- ``cpu``: *virtual* CPU starvation. A Trio instrument charges every step of a bot task
  ``STEP_CHARGE_S`` of virtual time per busy process while the starvation lasts: the bot gets
  slower while the venue's market runs on, which is what sharing a core does to it;
- ``fsize`` (journal_full): every journal commit of the bot fails as on a full disk
  (:func:`mmtrio.determinism.disk_full`); the bot must stop by itself, and the stop is judged
  as there; a new incarnation starts with writes allowed;
- ``early_kill``: wait for the first quote, kill -9, fill each side's best order while the
  bot is down, restart it.

One difference from the process harness, kept on purpose: a silent link belongs to the
incarnation it was made on (the proxy outlives the bot process there); a bot restarted
inside a silence starts on a working link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from mmtrio import determinism
from mmtrio.chaos.barred import barred_ms_within, barred_windows
from mmtrio.chaos.botconfig import SHUTDOWN_DEADLINE_S
from mmtrio.chaos.dst import write_config
from mmtrio.chaos.evidence import StopCheck
from mmtrio.chaos.logs import first_journal_failure
from mmtrio.chaos.schedule import FaultAction
from mmtrio.chaos.stop_checks import orders_left_at_self_stop
from mmtrio.errors import MmtrioError

if TYPE_CHECKING:
    from mmtrio.chaos.dst_bot import DstBot
    from mmtrio.chaos.dst_run import DstRun

STEP_CHARGE_S = 0.002  # virtual seconds charged per bot task step, per busy process


@dataclass
class _Starvation:
    busy: int
    until: float | None  # Trio time; None: the whole run


class _Starver(trio.abc.Instrument):
    """Charges the bot's task steps virtual time while a starvation lasts, and none past
    its end: the venue was told the starvation's seconds (``client_slow``) and judges a 429
    by them. The run's tick that drops the instrument comes up to a poll later; charging
    until then starved the bot past what the venue knew (DST seed 131413: starved to 14.215
    s, not 13.900 s, the bot read a 429 sent at 13.907 s only at 14.087 s, and its place sent
    at 14.031 s, before it could know, reached the venue at 14.203 s and was banned)."""

    def __init__(self) -> None:
        self.active: _Starvation | None = None

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        s = self.active
        if s is None or task.context.get(determinism.CURRENT) is None:
            return
        clock = trio.lowlevel.current_clock()
        jump = getattr(clock, "jump", None)
        if jump is None:
            return
        charge = STEP_CHARGE_S * s.busy
        if s.until is not None:
            charge = min(charge, s.until - clock.current_time())
        if charge > 0:
            jump(charge)


class Faults:
    """Executes one run's fault actions (see the module docstring)."""

    def __init__(self, run: DstRun) -> None:
        self.run = run
        self.starver = _Starver()
        self._instrumented = False

    def cpu_tick(self) -> None:
        s = self.starver.active
        if s is not None and s.until is not None and trio.current_time() >= s.until:
            self.starver.active = None
            # Out of a starvation the instrument charges nothing, but Trio would still call
            # it before every task step of the run (a few % of a run's CPU time): it is
            # there only while a starvation lasts.
            trio.lowlevel.remove_instrument(self.starver)
            self._instrumented = False

    async def execute(self, act: FaultAction, truth: dict[str, Any]) -> bool:
        """Do one action; False when it could not apply (e.g. the bot is down)."""
        run, params = self.run, dict(act.params)
        if act.executor == "admin":
            await run.admin("POST", "/admin/fault", params)
            if params.get("kind") == "position_adjust":
                run.state.gap_faults.append(run.now_ms())
            return True
        if act.executor == "foreign_order":
            # the book's best prices: in the full state only (the poll's ``truth`` is light)
            return await self._foreign_order(params, await run.admin("GET", "/admin/state"))
        if act.executor == "control":
            return await self._control(params)
        if act.executor == "fsize":
            return self._full_disk(params["restart_after_ms"] / 1000)
        if act.executor == "proxy":
            return await self._link(params)
        if act.executor == "cpu":
            return await self._starve(params)
        if act.executor == "early_kill":
            return await self._early_kill(params)
        return await self._signal(params)

    async def _signal(self, params: dict[str, Any]) -> bool:
        run, bot = self.run, self.run.bot
        if bot is None:
            return False
        if params["signal"] == "KILL":
            run.kill(bot)
            run.state.restart_at = trio.current_time() + params["restart_after_ms"] / 1000
            return True
        if params["signal"] == "HUP":
            if not bot.lines:
                return False  # as there: only once the bot has logged its first line
            if params.get("gamma") is not None:
                run.state.gamma = float(params["gamma"])
            write_config(run.out, run.state_dir, run.state.gamma, str(params["config"]), run.terms)
            return await bot.hangup()
        raise MmtrioError(f"unknown signal action {params!r}")

    async def _control(self, request: dict[str, Any]) -> bool:
        bot = self.run.bot
        engine = None if bot is None else bot.engine
        if bot is None or engine is None:
            return False
        answer = await bot.call(lambda: engine.operator.control(request))
        return bool(isinstance(answer, dict) and answer.get("ok"))

    async def _foreign_order(self, params: dict[str, Any], truth: dict[str, Any]) -> bool:
        bids, asks = truth["book"]["bids"], truth["book"]["asks"]
        if not bids or not asks:
            return False
        side = params["side"]
        ref = float(bids[0][0]) * 0.98 if side == "BUY" else float(asks[0][0]) * 1.02
        # in the venue's terms, as the process harness places it (chaos.venues)
        cid, order = self.run.terms.foreign_order(params["client_id"], side, ref, self.run.now_ms())
        try:
            await self.run.admin("POST", "/admin/order", order)
        except MmtrioError:
            return False  # refused by the venue (as a non-200 answer there)
        self.run.state.foreign.add(cid)
        self.run.state.foreign_at[cid] = self.run.now_ms()
        return True

    async def _link(self, params: dict[str, Any]) -> bool:
        run, bot = self.run, self.run.bot
        if bot is None:
            return False
        if params["cmd"] == "kill":
            bot.link.kill(params["target"])
            return True
        seconds = float(params["seconds"])
        end = bot.link.half_open(params["target"])
        now = run.now_ms()
        run.state.link_silent.append((now, now + int(seconds * 1000)))
        silent = {"seconds": params["seconds"], "then": params["then"]}
        await run.admin("POST", "/admin/fault", {"kind": "link_silent", **silent})

        async def later() -> None:
            await trio.sleep(seconds)
            end(params["then"] == "reset")

        run.spawn(later)
        return True

    async def _starve(self, params: dict[str, Any]) -> bool:
        # The venue learns the bot is starved: a 429 it sends meanwhile is read late
        # (sim/limits.py: no ban for requests the bot sent before it could read it).
        await self.run.admin(
            "POST", "/admin/fault", {"kind": "client_slow", "seconds": params["seconds"]}
        )
        if not self._instrumented:
            trio.lowlevel.add_instrument(self.starver)
            self._instrumented = True
        seconds = params["seconds"]
        until = None if seconds is None else trio.current_time() + float(seconds)
        self.starver.active = _Starvation(int(params["busy"]), until)
        return True

    def _full_disk(self, restart_after_s: float) -> bool:
        run, bot = self.run, self.run.bot
        if bot is None or bot.signal_sent is not None:
            return False
        bot.det.full_disk = True
        bot.signal_sent, bot.fault_ms = "FSIZE", run.now_ms()
        run.state.restart_after_exit = restart_after_s
        return True

    async def self_stopped(self, bot: DstBot) -> None:
        """The bot stopped after journal_full: judge the venue now, restart it later (the
        process harness's ``_self_stopped``, same rules)."""
        run = self.run
        truth = await run.snapshot()
        fallback = bot.fault_ms if bot.fault_ms is not None else run.now_ms()
        since, before_venue = first_journal_failure(bot.log_text, fallback)
        # The process harness's rule (smoke seed 26): another client's order placed after the
        # stop began is not the stopping bot's (DST seed 122 at 60 s: placed 4.2 s into a stop
        # whose cancel-all had gone into a silent REST link).
        left = orders_left_at_self_stop(
            truth["open_orders"], run.state.foreign_at, since, before_venue=before_venue
        )
        budget = int(SHUTDOWN_DEADLINE_S * 1000)
        ended = run.now_ms()
        # The 429s and held answers of the stop, and the countdown, are in the full state
        # only (the poll's ``truth`` is light): read from the light one, every self-stop was
        # judged unbarred and unarmed, so a stop whose cancel-all the venue refused twice
        # under an armed countdown was a violation here and not in the process harness (DST
        # seed 110435, the rule of OKX chaos seed 3028 in ``check_stop``).
        full = run.venue.ground_truth()
        barred = barred_ms_within(barred_windows(full), since, ended)
        armed = bool(full.get("countdown_armed", False))
        run.state.self_stops.append(
            StopCheck("journal_full", since, budget, ended, left, armed, barred)
        )
        delay = run.state.restart_after_exit
        run.state.restart_at = trio.current_time() + (delay if delay is not None else 1.0)
        run.state.restart_after_exit = None

    async def _early_kill(self, params: dict[str, Any]) -> bool:
        run, bot = self.run, self.run.bot
        if bot is None or bot.index != 0:
            return False
        with trio.move_on_after(params["wait_ms"] / 1000) as waited:
            while not run.poll_state()["open_orders"]:
                if not bot.alive:
                    return False
                await trio.sleep(0.05)
        if waited.cancelled_caught:
            return False
        await trio.sleep(params["after_quote_ms"] / 1000)
        if not bot.alive:
            return False
        run.kill(bot)
        for side in ("BUY", "SELL"):
            await run.admin("POST", "/admin/fault", {"kind": "fill", "side": side})
        run.state.restart_at = trio.current_time() + params["restart_after_ms"] / 1000
        return True
