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
from mmtrio.runtime.state_files import private_opener

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
    _check(level)
    logger.remove()
    _HANDLERS.clear()
    _Pin.level = None  # a new set-up; `mmtrio run` pins its --log-level after this
    logger.configure(patcher=REDACTOR.patch)
    fmt = fmt or (
        "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
        "<cyan>{name}</cyan> {message}"
    )
    target = sink if sink is not None else sys.stderr
    if json_lines:
        return _add(sink=target, level=level, serialize=True, backtrace=False, diagnose=False)
    # diagnose=False: variable values in tracebacks could hold secrets.
    return _add(sink=target, level=level, format=fmt, backtrace=False, diagnose=False)


def add_file_sink(level: str, path: Path) -> int:
    """Also write every record, whole and redacted, to ``path`` (rotated at 20 MB, 5 kept)."""
    _check(level)
    fmt = "{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} {name} {message}"
    return _add(
        sink=str(path),
        level=level,
        format=fmt,
        rotation="20 MB",
        retention=5,
        backtrace=False,
        diagnose=False,
        opener=private_opener,  # 0600, rotated files too: the log tells fills and orders
    )


# The handlers set up here and how each was added, so that a reload can change their level:
# loguru cannot change a handler's level, so each is replaced by the same one at the new level.
_HANDLERS: dict[int, dict[str, Any]] = {}


class _Pin:
    """The ``--log-level`` of this run, which a config reload does not override."""

    level: str | None = None


def _add(**kwargs: Any) -> int:
    handler = logger.add(**kwargs)
    _HANDLERS[handler] = kwargs
    return handler


def _check(level: str) -> None:
    if level not in LEVELS:
        raise ConfigError(f"log level {level!r} is not one of {', '.join(LEVELS)}")


def pin_level(level: str) -> None:
    """The command line chose the level (``--log-level``): reloads keep it for this run."""
    _check(level)
    _Pin.level = level


def set_level(level: str) -> str:
    """Change every handler set up here to ``level`` (a SIGHUP reload of ``logging.level``).

    Returns what happened, for the log. With ``--log-level`` on the command line the run keeps
    that level and says so.
    """
    _check(level)
    if _Pin.level is not None:
        return f"logging.level {level} not applied: --log-level {_Pin.level} holds for this run"
    for handler, kwargs in list(_HANDLERS.items()):
        if kwargs["level"] == level:
            continue
        logger.remove(handler)
        del _HANDLERS[handler]
        _add(**{**kwargs, "level": level})
    return f"logging.level {level} applied"
