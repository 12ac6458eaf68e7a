"""The fault actions of the process chaos harness: each action of the seeded schedule
(:class:`~mmtrio.chaos.schedule.FaultAction`) applied to the bot, its link or the venue
(:meth:`HarnessFaults._execute`), a layer of :class:`mmtrio.chaos.harness.Harness`.
"""

from __future__ import annotations

import resource
import signal
import time
from abc import abstractmethod
from pathlib import Path
from typing import Any

from mmtrio.chaos.botconfig import FOREIGN_QTY_LOTS, ChaosHarnessError
from mmtrio.chaos.harness_base import HarnessBase, _Bot, _now_ms
from mmtrio.chaos.schedule import FaultAction

FULL_DISK_FSIZE = 4096  # journal_full: no file of the bot may grow past its first block


class HarnessFaults(HarnessBase):
    """The schedule's fault actions; :class:`mmtrio.chaos.harness.Harness` supplies the two
    methods below, which read the run's clock and write the bot's config."""

    @abstractmethod
    def _write_config(self, variant: str) -> Path: ...

    @abstractmethod
    def _reap(self) -> _Bot | None: ...

    # --- venue ----------------------------------------------------------------------------
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
            # The venue learns the bot is starved: a 429 it sends meanwhile is read late.
            self._admin("/admin/fault", {"kind": "client_slow", "seconds": act.params["seconds"]})
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
