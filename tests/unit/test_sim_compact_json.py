"""The sim's compact JSON (one kept encoder) writes what ``json.dumps`` with compact
separators writes, for every kind of value its messages carry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mmtrio.sim.binance.wire import dumps
from mmtrio.sim.hub import compact_json

VALUES: list[Any] = [
    {"e": "depthUpdate", "E": 1_700_000_000_123, "b": [["60000.1", "0.004"]], "a": []},
    {"id": None, "status": 429, "error": {"code": -1003, "msg": "Too many requests."}},
    {"nested": {"list": [1, 2.5, 1e-7, -0.0, True, False, None]}, "ü": "snow ☃", "x": ""},
    [float("inf"), float("nan")],
    'text with "quotes", a backslash \\ and a newline \n',
    12345678901234567890,
]


@pytest.mark.parametrize("value", VALUES)
def test_the_same_text_as_json_dumps(value: Any) -> None:
    expected = json.dumps(value, separators=(",", ":"))
    assert compact_json(value) == expected
    assert dumps(value) == expected.encode()


def test_a_value_json_cannot_write_is_refused_as_by_json_dumps() -> None:
    with pytest.raises(TypeError):
        compact_json({"when": object()})
