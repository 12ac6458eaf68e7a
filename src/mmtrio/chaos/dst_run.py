"""One deterministic run inside its ``trio.run``: the venue, the bot's incarnations, the
schedule's faults, the final stop and the evidence (see :mod:`mmtrio.chaos.dst`).

The loop is the process harness's (:class:`mmtrio.chaos.harness.Harness`) on virtual time:
every ``POLL_S`` it snapshots the venue, notices an incarnation that ended, restarts the bot
when a restart is due, and executes the actions whose time has come (their time counts from
the first bot's start, as there).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import trio
from loguru import logger

from mmtrio import determinism
from mmtrio.chaos.botconfig import (
    FOREIGN_QTY_LOTS,
    MAX_POSITION_LOTS,
    SHUTDOWN_DEADLINE_S,
    SYMBOL,
)
from mmtrio.chaos.cutoff import fill_cutoff, learnt_until_ms
from mmtrio.chaos.dst import (
    EPOCH_MS,
    POLL_S,
    URLS,
    URLS_BY_NAME,
    _State,
    judge,
    new_determinism,
    read_journal,
    write_config,
)
from mmtrio.chaos.dst_bot import DstBot
from mmtrio.chaos.dst_faults import Faults
from mmtrio.chaos.dst_sched import quiet_signals
from mmtrio.chaos.dst_venues import BINANCE, DstVenue, dst_venue, epoch_ms
from mmtrio.chaos.evidence import Snapshot, StopCheck
from mmtrio.chaos.harness_base import STARTED_WAIT_S
from mmtrio.chaos.memlinks import Link
from mmtrio.chaos.recovery_checks import STARTUP_RECONCILE
from mmtrio.chaos.report import RunResult
from mmtrio.chaos.schedule import Schedule
from mmtrio.core.instruments import Instrument
from mmtrio.errors import MmtrioError
from mmtrio.sim import frontends
from mmtrio.sim.admin import AdminApp
from mmtrio.sim.clock import TrioClock
from mmtrio.sim.paper import synthetic_instrument
from mmtrio.sim.server import run_venue
from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.registry import venue as get_venue


class DstRun:
    """Runs one schedule (:meth:`main` is the ``trio.run`` entry point)."""

    def __init__(self, schedule: Schedule, out: Path, venue: str = BINANCE) -> None:
        self.schedule = schedule
        self.venue_name = venue
        self.epoch_ms = epoch_ms(venue, EPOCH_MS)  # virtual time 0 as wall time (dst_venues)
        self.out = out
        if out.exists():
            shutil.rmtree(out)  # a replay starts from nothing, as the first run did
        out.mkdir(parents=True)
        self.state_dir = out / "state"
        self.state = _State()
        self.result: RunResult | None = None
        self.factory = get_venue(venue)
        self.faults = Faults(self)
        self._nursery: trio.Nursery | None = None
        self._bots_by_det: dict[int, DstBot] = {}
        self._just_ended: list[DstBot] = []  # incarnations that ended by themselves

    def _build_venue(self) -> None:
        """The venue `mmtrio sim --synthetic` builds, on Trio's clock (inside ``trio.run``)."""
        seed = self.schedule.seed
        # The process harness starts `mmtrio sim --synthetic --seed <seed % 2**31 + 1>`.
        self.venue = SimVenue(
            SyntheticDriver(self._instrument(), seed % 2**31 + 1, SyntheticParams()),
            SimConfig(clock=TrioClock(self.epoch_ms), seed=seed),
        )
        self.front = frontends.factory(self.venue_name).create(self.venue)
        self.admin_app = AdminApp(self.venue)
        # the bot's endpoints, settings and credentials in the venue's terms (dst_venues)
        urls = URLS_BY_NAME if self.venue_name == BINANCE else URLS
        self.terms: DstVenue = dst_venue(self.venue_name, self.front, urls)
        self.settings = self.terms.settings(self.state_dir)
        self.credentials = self.terms.credentials

    def _instrument(self) -> Instrument:
        """The synthetic instrument `mmtrio sim --synthetic --symbol BTCUSDT --venue V` serves
        (the symbol in the recordings' terms: :func:`mmtrio.sim.paper.check_paper_data`)."""
        return synthetic_instrument(frontends.factory(self.venue_name).data_symbol(SYMBOL))

    # --- venue ----------------------------------------------------------------------------
    async def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The admin API, called in memory, its answer through JSON as over HTTP."""
        raw = json.dumps(body).encode() if body is not None else b""
        answer = await self.admin_app.handle(method, path, raw)
        return json.loads(json.dumps(answer, default=str))

    def poll_state(self) -> dict[str, Any]:
        """The part of the venue's ground truth a poll reads (``/admin/state``'s ``wall_ms``,
        ``open_orders``, ``position.lots`` and the number of ``fills``), read from the venue
        directly: the full state serialises every order and fill so far, and polling it
        every 0.3 s was the harness's largest cost in a run (about 7 % of its CPU time)."""
        account = self.venue.account
        return {
            "wall_ms": self.venue.true_ms(),
            "open_orders": [r.client_id for r in account.open_records()],
            "position": {"lots": account.position},
            "n_fills": len(account.fills),
        }

    async def snapshot(self) -> dict[str, Any]:
        truth = self.poll_state()
        await trio.lowlevel.checkpoint()  # as the admin call it stands for: one round trip
        snap = Snapshot(
            wall_ms=int(truth["wall_ms"]),
            open_orders=tuple(truth["open_orders"]),
            position_lots=int(truth["position"]["lots"]),
            n_fills=int(truth["n_fills"]),
            bot_alive=self.bot is not None,
        )
        self.state.snapshots.append(snap)
        self.state.trace.append(
            ["snap", snap.wall_ms, sorted(snap.open_orders), snap.position_lots, snap.n_fills]
        )
        return truth

    def now_ms(self) -> int:
        return self.epoch_ms + int(trio.current_time() * 1000)

    # --- the bot --------------------------------------------------------------------------
    @property
    def bot(self) -> DstBot | None:
        b = self.state.bots[-1] if self.state.bots else None
        return b if b is not None and b.alive else None

    def start_bot(self) -> DstBot:
        if self._nursery is None:
            raise MmtrioError("the run is not running")
        index = len(self.state.bots)
        det = new_determinism(self.schedule.seed, index, self.epoch_ms)
        link = Link(self.front.rest_app, self.front.serve_ws, self._nursery, self.epoch_ms)
        path = self.out / "config.toml"
        bot = DstBot(index, det, link, path, self.now_ms())
        self.state.bots.append(bot)
        self._bots_by_det[id(det)] = bot
        self.state.trace.append(["start", index, bot.start_ms])
        self._nursery.start_soon(
            bot.run, self.factory, self.settings, self.credentials, self._ended
        )
        return bot

    def _ended(self, bot: DstBot) -> None:
        self.state.trace.append(["end", bot.index, bot.end_ms, bot.exit_code, bot.signal_sent])
        self._just_ended.append(bot)

    def spawn(self, fn: Any) -> None:
        """Run ``fn()`` beside the run (a fault's later step)."""
        if self._nursery is None:
            raise MmtrioError("the run is not running")
        self._nursery.start_soon(fn)

    def kill(self, bot: DstBot) -> None:
        bot.kill()
        self.state.trace.append(["kill", bot.index, bot.end_ms])

    def _log_sink(self, message: Any) -> None:
        record = message.record
        det = determinism.current()
        bot = self._bots_by_det.get(id(det)) if det is not None else None
        if bot is None:
            return  # the venue's own log and the harness's: not the bot's evidence
        exc = record["exception"]
        bot.log(record["level"].name, str(record["name"]), str(record["message"]),
                exc.value if exc is not None else None)  # fmt: skip

    # --- the run --------------------------------------------------------------------------
    async def main(self) -> RunResult:
        quiet_signals()  # a stop signal during the run must not change it (dst_sched)
        self._build_venue()
        handler = logger.add(self._log_sink, level="INFO", format="{message}", catch=False)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(run_venue, self.venue)
                await self.venue.started.wait()
                limit = MAX_POSITION_LOTS + FOREIGN_QTY_LOTS
                await self.admin("POST", "/admin/config", {"exposure_limit_lots": limit})
                write_config(self.out, self.state_dir, self.state.gamma, "valid", self.terms)
                self.start_bot()
                start = trio.current_time()
                pending = list(self.schedule.actions)
                while trio.current_time() - start < self.schedule.duration_ms / 1000:
                    await self._tick(start, pending)
                    await trio.sleep(POLL_S)
                stop, cutoff = await self._stop()
                truth = await self.admin("GET", "/admin/state")
                nursery.cancel_scope.cancel()
        finally:
            logger.remove(handler)
        records = read_journal(self.state_dir / "journal.sqlite3", self.terms.symbol)
        self.state.trace.append(["fills", truth["fills"]])
        self.state.trace.append(["orders", truth.get("orders", [])])
        self.state.trace.append(
            ["journal", records[0], [[r.seq, r.kind, r.local_ts_ms, r.payload] for r in records[1]]]
        )
        result = judge(
            self.schedule, self.state, truth, records, stop, cutoff, self.out, self.terms
        )
        self.state.trace.append(["verdict", [v.to_json() for v in result.violations]])
        self.result = result
        for b in self.state.bots:  # the evidence the process harness keeps, under the same names
            (self.out / f"bot-{b.index}.log").write_text(b.log_text)
        (self.out / "evidence.json").write_text(
            json.dumps(
                {
                    "schedule": [a.to_json() for a in self.schedule.actions],
                    "executed": [e for e in self.state.trace if e[0] == "fault"],
                    "result": result.to_json(),
                },
                indent=1,
                default=str,
            )
        )
        return result

    async def _tick(self, start: float, pending: list[Any]) -> None:
        self.faults.cpu_tick()
        truth = await self.snapshot()
        await self._judge_ended()
        now = trio.current_time()
        st = self.state
        if self.bot is None and st.restart_at is not None and now >= st.restart_at:
            write_config(self.out, self.state_dir, st.gamma, "valid", self.terms)
            self.start_bot()
            st.restarts += 1
            st.restart_at = None
        elif self.bot is None and st.restart_at is None:
            st.restart_at = now + 1.0  # died unasked: the judge says so; restart to go on
        while pending and pending[0].at_ms <= (now - start) * 1000:
            act = pending.pop(0)
            done = await self.faults.execute(act, truth)
            st.trace.append(["fault", self.now_ms(), act.to_json(), done])
            if done and act.counted:
                st.faults[act.kind] = st.faults.get(act.kind, 0) + 1

    async def _judge_ended(self) -> None:
        """Judge the incarnations that ended by themselves since the last look (a
        journal_full stop is :meth:`DstFaults.self_stopped`)."""
        while self._just_ended:
            ended = self._just_ended.pop(0)
            if ended.signal_sent == "FSIZE":
                await self.faults.self_stopped(ended)

    @staticmethod
    async def _until_started(bot: DstBot) -> None:
        """Hold the final SIGTERM as the process harness does (``_wait_until_started``):
        until the bot has logged its start-up reconciliation, or ``STARTED_WAIT_S``. Sent at
        once, it stopped a restart still waiting out the venue's rate window before it could
        book the fills its killed predecessor missed (Hyperliquid DST seeds 2 and 4: judged
        "fill lost" and a final position mismatch the process harness never provokes)."""
        with trio.move_on_after(STARTED_WAIT_S):
            while True:
                if not bot.alive or STARTUP_RECONCILE in bot.log_text:
                    return
                await trio.sleep(POLL_S)

    def _fill_cutoff(self, at_ms: int) -> int | None:
        """The process harness's rule (chaos.cutoff): the fills a bot had a reconcile
        interval to learn, judged up to when the last bot that got through its start-up
        reconciliation could learn them by ``at_ms``. It was the final kill's time here: DST
        seed 126 on Hyperliquid, two restarts still waiting out a full rate budget at the
        final kill, judged a fill of the first incarnation "lost" that no bot could book."""
        settle_ms = int(self.terms.reconcile_s * 1000) + 1_500
        bots = [(b.start_ms, b.end_ms, STARTUP_RECONCILE in b.log_text) for b in self.state.bots]
        return fill_cutoff(self.state.snapshots, learnt_until_ms(bots, at_ms), settle_ms)

    async def _stop(self) -> tuple[StopCheck | None, int | None]:
        """End the run as scheduled: SIGTERM (shutdown deadline) or kill -9 (dead-man).

        A bot that ended by itself since the last tick is judged first, as the tick would
        have (the process harness's ``_ended_by_itself``): its journal_full stop was
        otherwise never judged, the run ending with no bot to stop."""
        await self._judge_ended()
        end = self.schedule.end
        bot = self.bot
        if bot is None:
            return None, None
        sent = self.now_ms()
        armed = True
        if end == "sigkill":
            cutoff: int | None = self._fill_cutoff(sent)
            # as the process harness: only an armed countdown can clear the venue (check_stop)
            armed = self.venue.countdown_deadline is not None
            self.kill(bot)
            budget = self.terms.deadman_ms
        else:
            cutoff = None
            await self._until_started(bot)
            if not bot.alive:  # it stopped by itself meanwhile: as the process harness judges
                await self._judge_ended()  # a journal_full stop (the tick's rule)
                return None, self._fill_cutoff(self.now_ms())
            sent = self.now_ms()
            bot.terminate()
            budget = int(SHUTDOWN_DEADLINE_S * 1000)
        with trio.move_on_after(budget / 1000 + 1.0):
            while True:
                if end == "sigterm" and not bot.alive:
                    break
                await trio.sleep(POLL_S)
        truth = await self.snapshot()
        left = tuple(truth["open_orders"])
        check = StopCheck(end, sent, budget, self.now_ms(), left, deadman_armed=armed)
        if bot.alive:  # SIGTERM not honoured within budget + grace: wait, then force
            with trio.move_on_after(SHUTDOWN_DEADLINE_S + 10):
                await bot.ended.wait()
            if bot.alive:
                self.kill(bot)
        return check, cutoff
