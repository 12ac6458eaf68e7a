"""[telegram]: the Telegram notifier (runtime/notifier.py). Restart-only (read at start)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_core.core_schema import ValidationInfo

from mmtrio.config.checks import _fail
from mmtrio.config.fields import Section, resolve_path, setting
from mmtrio.urls import base_url_problems

# A Telegram chat id: a user's is positive, a group's negative; both fit in 52 bits. (Not a
# bounded numeric *setting*: an identifier, checked for shape only.)
ChatId = Annotated[int, Field(strict=True)]
MAX_CHAT_ID = 2**52


class TelegramConfig(Section):
    """[telegram]: fills summaries, state changes, halts, kills and daily P&L to chats; and,
    when ``commands`` is on, /status /kill /resume from those chats only."""

    enabled: bool = setting(False, reload=False, doc="send notifications to Telegram")
    chat_ids: list[ChatId] = setting(
        [],
        reload=False,
        max_length=20,
        doc="chats that receive messages; the only ones whose commands are obeyed",
    )
    token_file: Path | None = setting(
        None,
        reload=False,
        strict=False,
        doc="file holding the bot token (mode 0600), or set MMTRIO_TELEGRAM_TOKEN",
    )
    commands: bool = setting(
        True, reload=False, doc="accept /status, /kill, /resume from chat_ids (long polling)"
    )
    fills_summary_s: int = setting(
        300,
        reload=False,
        unit="s",
        ge=10,
        le=86_400,
        doc="a fills summary this often, when there were fills",
    )
    daily_pnl_hour_utc: int = setting(
        0, reload=False, unit="h", ge=0, le=23, doc="hour (UTC) of the daily P&L message"
    )
    api_url: str = setting(
        "https://api.telegram.org",
        reload=False,
        doc="Bot API base URL (https; http only on loopback, for tests)",
    )

    @field_validator("token_file")
    @classmethod
    def _resolve(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else resolve_path(value, info)

    @model_validator(mode="after")
    def _check(self) -> TelegramConfig:
        problems: list[str] = []
        if self.enabled and not self.chat_ids:
            problems.append("enabled = true needs chat_ids (the chats to send to)")
        bad = [c for c in self.chat_ids if c == 0 or abs(c) >= MAX_CHAT_ID]
        if bad:
            problems.append(f"chat_ids {bad} are not Telegram chat ids (non-zero, < 2^52)")
        problems.extend(base_url_problems("api_url", self.api_url, "https", "http"))
        _fail(problems)
        return self


__all__ = ["TelegramConfig"]
