"""An exception said in words, for the log, Telegram and the exit summary.

``str(exc)`` is not always words: an exception group says "Exceptions from Trio nursery
(1 sub-exception)" and hides the error it carries; trio-websocket's ``ConnectionClosed``
prints the repr ``CloseReason<code=1006, name=ABNORMAL_CLOSURE, reason=None>`` and
``ConnectionRejected`` a tuple. :func:`error_text` gives:

- an exception group: the text of each error it carries (nested groups flattened, a repeated
  text said once), joined by "; ";
- mmtrio's own errors (:class:`~mmtrio.errors.MmtrioError`): their message, which is written
  for the operator;
- a websocket closed or refused: what happened, with its close code or HTTP status;
- anything else: ``Type: message`` (the type says what kind of failure a bare message such
  as ``'key'`` is), or the type alone when there is no message.

``typed=True`` names the type of every error (``Type: text``): for a task's failure, where
the kind of error is part of the diagnosis.
"""

from __future__ import annotations

from trio_websocket import ConnectionClosed, ConnectionRejected, ConnectionTimeout

from mmtrio.errors import MmtrioError


def error_text(exc: BaseException, *, typed: bool = False) -> str:
    """``exc`` in words (module docstring)."""
    texts: list[str] = []
    for leaf in _leaves(exc):
        text = _one(leaf, typed=typed)
        if text not in texts:
            texts.append(text)
    return "; ".join(texts)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        found = [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
        return found or [exc]
    return [exc]


def _one(exc: BaseException, *, typed: bool) -> str:
    said = _said(exc)
    name = type(exc).__name__
    if typed and not said.startswith(name):
        return f"{name}: {said}"
    return said


def _said(exc: BaseException) -> str:
    message = str(exc)
    if isinstance(exc, ConnectionClosed):
        why = exc.reason
        if why is None:
            return "websocket closed"
        said = f"websocket closed (code {why.code}"
        said += f" {why.name}" if why.name else ""
        return said + (f": {why.reason})" if why.reason else ")")
    if isinstance(exc, ConnectionRejected):
        return f"websocket refused by the server (HTTP {exc.status_code})"
    if isinstance(exc, ConnectionTimeout):
        return "websocket handshake timed out"
    if isinstance(exc, MmtrioError) and message:
        return message
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


__all__ = ["error_text"]
