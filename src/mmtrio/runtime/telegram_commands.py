"""The Telegram commands: ``getUpdates`` long polling, and ``/status``, ``/kill``, ``/resume``.

A command from a chat in ``[telegram] chat_ids`` goes to the same handler as the control
socket, with its source (``telegram chat N``), and the answer goes back to that chat. A
message from any other chat is ignored (logged once per chat, never answered: the bot does
not confirm it exists to strangers). A message dated before this process started (Telegram
keeps unread updates 24 h) is not obeyed, and the chat is told so: a /resume typed while the
bot was down must not lift a kill latched before the restart. ``/cmd@other_bot`` is ignored
once getMe told this bot's username. Only one process may poll a token: a 409 is an ERROR
saying so. A malformed answer is skipped with a WARNING (once per kind, then DEBUG).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import trio
from loguru import logger

from mmtrio.config.notify import TelegramConfig
from mmtrio.runtime.status import status_line
from mmtrio.runtime.telegram_api import MAX_TEXT, RETRY_S, BotApi, backoff_s
from mmtrio.runtime.telegram_text import HELP_TEXT, utc

ControlHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
CONFLICT_LOG_S = 300.0  # the 409 "another poller" error is repeated this often at most


class TelegramCommands:
    """Polls for commands and answers them (module docstring)."""

    def __init__(
        self,
        cfg: TelegramConfig,
        api: BotApi,
        *,
        bot: str,
        control: ControlHandler | None,
        started_ms: int,
        client: Callable[[], httpx.AsyncClient | None],
    ) -> None:
        self.cfg = cfg
        self.bot = bot
        self._api = api
        self._control = control
        # Commands sent before this instant are not obeyed (Telegram keeps them for 24 h).
        self._started_ms = started_ms
        self._client = client  # the notifier's, while it runs
        self._malformed_seen: set[str] = set()
        self._offset: int | None = None
        self.username: str | None = None  # from getMe, to skip "/kill@other_bot"
        self._get_me_tried = False
        self._strangers: set[int] = set()

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
        a = await self._api.call(client, "getMe", {})
        result = a.body.get("result") if a.error is None and a.body is not None else None
        name = result.get("username") if isinstance(result, dict) else None
        if isinstance(name, str) and name:
            self.username = name
            logger.info("telegram: this bot is @{}", name)
        else:
            logger.warning("telegram getMe failed ({}): /cmd@bot suffixes not checked", a.error)

    async def poll(self) -> None:
        """The poller task: getUpdates until cancelled (or the notifier's client is gone)."""
        client = self._client()
        if client is None:
            return
        if self.username is None and not self._get_me_tried:
            with trio.move_on_after(15):
                await self._get_me(client)
        failures = 0
        last_conflict_log: float | None = None
        while True:
            client = self._client()
            if client is None:
                return
            params: dict[str, Any] = {"timeout": 30, "allowed_updates": ["message"]}
            if self._offset is not None:
                params["offset"] = self._offset
            a = await self._api.call(client, "getUpdates", params, http_timeout=httpx.Timeout(40.0))
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
                await trio.sleep(a.retry_after or backoff_s(failures))
                failures += 1
                continue
            updates = a.body.get("result")
            if not isinstance(updates, list):
                self._malformed(
                    "getUpdates answer", f"result is {type(updates).__name__}, not a list"
                )
                await trio.sleep(backoff_s(failures))
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
        client = self._client()
        reply = self._stale(chat, text.strip(), msg.get("date"))
        if reply is None:
            reply = await self.command(chat, text.strip())
        if reply is not None and client is not None:
            await self._api.pace(chat)
            await self._api.send_one(client, chat, reply[:MAX_TEXT])

    def _stale(self, chat: int, text: str, date: Any) -> str | None:
        """The refusal of a message sent before this process started (or undated), else None.

        Telegram keeps unconfirmed updates for 24 h: a /resume typed while the bot was down
        must not lift, at the next start, a kill latched before it."""
        started_s = self._started_ms // 1000
        valid = isinstance(date, int) and not isinstance(date, bool) and date > 0
        if valid and date >= started_s:
            return None
        started = utc(self._started_ms / 1000)
        sent = f"sent {utc(date)}" if valid else "with no valid date"
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
            client = self._client()
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


__all__ = ["ControlHandler", "TelegramCommands"]
