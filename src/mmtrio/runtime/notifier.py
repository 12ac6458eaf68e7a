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
``/resume`` from a chat in ``chat_ids`` go to the same handler as the control socket, and the
answer goes back to that chat. A message from any other chat is ignored (logged once per chat,
never answered: the bot does not confirm it exists to strangers).

Why it cannot hurt trading: the trading loop only calls :meth:`TelegramNotifier.on_notice`
(no await, no I/O: a bounded queue; when Telegram is slow or down the oldest unsent message is
dropped and counted). Sending and polling are their own tasks; a failed request is logged (the
token redacted) and retried after a back-off, never raised into the bot.

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
HELP_TEXT = "commands: /status, /kill [reason], /resume"


@dataclass(slots=True)
class _FillTally:
    count: int = 0
    buys: int = 0
    sells: int = 0
    lots: int = 0


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
        self._queue: collections.deque[str] = collections.deque()
        self._wake = trio.Event()
        self.dropped = 0
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
    def notify(self, text: str) -> None:
        """Queue ``text`` for every chat; the oldest unsent message goes when the queue is full."""
        if len(self._queue) >= QUEUE_SIZE:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(text[:MAX_TEXT])
        self._wake.set()

    def on_notice(self, notice: Notice) -> None:
        """A strategy notice: state changes and kills are sent; fills are tallied."""
        if notice.kind == "state_change":
            self.notify(f"{self.bot} {self.inst.symbol}: {notice.message}")
        elif notice.kind == "alert" and notice.message.startswith("kill switch"):
            self.notify(f"🛑 {self.bot} {self.inst.symbol}: {notice.message}")
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
        led, q = st.ledger, self.inst.quote_asset
        return (
            f"session P&L {units.money(led.equity)} {q} (realised {units.money(led.realised)}, "
            f"unrealised {units.money(led.unrealised)}, fees "
            f"{units.money(units.fee_cost(led.all_fees))}, funding {units.money(led.funding)})"
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
        """Send, poll for commands and time the periodic messages until cancelled."""
        async with httpx.AsyncClient(transport=self._transport, timeout=10.0) as client:
            self._client = client
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._sender)
                    nursery.start_soon(self._periodic)
                    if self.cfg.commands and self._control is not None:
                        nursery.start_soon(self._poller)
                    task_status.started()
            finally:
                self._client = None

    async def send_now(self, text: str, timeout_s: float = 5.0) -> None:
        """Send ``text`` at once, within ``timeout_s`` (the stop message, in the cleanup)."""
        with trio.move_on_after(timeout_s):
            async with httpx.AsyncClient(transport=self._transport, timeout=timeout_s) as client:
                for chat in self.cfg.chat_ids:
                    await self._send_one(client, chat, text[:MAX_TEXT])

    async def _sender(self) -> None:
        while True:
            if not self._queue:
                await self._wake.wait()
                self._wake = trio.Event()
                continue
            text = self._queue[0]
            client = self._client
            if client is None:
                return
            failures = 0
            for chat in self.cfg.chat_ids:
                while not await self._send_one(client, chat, text):
                    await trio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
                    failures += 1
            if self._queue and self._queue[0] is text:
                self._queue.popleft()

    async def _send_one(self, client: httpx.AsyncClient, chat: int, text: str) -> bool:
        """One sendMessage; False on a failure worth retrying (logged, token redacted)."""
        try:
            r = await client.post(f"{self._base}/sendMessage", json={"chat_id": chat, "text": text})
            body = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("telegram sendMessage failed: {}", type(exc).__name__)
            return False
        if r.status_code == 200 and isinstance(body, dict) and body.get("ok"):
            self.sent += 1
            return True
        desc = body.get("description") if isinstance(body, dict) else None
        logger.warning("telegram sendMessage refused (HTTP {}): {}", r.status_code, desc)
        # 4xx other than 429: the message will never go (bad chat id, blocked bot): drop it.
        return not (r.status_code == 429 or r.status_code >= 500)

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

    async def _poller(self) -> None:
        offset: int | None = None
        failures = 0
        while True:
            client = self._client
            if client is None:
                return
            params: dict[str, Any] = {"timeout": 30, "allowed_updates": ["message"]}
            if offset is not None:
                params["offset"] = offset
            try:
                r = await client.post(
                    f"{self._base}/getUpdates", json=params, timeout=httpx.Timeout(40.0)
                )
                body = r.json()
                if r.status_code != 200 or not body.get("ok"):
                    raise ValueError(f"HTTP {r.status_code}: {body.get('description')}")
                updates = body.get("result") or []
            except (httpx.HTTPError, ValueError, AttributeError) as exc:
                logger.warning("telegram getUpdates failed: {}", _brief(exc))
                await trio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
                failures += 1
                continue
            failures = 0
            for update in updates:
                if isinstance(update, dict) and isinstance(update.get("update_id"), int):
                    offset = update["update_id"] + 1
                    await self._on_update(update)

    async def _on_update(self, update: dict[str, Any]) -> None:
        msg = update.get("message")
        if not isinstance(msg, dict):
            return
        chat = msg.get("chat", {}).get("id") if isinstance(msg.get("chat"), dict) else None
        text = msg.get("text")
        if not isinstance(chat, int) or not isinstance(text, str):
            return
        if chat not in self.cfg.chat_ids:
            if chat not in self._strangers:
                self._strangers.add(chat)
                logger.warning("telegram: ignored a message from chat {} (not in chat_ids)", chat)
            return
        reply = await self.command(chat, text.strip())
        client = self._client
        if reply is not None and client is not None:
            await self._send_one(client, chat, reply[:MAX_TEXT])

    async def command(self, chat: int, text: str) -> str | None:
        """The answer to one command from an allowed chat."""
        if self._control is None:
            return None
        word, _, rest = text.partition(" ")
        word = word.split("@", 1)[0].lower()  # "/status@my_bot" in a group
        if word == "/status":
            answer = await self._control({"cmd": "status"})
        elif word == "/kill":
            reason = rest.strip() or "operator kill"
            answer = await self._control(
                {"cmd": "kill", "reason": f"{reason} (telegram chat {chat})"}
            )
        elif word == "/resume":
            answer = await self._control({"cmd": "resume"})
        else:
            return HELP_TEXT
        logger.info("telegram: {} from chat {}", word, chat)
        if not answer.get("ok"):
            return f"{self.bot}: {word[1:]} refused: {answer.get('error')}"
        snap = answer.get("status")
        line = status_line(snap) if isinstance(snap, dict) else "no status"
        return f"{self.bot}: {word[1:]} done\n{line}" if word != "/status" else line


def _brief(exc: BaseException) -> str:
    """An error without the request URL (which holds the token)."""
    if isinstance(exc, httpx.HTTPError):
        return type(exc).__name__
    return str(exc)


__all__ = ["HELP_TEXT", "TelegramNotifier"]
