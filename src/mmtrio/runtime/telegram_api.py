"""The Telegram Bot API over httpx: one call, one ``sendMessage``, the pace per chat.

Nothing here raises into the bot (but cancellation): a failed call is an :class:`Answer`
with its error, validated before anything reads it. Errors name the method, never the URL,
which holds the token. Messages to one chat are paced (``SEND_INTERVAL_S`` apart; Telegram
allows about one a second per chat).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import trio
from loguru import logger

from mmtrio.error_text import error_text

MAX_TEXT = 4000  # Telegram's limit is 4096 characters per message
RETRY_S = (1.0, 2.0, 5.0, 15.0, 30.0)
SEND_INTERVAL_S = 1.0  # between two messages to one chat (Telegram allows about 1/s per chat)


def backoff_s(failures: int) -> float:
    """The wait after ``failures`` failures in a row (the last step repeats)."""
    return RETRY_S[min(failures, len(RETRY_S) - 1)]


@dataclass(slots=True)
class Answer:
    status: int | None  # None: no HTTP answer (network error, timeout)
    body: dict[str, Any] | None
    error: str | None  # None: ok
    retry_after: float | None = None  # Telegram's "parameters.retry_after" (429)


class BotApi:
    """The Bot API of one token (its base URL holds the token: never logged)."""

    def __init__(self, api_url: str, token: str) -> None:
        self._base = f"{api_url.rstrip('/')}/bot{token}"
        self._last_sent: dict[int, float] = {}
        self.sent = 0

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        payload: dict[str, Any],
        http_timeout: httpx.Timeout | None = None,
    ) -> Answer:
        """One Bot API call; never raises (but cancellation). Errors name the method, never the
        URL (which holds the token)."""
        try:
            if http_timeout is None:
                r = await client.post(f"{self._base}/{method}", json=payload)
            else:
                url = f"{self._base}/{method}"
                r = await client.post(url, json=payload, timeout=http_timeout)
        except httpx.HTTPError as exc:
            return Answer(None, None, type(exc).__name__)
        try:
            body = r.json()
        except ValueError:
            return Answer(r.status_code, None, f"HTTP {r.status_code} (not JSON)")
        if not isinstance(body, dict):
            return Answer(r.status_code, None, f"HTTP {r.status_code} (not a JSON object)")
        if r.status_code == 200 and body.get("ok") is True:
            return Answer(200, body, None)
        desc = body.get("description")
        answer = Answer(r.status_code, body, f"HTTP {r.status_code}: {desc}")
        params = body.get("parameters")
        if isinstance(params, dict):
            ra = params.get("retry_after")
            if isinstance(ra, int | float) and not isinstance(ra, bool) and 0 < ra <= 3600:
                answer.retry_after = float(ra)
        return answer

    async def send_one(
        self, client: httpx.AsyncClient, chat: int, text: str
    ) -> tuple[bool, float | None]:
        """One sendMessage: (done, retry_after). Done when sent, or refused for good (a 4xx
        other than 429: bad chat id, blocked bot: the message will never go, it is dropped).
        Not done: retry, after ``retry_after`` when Telegram said (429), else a back-off."""
        a = await self.call(client, "sendMessage", {"chat_id": chat, "text": text})
        if a.error is None:
            self.sent += 1
            return True, None
        logger.warning("telegram sendMessage failed: {}", a.error)
        status = a.status
        if status is None or status == 429 or status >= 500 or status == 200:
            return False, a.retry_after
        return True, None

    async def pace(self, chat: int) -> None:
        """At least ``SEND_INTERVAL_S`` between two messages to one chat (Telegram: ~1/s)."""
        last = self._last_sent.get(chat)
        if last is not None:
            await trio.sleep_until(last + SEND_INTERVAL_S)
        self._last_sent[chat] = trio.current_time()


def brief(exc: BaseException) -> str:
    """An error in words, without the request URL (which holds the token)."""
    if isinstance(exc, httpx.HTTPError):
        return type(exc).__name__
    return error_text(exc, typed=True)


__all__ = ["MAX_TEXT", "RETRY_S", "SEND_INTERVAL_S", "Answer", "BotApi", "backoff_s", "brief"]
