"""One chaos run: `mmtrio sim` and `mmtrio run` as real subprocesses on loopback, a seeded
fault schedule applied over wall time, evidence collected, invariants judged.

The harness is deliberately synchronous and single-threaded: it polls the venue's ground
truth every ``POLL_S``, executes the actions that are due, and watches the bot process. It
never imports the runtime (the bot is a black box it talks to only through the venue, its
signals, its config file, its journal and its logs).

Evidence kept under ``<out>/seed-<seed>/``: the config, every bot incarnation's log
(``bot-<n>.log``), the sim's log, the journal (the bot's state dir), ``venue_state.json``
(final ground truth) and ``evidence.json`` (schedule, executed actions, violations).
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from mmtrio.chaos.botconfig import (
    CANCEL_DEADLINE_MS,
    DEADMAN_REFRESH_MS,
    FOREIGN_QTY_LOTS,
    MAX_POSITION_LOTS,
    SHUTDOWN_DEADLINE_S,
    SYMBOL,
    ChaosHarnessError,
    bot_config,
)
from mmtrio.chaos.invariants import (
    Evidence,
    JournalRecord,
    Limits,
    ProcessRecord,
    Snapshot,
    StopCheck,
    barred_ms_within,
    barred_windows,
    check_all,
    orders_left_at_self_stop,
    snapshot_of,
)
from mmtrio.chaos.links import CpuStarver, ProxyClient
from mmtrio.chaos.logs import first_journal_failure, log_entries, supervised_restarts
from mmtrio.chaos.report import RunResult
from mmtrio.chaos.schedule import FaultAction, Schedule, make_schedule
from mmtrio.chaos.venues import chaos_venue
from mmtrio.errors import MmtrioError

EXIT_USAGE = 2  # mmtrio's exit code for bad usage, config or input (cli/__init__)
POLL_S = 0.3  # venue polling period (s): the resolution of snapshots and action timing
STARTED_WAIT_S = 30.0  # the longest the final SIGTERM waits for a restarted bot's start-up
FULL_DISK_FSIZE = 4096  # journal_full: no file of the bot may grow past its first block


@dataclass
class _Bot:
    index: int
    proc: subprocess.Popen[bytes]
    relay: subprocess.Popen[bytes]  # copies the bot's output into its log file
    log_path: Path
    log: IO[bytes]
    start_ms: int
    signal_sent: str | None = None  # "KILL" | "TERM" | "FSIZE" (its file writes refused)
    end_ms: int | None = None
    fault_ms: int | None = None  # when its file writes were refused (journal_full)


@dataclass
class _Run:
    schedule: Schedule
    out: Path
    urls: dict[str, Any] = field(default_factory=dict)  # the sim's --json line
    bots: list[_Bot] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    executed: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    gamma: float = 0.1
    foreign: set[str] = field(default_factory=set)
    foreign_at: dict[str, int] = field(default_factory=dict)  # wall ms each was placed
    truth: dict[str, Any] = field(default_factory=dict)
    self_stops: list[StopCheck] = field(default_factory=list)  # stops after journal_full
    gap_faults: list[int] = field(default_factory=list)  # wall ms of each position_gap


def _now_ms() -> int:
    return int(time.time() * 1000)


def learnt_until_ms(bots: Sequence[tuple[int, int | None, bool]], now_ms: int) -> int:
    """Until when a bot could learn the venue's fills, for the final SIGKILL's fill cutoff.

    ``bots`` are the incarnations' (spawned, ended, reached its start-up reconciliation), oldest
    first. A bot still starting has learnt nothing, and one that never got through its start
    learnt nothing either (chaos seed 1722 on OKX: two restarts in a row were still importing
    when they were killed): the fills judged are those the last bot that did get through its
    start could learn, until it ended (``now_ms`` while it runs); the run's first spawn when no
    bot got that far."""
    for _, end, started in reversed(bots):
        if started:
            return now_ms if end is None else min(end, now_ms)
    return bots[0][0] if bots else now_ms


def fill_cutoff(snapshots: Sequence[Snapshot], learnt_until: int, settle_ms: int) -> int:
    """How many venue fills the final SIGKILL's judge checks: those the venue had made
    ``settle_ms`` (a reconcile interval and slack) before ``learnt_until``
    (:func:`learnt_until_ms`), as the harness's last snapshot by then counted them."""
    before = [s for s in snapshots if s.wall_ms <= learnt_until - settle_ms]
    return before[-1].n_fills if before else 0


