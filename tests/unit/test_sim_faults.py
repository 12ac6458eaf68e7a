"""The sim's armed faults: a refused injection arms nothing."""

from __future__ import annotations

import pytest

from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.faults import FaultState


@pytest.mark.parametrize(
    "params",
    [
        {"count": 3, "code": "50001", "msg": "x", "status": 503},  # OKX prints codes as text
        {"count": 3, "code": 50001, "status": 200},  # not an error status
        {"count": 3, "status": "503"},
    ],
)
def test_a_refused_error_code_fault_arms_nothing(params: dict[str, object]) -> None:
    faults = FaultState()
    with pytest.raises(SimBadRequest):
        faults.arm("error_code", dict(params))
    assert faults.error_count == 0 and faults.error_code is None
    assert faults.error_status != 200


def test_an_accepted_error_code_fault_arms_its_count_code_and_status() -> None:
    faults = FaultState()
    faults.arm("error_code", {"count": 2, "code": 50001, "msg": "busy", "status": 503})
    assert (faults.error_count, faults.error_code, faults.error_msg, faults.error_status) == (
        2, 50001, "busy", 503,
    )  # fmt: skip
