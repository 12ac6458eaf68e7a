"""The Telegram notifier: what a bot tells an operator's phone, and the three commands it takes.

Messages (Bot API ``sendMessage`` over httpx, to every chat in ``[telegram] chat_ids``):

- the start (bot, venue, symbol, paper or live) and the stop (the exit summary);
- every trading-state change (ACTIVE / REDUCING_ONLY / HALTED and why): halts included;
- every kill-switch latch (operator, kill file, drawdown, disk guard);
- a fills summary every ``fills_summary_s`` when there were fills (count, sides, volume,
  position, session P&L);
- the daily P&L at ``daily_pnl_hour_utc`` (the change since the previous daily message and the
  session's parts).

Commands (``commands = true``): ``getUpdates`` long polling; ``/status``, ``/kill [reason]`` and
``/resume`` from a chat in ``chat_ids`` go to the same handler as the control socket, with
their source (``telegram chat N``), and the answer goes back to that chat. A message from any
other chat is ignored (logged once per chat, never answered: the bot does not confirm it
exists to strangers). A message dated before this process started (Telegram keeps unread
updates 24 h) is not obeyed, and the chat is told so: a /resume typed while the bot was down
must not lift a kill latched before the restart. ``/cmd@other_bot`` is ignored once getMe told
this bot's username. Only one process may poll a token: a 409 is an ERROR saying so.

Why it cannot hurt trading: the trading loop only calls :meth:`TelegramNotifier.on_notice`
(no await, no I/O: a bounded queue; when Telegram is slow or down the oldest unsent message is
dropped, counted and reported). Sending, polling and the periodic messages are their own tasks,
each under a guard that logs any exception and restarts the task: nothing is raised into the
bot. Answers are validated (a malformed one is skipped with a WARNING); a failed request is
logged (the token redacted) and retried after Telegram's ``retry_after`` or a back-off; sends
are paced (``SEND_INTERVAL_S`` between two messages to one chat).

The token comes from ``[telegram] token_file`` (mode 0600) or ``$MMTRIO_TELEGRAM_TOKEN``, like
the API keys; it is registered with the log redactor, and errors name the method, never the URL.

This module is the notifier itself: the queue, the sender, the periodic messages and the tasks'
guard. The Bot API calls are in :mod:`mmtrio.runtime.telegram_api`, the commands in
:mod:`mmtrio.runtime.telegram_commands`, the messages' words in
:mod:`mmtrio.runtime.telegram_text`.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import trio
from loguru import logger

from mmtrio.config.notify import TelegramConfig
from mmtrio.core.instruments import Instrument
from mmtrio.core.notices import Notice, StrategyStatus
from mmtrio.runtime.logging import register_secret
from mmtrio.runtime.telegram_api import MAX_TEXT, BotApi, backoff_s, brief
from mmtrio.runtime.telegram_commands import ControlHandler, TelegramCommands
from mmtrio.runtime.telegram_text import HELP_TEXT, FillTally, daily_text, fills_text

QUEUE_SIZE = 100
DROP_REPORT_S = 60.0  # at most one "messages dropped" report this often during a burst


@dataclass(slots=True)
class _Msg:
    kind: str  # "state" (state changes: consecutive ones are merged), "drops", "other"
    text: str


class TelegramNotifier:
    """Telegram messages and commands for one bot (module docstring)."""

    def __init__(
        self,
        cfg: TelegramConfig,
        token: str,
        *,
        bot: str,
        instrument: Callable[[], Instrument | None],
        status: Callable[[], StrategyStatus | None],
        control: ControlHandler | None,
        wall_ms: Callable[[], int],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        register_secret(token)
        self.cfg = cfg
        self.bot = bot
        self._instrument = instrument  # read from the venue at start: known once trading
        self._status = status
        self._control = control
        self._wall_ms = wall_ms
        self._api = BotApi(cfg.api_url, token)
        self._transport = transport
        self._queue: collections.deque[_Msg] = collections.deque()
        self._inflight: _Msg | None = None
        self._wake = trio.Event()
        self.dropped = 0
        self._unreported_drops = 0
        self._last_drop_report = -DROP_REPORT_S
        self._commands = TelegramCommands(
            cfg,
            self._api,
            bot=bot,
            control=control,
            started_ms=wall_ms(),
            client=lambda: self._client,
        )
        self._tally = FillTally()
        self._day_equity: Decimal | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def inst(self) -> Instrument:
        """The instrument; every caller runs once the strategy exists, so it is known."""
        inst = self._instrument()
        if inst is None:
            raise RuntimeError("telegram: the instrument is not known before the start-up")
        return inst

    @property
    def sent(self) -> int:
        """Messages Telegram accepted."""
        return self._api.sent

    @property
    def username(self) -> str | None:
        """This bot's username, once getMe told it (to skip "/kill@other_bot")."""
        return self._commands.username

    # --- called from the trading loop (no await, no I/O) ----------------------------------------
    def notify(self, text: str, kind: str = "other") -> None:
        """Queue ``text`` for every chat; the oldest unsent message goes when the queue is full
        (counted, and reported by the sender). A state change right after another one still
        queued is merged into it (one message, every transition kept)."""
        text = text[:MAX_TEXT]
        last = self._queue[-1] if self._queue else None
        if (
            kind == "state"
            and last is not None
            and last.kind == "state"
            and last is not self._inflight
            and len(last.text) + 1 + len(text) <= MAX_TEXT
        ):
            last.text = f"{last.text}\n{text}"
            return
        if len(self._queue) >= QUEUE_SIZE:
            self._queue.popleft()
            self.dropped += 1
            self._unreported_drops += 1
        self._queue.append(_Msg(kind, text))
        self._wake.set()

    def on_notice(self, notice: Notice) -> None:
        """A strategy notice: state changes and kills are sent; fills are tallied. Called from
        the trading loop: never raises (a kill before the instrument is known still goes)."""
        inst = self._instrument()
        where = f"{self.bot} {inst.symbol}" if inst is not None else self.bot
        if notice.kind == "state_change":
            self.notify(f"{where}: {notice.message}", "state")
        elif notice.kind == "alert" and notice.message.startswith("kill switch"):
            self.notify(f"🛑 {where}: {notice.message}")
        elif notice.kind == "fill":
            self._tally.add(notice)

    # --- messages built from the status -------------------------------------------------------
    def fills_summary(self) -> str | None:
        """The fills since the last summary (None when there were none); resets the tally."""
        t, self._tally = self._tally, FillTally()
        st = self._status()
        if t.count == 0 or st is None:
            return None
        return fills_text(self.bot, self.inst, t, st)

    def daily_pnl(self) -> str | None:
        """The day's P&L message (None before the strategy reports a status)."""
        st = self._status()
        if st is None:
            return None
        equity = st.ledger.equity
        day = equity - (self._day_equity if self._day_equity is not None else Decimal(0))
        self._day_equity = equity
        return daily_text(self.bot, self.inst, day, st)

    async def command(self, chat: int, text: str) -> str | None:
        """The answer to one command from an allowed chat (None: not answered)."""
        return await self._commands.command(chat, text)

    # --- tasks ----------------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Send, poll for commands and time the periodic messages until cancelled.

        Each task runs under :meth:`_guarded`: no exception from Telegram reaches the bot."""
        commands = self.cfg.commands and self._control is not None
        logger.info(
            "telegram: enabled, {} chat(s), commands {}",
            len(self.cfg.chat_ids),
            "on" if commands else "off",
        )
        async with httpx.AsyncClient(transport=self._transport, timeout=10.0) as client:
            self._client = client
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._guarded, "sender", self._sender)
                    nursery.start_soon(self._guarded, "periodic", self._periodic)
                    if commands:
                        nursery.start_soon(self._guarded, "poller", self._commands.poll)
                    task_status.started()
            finally:
                self._client = None

    async def _guarded(self, name: str, task: Callable[[], Awaitable[None]]) -> None:
        """Run ``task`` until it returns; an exception is logged and the task restarted after a
        back-off, never raised into the bot's nursery (cancellation still goes through)."""
        failures = 0
        while True:
            try:
                await task()
                return
            except Exception as exc:  # Telegram must never stop trading
                delay = backoff_s(failures)
                logger.error(
                    "telegram {} task failed ({}); restarted in {} s; trading goes on",
                    name,
                    brief(exc),
                    delay,
                )
                failures += 1
                await trio.sleep(delay)

    async def send_now(self, text: str, timeout_s: float = 5.0) -> None:
        """Send ``text`` at once, within ``timeout_s`` (the stop message, in the cleanup).

        A retryable failure (429 with ``retry_after``, 5xx, network) is retried while the budget
        allows; a WARNING says so when a chat could not be reached in time."""
        pending = list(self.cfg.chat_ids)
        why = "timed out"
        deadline = trio.current_time() + timeout_s
        with trio.move_on_after(timeout_s):
            async with httpx.AsyncClient(transport=self._transport, timeout=timeout_s) as client:
                failures = 0
                while pending:
                    chat = pending[0]
                    done, retry_after = await self._api.send_one(client, chat, text[:MAX_TEXT])
                    if done:
                        pending.pop(0)
                        continue
                    delay = retry_after if retry_after is not None else backoff_s(failures)
                    failures += 1
                    if trio.current_time() + delay >= deadline:
                        why = f"the next retry (in {delay:g} s) is past the {timeout_s:g} s budget"
                        break
                    await trio.sleep(delay)
        if pending:
            logger.warning(
                "telegram: the stop summary was not delivered to chat(s) {} ({})", pending, why
            )

    async def _sender(self) -> None:
        while True:
            if not self._queue:
                self._report_drops(force=True)  # the burst is over: say what it cost
                if not self._queue:
                    await self._wake.wait()
                    self._wake = trio.Event()
                continue
            self._report_drops(force=False)
            item = self._queue[0]
            client = self._client
            if client is None:
                return
            self._inflight = item
            try:
                failures = 0
                for chat in self.cfg.chat_ids:
                    while True:
                        await self._api.pace(chat)
                        done, retry_after = await self._api.send_one(client, chat, item.text)
                        if done:
                            break
                        if retry_after is None:
                            retry_after = backoff_s(failures)
                        failures += 1
                        await trio.sleep(retry_after)
            finally:
                self._inflight = None
            if self._queue and self._queue[0] is item:
                self._queue.popleft()

    def _report_drops(self, *, force: bool) -> None:
        """A WARNING (and a message) for the messages the full queue dropped: when the burst is
        over (the queue drained), or at most every ``DROP_REPORT_S`` while it goes on."""
        if self._unreported_drops == 0:
            return
        now = trio.current_time()
        if not force and now - self._last_drop_report < DROP_REPORT_S:
            return
        count, self._unreported_drops = self._unreported_drops, 0
        self._last_drop_report = now
        logger.warning(
            "telegram: the queue was full ({} messages): {} message(s) dropped, oldest first",
            QUEUE_SIZE,
            count,
        )
        self._queue.append(
            _Msg("drops", f"⚠ {self.bot}: {count} Telegram message(s) dropped (queue full)")
        )

    async def _periodic(self) -> None:
        next_summary = trio.current_time() + self.cfg.fills_summary_s
        next_daily = trio.current_time() + self._seconds_to_daily()
        while True:
            await trio.sleep_until(min(next_summary, next_daily))
            now = trio.current_time()
            if now >= next_summary:
                next_summary = now + self.cfg.fills_summary_s
                text = self.fills_summary()
                if text is not None:
                    self.notify(text)
            if now >= next_daily:
                next_daily = now + self._seconds_to_daily()
                daily = self.daily_pnl()
                if daily is not None:
                    self.notify(daily)

    def _seconds_to_daily(self) -> float:
        now = datetime.fromtimestamp(self._wall_ms() / 1000, tz=UTC)
        target = now.replace(hour=self.cfg.daily_pnl_hour_utc, minute=0, second=0, microsecond=0)
        seconds = (target - now).total_seconds()
        return seconds if seconds > 1 else seconds + 86_400


__all__ = ["HELP_TEXT", "ControlHandler", "TelegramNotifier"]
