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
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import trio
from loguru import logger

from mmtrio import units
from mmtrio.config.notify import TelegramConfig
from mmtrio.core.instruments import Instrument
from mmtrio.core.notices import Notice, StrategyStatus
from mmtrio.runtime.logging import register_secret
from mmtrio.runtime.status import status_line

ControlHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
QUEUE_SIZE = 100
MAX_TEXT = 4000  # Telegram's limit is 4096 characters per message
RETRY_S = (1.0, 2.0, 5.0, 15.0, 30.0)
SEND_INTERVAL_S = 1.0  # between two messages to one chat (Telegram allows about 1/s per chat)
DROP_REPORT_S = 60.0  # at most one "messages dropped" report this often during a burst
CONFLICT_LOG_S = 300.0  # the 409 "another poller" error is repeated this often at most
HELP_TEXT = "commands: /status, /kill [reason], /resume"


@dataclass(slots=True)
class _FillTally:
    count: int = 0
    buys: int = 0
    sells: int = 0
    lots: int = 0


@dataclass(slots=True)
class _Msg:
    kind: str  # "state" (state changes: consecutive ones are merged), "drops", "other"
    text: str


@dataclass(slots=True)
class _Answer:
    status: int | None  # None: no HTTP answer (network error, timeout)
    body: dict[str, Any] | None
    error: str | None  # None: ok
    retry_after: float | None = None  # Telegram's "parameters.retry_after" (429)


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
        self._base = f"{cfg.api_url.rstrip('/')}/bot{token}"
        self._transport = transport
        self._queue: collections.deque[_Msg] = collections.deque()
        self._inflight: _Msg | None = None
        self._wake = trio.Event()
        self.dropped = 0
        self._unreported_drops = 0
        self._last_drop_report = -DROP_REPORT_S
        self._last_sent: dict[int, float] = {}
        self._malformed_seen: set[str] = set()
        self._offset: int | None = None
        self.username: str | None = None  # from getMe, to skip "/kill@other_bot"
        self._get_me_tried = False
        # Commands sent before this instant are not obeyed (Telegram keeps them for 24 h).
        self._started_ms = wall_ms()
        self.sent = 0
        self._tally = _FillTally()
        self._day_equity: Decimal | None = None
        self._strangers: set[int] = set()
        self._client: httpx.AsyncClient | None = None

    @property
    def inst(self) -> Instrument:
        """The instrument; every caller runs once the strategy exists, so it is known."""
        inst = self._instrument()
        if inst is None:
            raise RuntimeError("telegram: the instrument is not known before the start-up")
        return inst

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
            side, qty = notice.data.get("side"), notice.data.get("qty")
            self._tally.count += 1
            if side == "BUY":
                self._tally.buys += 1
            elif side == "SELL":
                self._tally.sells += 1
            if isinstance(qty, int):
                self._tally.lots += qty

    # --- messages built from the status -------------------------------------------------------
    def _pnl(self, st: StrategyStatus) -> str:
        pnl, q = units.ledger_pnl(st.ledger), self.inst.quote_asset
        return (
            f"session P&L {units.money(pnl.equity)} {q} (realised {units.money(pnl.realised)}, "
            f"unrealised {units.money(pnl.unrealised)}, fees {units.money(pnl.fees)}, "
            f"funding {units.money(pnl.funding)})"
        )

    def fills_summary(self) -> str | None:
        """The fills since the last summary (None when there were none); resets the tally."""
        t, self._tally = self._tally, _FillTally()
        st = self._status()
        if t.count == 0 or st is None:
            return None
        return (
            f"{self.bot} {self.inst.symbol}: {t.count} fill(s) (buy {t.buys} / sell {t.sells}, "
            f"{units.sized(self.inst, t.lots)}); position "
            f"{units.sized(self.inst, st.position_lots, signed=True)}; {self._pnl(st)}"
        )

    def daily_pnl(self) -> str | None:
        """The day's P&L message (None before the strategy reports a status)."""
        st = self._status()
        if st is None:
            return None
        equity = st.ledger.equity
        day = equity - (self._day_equity if self._day_equity is not None else Decimal(0))
        self._day_equity = equity
        return (
            f"{self.bot} {self.inst.symbol} daily: {units.money(day)} {self.inst.quote_asset} "
            f"since the last daily message; {self._pnl(st)}; {st.ledger.fills} fills; position "
            f"{units.sized(self.inst, st.position_lots, signed=True)}; state "
            f"{st.trading_state.value}"
        )

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
                        nursery.start_soon(self._guarded, "poller", self._poller)
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
                delay = RETRY_S[min(failures, len(RETRY_S) - 1)]
                logger.error(
                    "telegram {} task failed ({}: {}); restarted in {} s; trading goes on",
                    name,
                    type(exc).__name__,
                    _brief(exc),
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
                    done, retry_after = await self._send_one(client, chat, text[:MAX_TEXT])
                    if done:
                        pending.pop(0)
                        continue
                    delay = (
                        retry_after
                        if retry_after is not None
                        else RETRY_S[min(failures, len(RETRY_S) - 1)]
                    )
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
                        await self._pace(chat)
                        done, retry_after = await self._send_one(client, chat, item.text)
                        if done:
                            break
                        if retry_after is None:
                            retry_after = RETRY_S[min(failures, len(RETRY_S) - 1)]
                        failures += 1
                        await trio.sleep(retry_after)
            finally:
                self._inflight = None
            if self._queue and self._queue[0] is item:
                self._queue.popleft()

    async def _pace(self, chat: int) -> None:
        """At least ``SEND_INTERVAL_S`` between two messages to one chat (Telegram: ~1/s)."""
        last = self._last_sent.get(chat)
        if last is not None:
            await trio.sleep_until(last + SEND_INTERVAL_S)
        self._last_sent[chat] = trio.current_time()

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

    async def _call(
        self,
        client: httpx.AsyncClient,
        method: str,
        payload: dict[str, Any],
        http_timeout: httpx.Timeout | None = None,
    ) -> _Answer:
        """One Bot API call; never raises (but cancellation). Errors name the method, never the
        URL (which holds the token)."""
        try:
            if http_timeout is None:
                r = await client.post(f"{self._base}/{method}", json=payload)
            else:
                url = f"{self._base}/{method}"
                r = await client.post(url, json=payload, timeout=http_timeout)
        except httpx.HTTPError as exc:
            return _Answer(None, None, type(exc).__name__)
        try:
            body = r.json()
        except ValueError:
            return _Answer(r.status_code, None, f"HTTP {r.status_code} (not JSON)")
        if not isinstance(body, dict):
            return _Answer(r.status_code, None, f"HTTP {r.status_code} (not a JSON object)")
        if r.status_code == 200 and body.get("ok") is True:
            return _Answer(200, body, None)
        desc = body.get("description")
        answer = _Answer(r.status_code, body, f"HTTP {r.status_code}: {desc}")
        params = body.get("parameters")
        if isinstance(params, dict):
            ra = params.get("retry_after")
            if isinstance(ra, int | float) and not isinstance(ra, bool) and 0 < ra <= 3600:
                answer.retry_after = float(ra)
        return answer

    async def _send_one(
        self, client: httpx.AsyncClient, chat: int, text: str
    ) -> tuple[bool, float | None]:
        """One sendMessage: (done, retry_after). Done when sent, or refused for good (a 4xx
        other than 429: bad chat id, blocked bot: the message will never go, it is dropped).
        Not done: retry, after ``retry_after`` when Telegram said (429), else a back-off."""
        a = await self._call(client, "sendMessage", {"chat_id": chat, "text": text})
        if a.error is None:
            self.sent += 1
            return True, None
        logger.warning("telegram sendMessage failed: {}", a.error)
        status = a.status
        if status is None or status == 429 or status >= 500 or status == 200:
            return False, a.retry_after
        return True, None

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

    def _malformed(self, kind: str, what: str) -> None:
        """A WARNING the first time an answer of ``kind`` is malformed (then DEBUG)."""
        if kind in self._malformed_seen:
            logger.debug("telegram: malformed {}: {}", kind, what)
            return
        self._malformed_seen.add(kind)
        logger.warning("telegram: skipped a malformed {}: {} (logged once)", kind, what)

    async def _get_me(self, client: httpx.AsyncClient) -> None:
        """Learn this bot's username (getMe), to tell ``/kill@other_bot`` apart; failure is
        tolerated (commands with a suffix are then obeyed, as before)."""
        self._get_me_tried = True
        a = await self._call(client, "getMe", {})
        result = a.body.get("result") if a.error is None and a.body is not None else None
        name = result.get("username") if isinstance(result, dict) else None
        if isinstance(name, str) and name:
            self.username = name
            logger.info("telegram: this bot is @{}", name)
        else:
            logger.warning("telegram getMe failed ({}): /cmd@bot suffixes not checked", a.error)

    async def _poller(self) -> None:
        client = self._client
        if client is None:
            return
        if self.username is None and not self._get_me_tried:
            with trio.move_on_after(15):
                await self._get_me(client)
        failures = 0
        last_conflict_log: float | None = None
        while True:
            client = self._client
            if client is None:
                return
            params: dict[str, Any] = {"timeout": 30, "allowed_updates": ["message"]}
            if self._offset is not None:
                params["offset"] = self._offset
            a = await self._call(client, "getUpdates", params, http_timeout=httpx.Timeout(40.0))
            if a.status == 409:
                now = trio.current_time()
                if last_conflict_log is None or now - last_conflict_log >= CONFLICT_LOG_S:
                    last_conflict_log = now
                    logger.error(
                        "telegram: getUpdates answered 409 Conflict: another process polls this "
                        "bot token (another mmtrio bot?); commands are NOT being received. Each "
                        "bot needs its own Telegram bot (token, from @BotFather), or [telegram] "
                        "commands = false on all but one. ({})",
                        a.error,
                    )
                await trio.sleep(a.retry_after or RETRY_S[-1])
                continue
            if a.error is not None or a.body is None:
                logger.warning("telegram getUpdates failed: {}", a.error)
                await trio.sleep(a.retry_after or RETRY_S[min(failures, len(RETRY_S) - 1)])
                failures += 1
                continue
            updates = a.body.get("result")
            if not isinstance(updates, list):
                self._malformed(
                    "getUpdates answer", f"result is {type(updates).__name__}, not a list"
                )
                await trio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
                failures += 1
                continue
            failures = 0
            for update in updates:
                if not isinstance(update, dict):
                    self._malformed("update", f"{type(update).__name__}, not an object")
                    continue
                uid = update.get("update_id")
                if not isinstance(uid, int) or isinstance(uid, bool):
                    self._malformed("update", "update_id missing or not an integer")
                    continue
                self._offset = uid + 1  # confirmed: Telegram will not send it again
                await self._on_update(update)

    async def _on_update(self, update: dict[str, Any]) -> None:
        msg = update.get("message")
        if msg is None:
            return  # another kind of update (not asked for)
        if not isinstance(msg, dict):
            self._malformed("update", "message is not an object")
            return
        chat_obj = msg.get("chat")
        chat = chat_obj.get("id") if isinstance(chat_obj, dict) else None
        text = msg.get("text")
        if not isinstance(chat, int) or isinstance(chat, bool):
            self._malformed("message", "chat.id missing or not an integer")
            return
        if text is None:
            return  # a photo, a sticker, a member joining: not a command
        if not isinstance(text, str):
            self._malformed("message", f"text is {type(text).__name__}, not a string")
            return
        if chat not in self.cfg.chat_ids:
            if chat not in self._strangers:
                self._strangers.add(chat)
                logger.warning("telegram: ignored a message from chat {} (not in chat_ids)", chat)
            return
        client = self._client
        reply = self._stale(chat, text.strip(), msg.get("date"))
        if reply is None:
            reply = await self.command(chat, text.strip())
        if reply is not None and client is not None:
            await self._pace(chat)
            await self._send_one(client, chat, reply[:MAX_TEXT])

    def _stale(self, chat: int, text: str, date: Any) -> str | None:
        """The refusal of a message sent before this process started (or undated), else None.

        Telegram keeps unconfirmed updates for 24 h: a /resume typed while the bot was down
        must not lift, at the next start, a kill latched before it."""
        started_s = self._started_ms // 1000
        valid = isinstance(date, int) and not isinstance(date, bool) and date > 0
        if valid and date >= started_s:
            return None
        started = _utc(self._started_ms / 1000)
        sent = f"sent {_utc(date)}" if valid else "with no valid date"
        logger.warning(
            "telegram: ignored {!r} from chat {}: {}, before this bot started ({})",
            text[:80],
            chat,
            sent,
            started,
        )
        return (
            f"{self.bot}: ignored {text[:80]!r}: {sent}, before this bot started ({started}). "
            "Send it again if you still mean it."
        )

    async def command(self, chat: int, text: str) -> str | None:
        """The answer to one command from an allowed chat (None: not answered)."""
        if self._control is None:
            return None
        word, _, rest = text.partition(" ")
        word, _, addressee = word.partition("@")  # "/status@my_bot" in a group
        word = word.lower()
        if addressee:
            client = self._client
            if self.username is None and not self._get_me_tried and client is not None:
                with trio.move_on_after(10):
                    await self._get_me(client)
            if self.username is not None and addressee.lower() != self.username.lower():
                logger.info(
                    "telegram: ignored {}@{} from chat {} (this bot is @{})",
                    word,
                    addressee,
                    chat,
                    self.username,
                )
                return None
        source = f"telegram chat {chat}"
        if word == "/status":
            answer = await self._control({"cmd": "status"})
        elif word == "/kill":
            reason = rest.strip() or "operator kill"
            answer = await self._control({"cmd": "kill", "reason": f"{reason} ({source})"})
        elif word == "/resume":
            answer = await self._control({"cmd": "resume", "reason": f"operator resume ({source})"})
        else:
            return HELP_TEXT
        logger.info("telegram: {} from chat {}", word, chat)
        if not answer.get("ok"):
            return f"{self.bot}: {word[1:]} refused: {answer.get('error')}"
        snap = answer.get("status")
        line = status_line(snap) if isinstance(snap, dict) else "no status"
        return f"{self.bot}: {word[1:]} done\n{line}" if word != "/status" else line


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _brief(exc: BaseException) -> str:
    """An error without the request URL (which holds the token)."""
    if isinstance(exc, httpx.HTTPError):
        return type(exc).__name__
    return str(exc)


__all__ = ["HELP_TEXT", "TelegramNotifier"]
