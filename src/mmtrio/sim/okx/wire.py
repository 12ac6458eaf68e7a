"""OKX's answer shapes for the simulated venue: the envelope and its errors."""

from __future__ import annotations

import json
from typing import Any

from mmtrio.errors import MmtrioError


class OkxError(MmtrioError):
    """A request-level error answer: HTTP ``status`` with ``{"code", "msg", "data": []}``
    (OKX answers business errors with HTTP 200 and the code in the body)."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> bytes:
        return dumps({"code": self.code, "msg": self.msg, "data": []})


class OrderError(MmtrioError):
    """One order's failure inside an order operation: its ``sCode``/``sMsg``."""

    def __init__(self, s_code: str, s_msg: str) -> None:
        super().__init__(f"{s_code}: {s_msg}")
        self.s_code = s_code
        self.s_msg = s_msg


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def int_param(
    params: dict[str, str], name: str, default: int | None = None, most: int | None = None
) -> int | None:
    """A whole-number query parameter (``default`` when absent; at most ``most``, at least 1,
    when ``most`` is given); anything else is OKX's 51000 naming it."""
    text = params.get(name, "")
    if text == "":
        return default
    if not text.isdigit() or (most is not None and not 1 <= int(text) <= most):
        raise OkxError("51000", f"Parameter {name} error")
    return int(text)


def param_error(name: str) -> OrderError:
    return OrderError("51000", f"Parameter {name} error")


def ops_envelope(results: list[dict[str, Any]]) -> dict[str, Any]:
    """``code`` 0 when every order succeeded, 1 when all failed, 2 when some did (OKX)."""
    failed = sum(1 for r in results if r.get("sCode") != "0")
    if failed == 0:
        return {"code": "0", "msg": "", "data": results}
    if failed == len(results):
        return {"code": "1", "msg": "All operations failed", "data": results}
    return {"code": "2", "msg": "Batch operation partially succeeded", "data": results}
