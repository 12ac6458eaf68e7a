"""Loguru setup for the bot, with a redaction filter for secrets.

Why a patcher and not only care at the call sites: a secret reaches a log through paths
nobody writes on purpose — an exception message that quotes a request URL with its
signature, a ``repr`` of a config object, a bound extra. The patcher runs on every record
before any sink formats it and replaces each registered secret (and every
``signature=<hex>`` / ``X-MBX-APIKEY`` value) with ``***``, in the message, in string extras
and in the exception text. Secrets are registered once at start (``register_secret``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from mmtrio.errors import ConfigError

if TYPE_CHECKING:
    from loguru import Record

REDACTED = "***"
# Fragments that carry secrets whatever their value: an HMAC signature in a query string and
# the API-key header. Matched case-insensitively.
_PATTERNS = (
    re.compile(r"(signature=)[0-9a-fA-F]+"),
    re.compile(r"(X-MBX-APIKEY['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+", re.IGNORECASE),
    re.compile(r"(listenKey['\"]?\s*[:=/]\s*['\"]?)[A-Za-z0-9_-]{16,}", re.IGNORECASE),
)
# Shorter strings would redact ordinary words; real keys are 64 characters.
MIN_SECRET_LEN = 8
LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


class Redactor:
    """Replaces registered secrets and secret-shaped fragments in text."""

    def __init__(self) -> None:
        self._secrets: list[str] = []

    def register(self, secret: str) -> None:
        """Never let ``secret`` appear in a log record from now on."""
        if len(secret) < MIN_SECRET_LEN:
            raise ConfigError(
                f"a secret to redact must be at least {MIN_SECRET_LEN} characters; "
                "a shorter API key or secret cannot be a real one"
            )
        if secret not in self._secrets:
            # Longest first: a secret that contains another must be replaced whole.
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text

    def patch(self, record: Record) -> None:
        """Loguru patcher: redact the message, string extras and the exception."""
        record["message"] = self.redact(record["message"])
        extra: dict[str, Any] = record["extra"]
        for key, value in list(extra.items()):
            if isinstance(value, str):
                extra[key] = self.redact(value)
        exc = record["exception"]
        if exc is not None and exc.value is not None:
            # The traceback frames are code; the message is where values (URLs) show up.
            args = exc.value.args
            if args and any(isinstance(a, str) for a in args):
                exc.value.args = tuple(self.redact(a) if isinstance(a, str) else a for a in args)


REDACTOR = Redactor()


def register_secret(secret: str) -> None:
    """Register a secret with the process-wide redactor."""
    REDACTOR.register(secret)


# Above the live screen every record is one line of the terminal's width: time, level and the
# message only (the module name and date are in the log file).
SCREEN_FORMAT = "<green>{time:HH:mm:ss}</green> <level>{level: <7}</level> {message}"


def setup_logging(
    level: str = "INFO", *, json_lines: bool = False, sink: Any = None, fmt: str | None = None
) -> int:
    """Replace loguru's handlers with one (stderr by default); returns the handler id.

    ``json_lines`` writes one JSON object per line (headless / systemd). Every record goes
    through the redactor first.
    """
    if level not in LEVELS:
        raise ConfigError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    logger.remove()
    logger.configure(patcher=REDACTOR.patch)
    fmt = fmt or (
        "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
        "<cyan>{name}</cyan> {message}"
    )
    target = sink if sink is not None else sys.stderr
    if json_lines:
        return logger.add(target, level=level, serialize=True, backtrace=False, diagnose=False)
    # diagnose=False: variable values in tracebacks could hold secrets.
    return logger.add(target, level=level, format=fmt, backtrace=False, diagnose=False)


def add_file_sink(level: str, path: Path) -> int:
    """Also write every record, whole and redacted, to ``path`` (rotated at 20 MB, 5 kept)."""
    fmt = "{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} {name} {message}"
    return logger.add(
        str(path),
        level=level,
        format=fmt,
        rotation="20 MB",
        retention=5,
        backtrace=False,
        diagnose=False,
    )


def set_level(handler_id: int, level: str, *, json_lines: bool = False, sink: Any = None) -> int:
    """Change the level live (SIGHUP): loguru needs the handler replaced."""
    if level not in LEVELS:
        raise ConfigError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    logger.remove(handler_id)
    return setup_logging(level, json_lines=json_lines, sink=sink)