class Harness:
    """Runs one seeded chaos run end to end (:meth:`run`)."""

    def __init__(
        self, seed: int, duration_s: float, out_root: Path, venue: str = "binance"
    ) -> None:
        self.seed = seed
        self.venue = chaos_venue(venue)
        # What the sim's --json says replaces these once it started (_start_sim).
        self.symbol = SYMBOL
        self.env: dict[str, str] = {}
        self.account: str | None = None
        self.schedule = make_schedule(seed, int(duration_s * 1000))
        # Absolute: the bot runs in its run directory and gets every path in its config;
        # a relative --out once made every bot exit 2 (issue #20, finding 3).
        self.out = out_root.resolve() / f"seed-{seed}"
        if self.out.exists():
            # A replay starts from nothing, as the first run did: the bot of a seed run again
            # into the same --out (as `--runs 1 --seed S` is documented to) found the last
            # run's journal, took its trade ids for its own, and the judge reported fills the
            # venue "never made" and fills "lost" (invariant 1, seeds 4, 5, 7 and 10 at 12 s).
            shutil.rmtree(self.out)
        self.out.mkdir(parents=True)
        # a Unix socket path must stay short (≤ 107 bytes): keep it out of --out
        self.sock_dir = Path(tempfile.mkdtemp(prefix="mmchaos-"))
        self.state_dir = self.out / "state"
        self.http = httpx.Client(timeout=5.0)
        self.r = _Run(self.schedule, self.out)
        self.sim: subprocess.Popen[bytes] | None = None
        self._restart_at: float | None = None  # monotonic time of a scheduled bot restart
        self._restart_after_exit: float | None = None  # s after the bot's own stop (FSIZE)
        self.sim_log: IO[bytes] | None = None
        self.proxy: ProxyClient | None = None  # between the bot and the venue (links.py)
        self.starver = CpuStarver(cpu=seed % max(1, len(os.sched_getaffinity(0))))

    # --- processes ------------------------------------------------------------------------
    def _start_sim(self) -> None:
        cmd = [sys.executable, "-m", "mmtrio", "sim", "--json", "--synthetic"]
        cmd += ["--seed", str(self.seed % 2**31 + 1), "--symbol", SYMBOL]
        cmd += ["--venue", self.venue.name]
        self.sim_log = (self.out / "sim.log").open("wb")
        self.sim = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.sim_log)
        stdout = self.sim.stdout
        if stdout is None:
            raise ChaosHarnessError("sim stdout is not a pipe")
        # the sim prints its URLs as one JSON line once it listens; never wait forever
        ready, _, _ = select.select([stdout], [], [], 30.0)
        line = stdout.readline() if ready else b""
        if not line:
            raise ChaosHarnessError(
                f"mmtrio sim did not print its URLs within 30 s: see {self.out / 'sim.log'}"
            )
        self.r.urls = json.loads(line)
        self.env, self.account = self.venue.credentials(self.r.urls)
        self.symbol = str(self.r.urls["symbol"])  # the instrument as the venue names it
        limit = MAX_POSITION_LOTS + FOREIGN_QTY_LOTS
        self._admin("/admin/config", {"exposure_limit_lots": limit})
        # The bot reaches the venue through the fault proxy (half-open links, resets);
        # the harness's own admin calls go to the venue directly.
        self.proxy = ProxyClient(self.r.urls["rest"], self.r.urls["ws"], self.out / "proxy.log")

    def _bot_urls(self) -> dict[str, str]:
        """The bot's endpoints (the venue's own names and paths), through the fault proxy."""
        sim = {"rest": str(self.r.urls["rest"]), "ws": str(self.r.urls["ws"])}
        endpoints: dict[str, str] = dict(self.r.urls.get("endpoints") or sim)
        if self.proxy is None:
            return endpoints
        proxied = self.proxy.urls()
        out = {}
        for name, url in endpoints.items():
            base = "rest" if url.startswith(sim["rest"]) else "ws"
            out[name] = proxied[base] + url[len(sim[base]) :]
        return out

    def _write_config(self, variant: str) -> Path:
        path = self.out / "config.toml"
        text = bot_config(
            self._bot_urls(),
            self.state_dir,
            self.sock_dir / "c.sock",
            gamma=self.r.gamma,
            variant=variant,
            venue=self.venue.name,
            symbol=self.symbol,
            account=self.account,
            deadman_ms=self.venue.deadman_ms,
            reconcile_s=self.venue.reconcile_s,
        )
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)  # atomic: a SIGHUP never reads a half-written file
        return path

    def _start_bot(self) -> None:
        index = len(self.r.bots)
        log_path = self.out / f"bot-{index}.log"
        log = log_path.open("wb")
        env = dict(os.environ, **self.env)
        cmd = [sys.executable, "-m", "mmtrio", "run", "--config", str(self.out / "config.toml")]
        # The bot writes to a pipe, and a separate process (`cat`) writes the log file: the
        # journal_full fault refuses every *file* write of the bot, and its log must survive.
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=self.out
        )
        relay = subprocess.Popen(["cat"], stdin=proc.stdout, stdout=log)
        if proc.stdout is not None:
            proc.stdout.close()  # the relay holds the read end now
        self.starver.pin(proc.pid)
        self.r.bots.append(_Bot(index, proc, relay, log_path, log, _now_ms()))

    @property
    def bot(self) -> _Bot | None:
        b = self.r.bots[-1] if self.r.bots else None
        return b if b is not None and b.end_ms is None else None

    def _reap(self) -> _Bot | None:
        """Notice that the bot process ended; returns it then (None while it runs)."""
        b = self.bot
        if b is not None and b.proc.poll() is not None:
            b.end_ms = _now_ms()
            try:
                b.relay.wait(timeout=10)  # the rest of its output reaches the log
            except subprocess.TimeoutExpired:
                b.relay.kill()
                b.relay.wait()
            b.log.close()
            return b
        return None

    def _signal(self, sig: signal.Signals, name: str) -> bool:
        """Send ``sig`` to the live bot and mark it; False when there is none.

        A bot that has already ended by itself (reaped here or not) gets no signal and keeps
        its mark: it is judged by how it ended, not as if the signal had stopped it. Chaos seed
        100070 (Binance, load 15-24): journal_full landed while the bot was still importing,
        its journal failed at start (exit 1, as designed) moments before the final SIGKILL,
        and the harness marked the finished process "KILL", so the judge read exit 1 as a
        crash. A zombie ignores the signal; a live process killed by SIGKILL always shows -9,
        so any other code after a SIGKILL means it had ended before (the race between this
        check and the kill)."""
        b = self.bot
        if b is None or b.proc.poll() is not None:
            return False
        before = b.signal_sent
        if name == "KILL" or (name == "TERM" and b.signal_sent != "FSIZE"):
            # A bot whose file writes are refused keeps that mark through the final TERM: it
            # must still end as a failed journal does (exit 1, saying so), not as a plain stop.
            b.signal_sent = name
        b.proc.send_signal(sig)
        if name == "KILL" and b.proc.wait() != -signal.SIGKILL:
            b.signal_sent = before
        return True

    # --- venue ----------------------------------------------------------------------------
    def _admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        base = self.r.urls["admin"]
        if body is None:
            resp = self.http.get(base + path)
        else:
            resp = self.http.post(base + path, json=body)
        if resp.status_code != 200:
            raise ChaosHarnessError(f"admin {path} answered {resp.status_code}: {resp.text[:200]}")
        return resp.json()

    def _snapshot(self) -> dict[str, Any]:
        truth: dict[str, Any] = self._admin("/admin/state")
        # the venue's own time of this state, not when its answer reached us (snapshot_of)
        self.r.snapshots.append(snapshot_of(truth, bot_alive=self.bot is not None))
        return truth

    def _foreign_order(self, act: FaultAction, truth: dict[str, Any]) -> bool:
        bids, asks = truth["book"]["bids"], truth["book"]["asks"]
        if not bids or not asks:
            return False
        side = act.params["side"]
        # 2 % away from the touch: rests without filling, inside the venue's price band
        ref = float(bids[0][0]) * 0.98 if side == "BUY" else float(asks[0][0]) * 1.02
        cid = self.venue.foreign_client_id(act.params["client_id"])
        params = self.venue.foreign_order(self.symbol, side, ref, FOREIGN_QTY_LOTS, cid)
        # Through the admin API: another client of the account, from another host, so its
        # request does not share the bot's IP rate limits (seed 56: placed over REST during
        # the bot's 429 back-off, it drew a 418 ban that then hit the bot).
        resp = self.http.post(f"{self.r.urls['admin']}/admin/order", json=params)
        if resp.status_code == 200:
            self.r.foreign.add(cid)
            self.r.foreign_at[cid] = _now_ms()
            return True
        return False

    # --- actions --------------------------------------------------------------------------
    def _execute(self, act: FaultAction, truth: dict[str, Any]) -> bool:
        """Do one action; False when it could not apply (e.g. the bot is down)."""
        if act.executor == "admin":
            self._admin("/admin/fault", dict(act.params))
            if act.params.get("kind") == "position_adjust":
                self.r.gap_faults.append(_now_ms())  # the next bot must name the gap
            return True
        if act.executor == "foreign_order":
            return self._foreign_order(act, truth)
        if act.executor == "control":
            return self._control(dict(act.params))
        if act.executor == "fsize":
            return self._refuse_file_writes(act.params["restart_after_ms"] / 1000)
        if act.executor == "proxy":
            if self.proxy is None or not self.proxy.command(dict(act.params)):
                return False
            if act.params.get("cmd") == "half_open":
                # The venue learns the link is silent: a 429 it sends meanwhile reaches the
                # bot only when the link is back, or never (sim/limits.py: no false ban).
                params = {k: act.params[k] for k in ("seconds", "then")}
                self._admin("/admin/fault", {"kind": "link_silent", **params})
            return True
        if act.executor == "cpu":
            b = self.bot
            self.starver.start(int(act.params["busy"]), act.params["seconds"],
                               None if b is None else b.proc.pid)  # fmt: skip
            return True
        if act.executor == "early_kill":
            return self._early_kill(act.params)
        sig = act.params["signal"]
        if sig == "KILL":
            if not self._signal(signal.SIGKILL, "KILL"):
                return False
            self.r.bots[-1].proc.wait()
            self._reap()
            self._restart_at = time.monotonic() + act.params["restart_after_ms"] / 1000
            return True
        if sig == "HUP":
            # Only once the bot has logged its first line: before that the interpreter may
            # not have installed its SIGHUP handler yet, and the default action kills it (a
            # start-up race no program can close, not a fault the bot could absorb).
            b = self.bot
            if b is None or b.log_path.stat().st_size == 0:
                return False
            if act.params.get("gamma") is not None:
                self.r.gamma = float(act.params["gamma"])
            self._write_config(str(act.params["config"]))
            return self._signal(signal.SIGHUP, "HUP")
        raise ChaosHarnessError(f"unknown signal action {act.params!r}")

    def _early_kill(self, params: dict[str, Any]) -> bool:
        """early_kill: wait for the first bot's first resting quote, kill -9 it moments
        later, fill each side's best resting order while it is down, restart it."""
        b = self.bot
        if b is None or b.index != 0:
            return False
        deadline = time.monotonic() + params["wait_ms"] / 1000
        while time.monotonic() < deadline and not self._admin("/admin/state")["open_orders"]:
            if b.proc.poll() is not None:
                return False
            time.sleep(0.05)  # the bot is a real process: real time is its clock
        if time.monotonic() >= deadline:
            return False
        time.sleep(params["after_quote_ms"] / 1000)
        if not self._signal(signal.SIGKILL, "KILL"):
            return False
        b.proc.wait()
        self._reap()
        for side in ("BUY", "SELL"):
            self._admin("/admin/fault", {"kind": "fill", "side": side})
        self._restart_at = time.monotonic() + params["restart_after_ms"] / 1000
        return True

    def _refuse_file_writes(self, restart_after_s: float) -> bool:
        """journal_full: the kernel refuses the bot's file writes past 4 KiB (RLIMIT_FSIZE),
        as a full disk refuses growth; its pipes (the log relay, sockets) still work."""
        b = self.bot
        prlimit = getattr(resource, "prlimit", None)
        if b is None or b.signal_sent is not None:
            return False
        if prlimit is None:
            raise ChaosHarnessError("the journal_full fault needs Linux (resource.prlimit)")
        try:
            prlimit(b.proc.pid, resource.RLIMIT_FSIZE, (FULL_DISK_FSIZE, FULL_DISK_FSIZE))
        except ProcessLookupError:
            return False  # it has just exited
        b.signal_sent, b.fault_ms = "FSIZE", _now_ms()
        self._restart_after_exit = restart_after_s
        return True

    def _self_stopped(self, b: _Bot) -> None:
        """The bot stopped after journal_full: judge the venue now, restart it later.

        The stop is timed from the bot's first failed write, as its log states it ("journal
        failed: …"), not from the fault: a bot with nothing to record (halted while 429s
        postponed its reconciliation, chaos seed 7) meets the full disk only at its next
        write, seconds later.

        A bot whose journal failed at start, before it sent anything to the venue (chaos seed
        2041: restarted after SIGKILL into the full disk), owned no order to cancel: what rests
        at the venue then is its killed predecessor's (the dead-man countdown's and the next
        start-up reconciliation's to clear) or another client's, so only its stop is judged.

        The stop ends when the harness saw the process had ended (``end_ms``, set by
        :meth:`_reap`), not after the venue read and log read that follow: at load 15 those
        added up to 1.5 s after the bot's last line (smoke seed 26: the bot logged its stop
        5.0 s after the failure and was judged at 6.57 s, budget 5 + 1.5 s)."""
        truth = self._snapshot()
        fallback = b.fault_ms if b.fault_ms is not None else _now_ms()
        raw = b.log_path.read_text(errors="replace")
        since, before_venue = first_journal_failure(raw, fallback)
        budget = int(SHUTDOWN_DEADLINE_S * 1000)
        left = orders_left_at_self_stop(
            truth["open_orders"], self.r.foreign_at, since, before_venue=before_venue
        )
        ended = b.end_ms if b.end_ms is not None else _now_ms()
        barred = barred_ms_within(barred_windows(truth), since, ended)
        armed = bool(truth.get("countdown_armed", False))
        stop = StopCheck("journal_full", since, budget, ended, left, armed, barred)
        self.r.self_stops.append(stop)
        delay = self._restart_after_exit if self._restart_after_exit is not None else 1.0
        self._restart_at = time.monotonic() + delay
        self._restart_after_exit = None

    def _control(self, request: dict[str, Any]) -> bool:
        """One request on the bot's control socket (the way `mmtrio kill` talks to it)."""
        if self.bot is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(3.0)
                conn.connect(str(self.sock_dir / "c.sock"))
                conn.sendall(json.dumps(request).encode() + b"\n")
                answer = json.loads(conn.makefile("rb").readline() or b"{}")
        except (OSError, ValueError):
            return False  # not listening yet, or gone: the fault did not apply
        return bool(answer.get("ok"))

    def _refused_start(self, b: _Bot) -> None:
        """A bot that exits 2 by itself refused its arguments or the config the harness
        wrote (or the keys it passed): the harness's failure, never a violation of the bot's
        (issue #20, finding 3: every bot exited 2 and the judge blamed the bot)."""
        if b.signal_sent is None and b.proc.returncode == EXIT_USAGE:
            lines = b.log_path.read_text(errors="replace").strip().splitlines()
            raise ChaosHarnessError(
                f"bot #{b.index} refused to start (exit 2: bad usage, config or keys, which "
                f"the harness provides): {' | '.join(lines[-3:])[-400:]} (log {b.log_path})"
            )

    def _tick(self, start: float, pending: list[FaultAction]) -> None:
        if self.starver.due():
            b = self.bot
            self.starver.stop(None if b is None else b.proc.pid)
        truth = self._snapshot()
        ended = self._reap()
        if ended is not None:
            self._refused_start(ended)
        if ended is not None and ended.signal_sent == "FSIZE":
            self._self_stopped(ended)
        now = time.monotonic()
        if self.bot is None and (self._restart_at is not None and now >= self._restart_at):
            self._write_config("valid")
            self._start_bot()
            self.r.restarts += 1
            self._restart_at = None
        elif self.bot is None and self._restart_at is None:
            # the bot died without being told to: invariant 10 reports it; restart to go on
            self._restart_at = now + 1.0
        while pending and pending[0].at_ms <= (now - start) * 1000:
            act = pending.pop(0)
            done = self._execute(act, truth)
            self.r.executed.append({**act.to_json(), "wall_ms": _now_ms(), "applied": done})
            if done and act.counted:
                self.r.faults[act.kind] = self.r.faults.get(act.kind, 0) + 1

    def _stop(self) -> tuple[StopCheck | None, int | None]:
        """End the run as scheduled; returns the stop check and the fill cutoff (SIGKILL)."""
        end = self.schedule.end
        if self.bot is None:
            return None, None
        cutoff: int | None = None
        # fills the bot had a reconcile interval to learn; a restarted bot that has not reached
        # its start-up reconciliation has learnt nothing yet, so the fills its predecessor could
        # learn are the ones judged (chaos seed 1683 on OKX, load 24: a fill 0.3 s before a
        # SIGKILL, the restart still importing 6 s later when the run ended with the final
        # SIGKILL; its next start books it)
        settle_ms = int(self.venue.reconcile_s * 1000) + 1_500
        if end == "sigkill":
            cutoff = fill_cutoff(self.r.snapshots, self._learnt_until_ms(), settle_ms)
        if self._ended_by_itself():  # since the last tick (seeds 100070, 100172, 1938)
            return None, fill_cutoff(self.r.snapshots, self._learnt_until_ms(), settle_ms)
        if end == "sigkill":
            # only an armed dead-man countdown can clear the venue after the kill (check_stop)
            armed = bool(self._snapshot().get("countdown_armed", True))
            sent = _now_ms()
            if not self._signal(signal.SIGKILL, "KILL"):
                self._ended_by_itself()
                return None, cutoff
            self._reap()
            budget = self.venue.deadman_ms
        else:
            armed = True
            self._wait_until_started()
            # the bot may have stopped by itself meanwhile (seed 100172: its journal failed at
            # start, nothing sent to the venue): judged as that stop, never as the SIGTERM's
            if self._ended_by_itself():
                return None, fill_cutoff(self.r.snapshots, self._learnt_until_ms(), settle_ms)
            sent = _now_ms()
            if not self._signal(signal.SIGTERM, "TERM"):
                self._ended_by_itself()
                return None, None
            budget = int(SHUTDOWN_DEADLINE_S * 1000)
        deadline = time.monotonic() + budget / 1000 + 1.0
        while time.monotonic() < deadline:
            self._reap()
            if end == "sigterm" and self.r.bots[-1].end_ms is not None:
                break
            time.sleep(POLL_S)
        truth = self._snapshot()
        left = tuple(truth["open_orders"])
        check = StopCheck(end, sent, budget, _now_ms(), left, deadman_armed=armed)
        if (
            self.r.bots[-1].end_ms is None
        ):  # SIGTERM not honoured within budget + grace: wait, then force
            self._wait_quietly()
            self._reap()
        return check, cutoff

    def _ended_by_itself(self) -> bool:
        """Before the final stop: notice a bot that ended by itself since the last tick and
        judge it as the tick would (a journal_full stop is :meth:`_self_stopped`); True then.
        Seed 100172 (Binance, load 15-24): the bot's journal failed at start while the final
        SIGTERM waited for its start-up; it was signalled after it had exited, and the
        harness's foreign order, which no bot had ever seen, was judged as left by that
        SIGTERM 87 ms later."""
        ended = self._reap()
        if ended is None:
            return False
        self._refused_start(ended)
        if ended.signal_sent == "FSIZE":
            self._self_stopped(ended)
        return True

    def _learnt_until_ms(self) -> int:
        bots = [
            (b.start_ms, b.end_ms, b"reconcile (start)" in b.log_path.read_bytes())
            for b in self.r.bots
        ]
        return learnt_until_ms(bots, _now_ms())

    def _wait_until_started(self, timeout_s: float = STARTED_WAIT_S) -> None:
        """Hold the final SIGTERM until the bot's engine has its signal handlers: the SIGHUP
        rule above, for the stop. A bot restarted moments before the end on a loaded machine
        (seed 1700 on Hyperliquid, load 12 on 2 cores: nothing logged 5 s after the restart)
        is otherwise killed by the default action in the interpreter's start-up, before it
        could have done anything, and the run judged as if it had ignored the stop. Held
        until its start-up reconciliation is logged (after the handlers, and after the fills
        it missed while down are booked: seed 1831, stopped between its recovery and that
        reconciliation, left a fill unjournaled), or 30 s."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            b = self.bot
            if b is None or b.proc.poll() is not None:
                return
            if b"reconcile (start)" in b.log_path.read_bytes():
                return
            time.sleep(POLL_S)

    def _wait_quietly(self) -> bool:
        b = self.bot
        if b is None:
            return False
        try:
            b.proc.wait(timeout=SHUTDOWN_DEADLINE_S + 10)
        except subprocess.TimeoutExpired:
            b.proc.kill()
            b.signal_sent = b.signal_sent or "KILL"
        return True

    # --- evidence -------------------------------------------------------------------------
    def _journal(self) -> tuple[list[int], list[JournalRecord]]:
        path = self.state_dir / "journal.sqlite3"
        if not path.exists():
            return [], []
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if not {"fills", "records"} <= tables:
                # its schema was never written (the bot's file writes were refused from the
                # first page on: journal_full on a starved bot, chaos --venue okx seed 1612):
                # nothing was journaled
                return [], []
            ids = [
                int(r[0])
                for r in conn.execute("SELECT trade_id FROM fills WHERE symbol = ?", (self.symbol,))
            ]
            recs = [
                JournalRecord(int(seq), str(kind), int(ts), json.loads(payload))
                for seq, kind, ts, payload in conn.execute(
                    "SELECT seq, kind, local_ts_ms, payload FROM records ORDER BY seq"
                )
            ]
        finally:
            conn.close()
        return ids, recs

    def _log_lines(self) -> list[list[tuple[int, str]]]:
        """Each bot incarnation's log entries with their wall time (ms)."""
        return [log_entries(b.log_path.read_text(errors="replace")) for b in self.r.bots]

    def run(self) -> RunResult:
        """Run the schedule; collect and judge the evidence; always stop both processes."""
        result = RunResult(self.seed, str(self.out), end=self.schedule.end)
        try:
            self._start_sim()
            self._write_config("valid")
            self._start_bot()
            start = time.monotonic()
            pending = list(self.schedule.actions)
            while time.monotonic() - start < self.schedule.duration_ms / 1000:
                self._tick(start, pending)
                time.sleep(POLL_S)
            stop, cutoff = self._stop()
            self._admin("/admin/dump", {"path": str(self.out / "venue_state.json")})
            truth = self._admin("/admin/state")
            trade_ids, records = self._journal()
            procs = [
                ProcessRecord(
                    b.index,
                    b.start_ms,
                    b.end_ms,
                    b.proc.returncode,
                    b.signal_sent,
                    b.log_path.read_text(errors="replace"),
                )
                for b in self.r.bots
            ]
            ev = Evidence(
                final_truth=truth,
                snapshots=self.r.snapshots,
                journal_trade_ids=trade_ids,
                records=records,
                processes=procs,
                stop=stop,
                limits=Limits(
                    # the harness's own foreign orders count at the venue's accepts too
                    max_position_lots=MAX_POSITION_LOTS
                    + (FOREIGN_QTY_LOTS if self.r.foreign else 0),
                    reconcile_interval_ms=int(self.venue.reconcile_s * 1000),
                    cancel_deadline_ms=CANCEL_DEADLINE_MS,
                    deadman_countdown_ms=self.venue.deadman_ms,
                    deadman_refresh_ms=DEADMAN_REFRESH_MS,
                ),
                foreign_ids=frozenset(self.r.foreign),
                self_stops=list(self.r.self_stops),
                fill_cutoff=cutoff,
                final_position_check=self.schedule.end == "sigterm",
                link_silent=list(self.proxy.silent) if self.proxy is not None else [],
                gap_faults=list(self.r.gap_faults),
            )
            logs = self._log_lines()
            result.violations = check_all(ev, logs)
            result.child_restarts = sum(supervised_restarts(lines) for lines in logs)
            result.fills = len(truth["fills"])
            result.fills_checked = result.fills if cutoff is None else min(cutoff, result.fills)
            result.final_position = int(truth["position"]["lots"])
        except (MmtrioError, httpx.HTTPError, OSError, ValueError, KeyError, sqlite3.Error) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._cleanup()
        result.faults = dict(self.r.faults)
        result.restarts = self.r.restarts
        (self.out / "evidence.json").write_text(
            json.dumps(
                {
                    "schedule": [a.to_json() for a in self.schedule.actions],
                    "executed": self.r.executed,
                    "result": result.to_json(),
                },
                indent=1,
            )
        )
        return result

    def _cleanup(self) -> None:
        self.starver.stop(None)
        if self.proxy is not None:
            self.proxy.close()
        for b in self.r.bots:
            if b.proc.poll() is None:
                b.proc.kill()
                b.signal_sent = b.signal_sent or "KILL"
                b.proc.wait()
            if b.relay.poll() is None:
                try:
                    b.relay.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    b.relay.kill()
                    b.relay.wait()
            if not b.log.closed:
                b.log.close()
        if self.sim is not None and self.sim.poll() is None:
            self.sim.send_signal(signal.SIGINT)
            try:
                self.sim.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.sim.kill()
                self.sim.wait()
        if self.sim_log is not None:
            self.sim_log.close()
        if self.sim is not None and self.sim.stdout is not None:
            self.sim.stdout.close()
        self.http.close()
        for p in self.sock_dir.iterdir():
            p.unlink(missing_ok=True)
        self.sock_dir.rmdir()


def run_campaign(
    campaign_seed: int, runs: int, duration_s: float, out_root: Path, venue: str = "binance"
) -> list[RunResult]:
    """``runs`` seeded runs in sequence (run i has seed ``run_seed(campaign_seed, i)``) on
    ``venue``'s simulated venue and connector."""
    from mmtrio.chaos.schedule import run_seed

    return [
        Harness(run_seed(campaign_seed, i), duration_s, out_root, venue).run() for i in range(runs)
    ]
