"""Wire-level pieces of the Binance front end shared by its REST and websocket code.

``ApiError`` is a definite Binance error answer: HTTP status plus ``{"code", "msg"}``.
Handlers raise it; the ASGI layer turns it into the response, so a client's mistake can
never surface as a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from mmtrio.core.instruments import Instrument
from mmtrio.sim.errors import WireError
from mmtrio.sim.hub import compact_json


class ApiError(WireError):
    """A Binance error answer: ``status`` is the HTTP status, ``code``/``msg`` the JSON body."""

    def __init__(
        self,
        code: int,
        msg: str,
        status: int = 400,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(f"venue error {code} (HTTP {status}): {msg}", status, headers)
        self.code = code
        self.msg = msg

    def body(self) -> bytes:
        return dumps({"code": self.code, "msg": self.msg})


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes, as Binance sends them."""
    return compact_json(obj).encode()


def param_text(value: Any) -> str:
    """A JSON parameter value (ws-fapi params, a batch order's fields) as the text Binance
    reads and signs: what was sent, ``true``/``false`` for a boolean; an object or a list is
    no parameter value (-1100)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ApiError(-1100, "Illegal characters found in a parameter.")


def mandatory(name: str) -> ApiError:
    return ApiError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal(name: str) -> ApiError:
    return ApiError(-1100, f"Illegal characters found in parameter '{name}'.")


def bad_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


class Formatter:
    """Cached tick/lot → venue string conversion: formatting through Decimal is the replay's
    hot spot, and the same few thousand prices and sizes repeat all day."""

    def __init__(self, instrument: Instrument, cache_size: int = 1 << 16) -> None:
        self.px: Callable[[int], str] = lru_cache(maxsize=cache_size)(instrument.price_str)
        self.qty: Callable[[int], str] = lru_cache(maxsize=cache_size)(instrument.qty_str)
