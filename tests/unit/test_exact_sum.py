"""core/exact_sum.py: the sliding window's sum is math.fsum of the window, to the bit."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from mmtrio.core.exact_sum import ExactSum

FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)


def _bits(x: float) -> str:
    return x.hex()  # tells 0.0 from -0.0 and every last bit


@given(st.lists(st.tuples(st.booleans(), FLOATS), max_size=80))
def test_every_read_is_fsum_of_the_window(ops: list[tuple[bool, float]]) -> None:
    window = ExactSum()
    ref: list[float] = []
    for drop, x in ops:
        if drop and ref:
            assert _bits(window.popleft()) == _bits(ref.pop(0))
        else:
            window.append(x)
            ref.append(x)
        assert len(window) == len(ref) and bool(window) == bool(ref)
        try:
            want = _bits(math.fsum(ref))
        except OverflowError:
            want = "overflow"
        try:
            got = _bits(window.fsum())
        except OverflowError:
            got = "overflow"
        assert got == want


def test_a_long_slide_of_tiny_and_huge_terms_stays_exact() -> None:
    # The regime windows' terms (squared log returns ~1e-8, spans ~1e3) and cancellation
    # across 30 orders of magnitude: a running float sum would drift, this one may not.
    rng = random.Random(7)
    window = ExactSum()
    ref: list[float] = []
    for i in range(5_000):
        x = rng.choice([rng.random() * 1e-8, rng.random() * 1e3, -rng.random() * 1e22, 5e-324])
        window.append(x)
        ref.append(x)
        if len(ref) > 300:
            window.popleft()
            ref.pop(0)
        if i % 97 == 0:
            assert _bits(window.fsum()) == _bits(math.fsum(ref))
    while ref:  # emptied: back to an exact zero
        window.popleft()
        ref.pop(0)
    assert _bits(window.fsum()) == _bits(math.fsum(ref)) == _bits(0.0)


def test_special_values_get_fsums_own_answer_while_in_the_window() -> None:
    inf, nan = math.inf, math.nan
    for items in ([-0.0], [-0.0, -0.0], [inf, 1.0], [nan, 2.0], [1.0, -0.0]):
        window = ExactSum()
        for x in items:
            window.append(x)
        got, want = window.fsum(), math.fsum(items)
        assert (math.isnan(got) and math.isnan(want)) or _bits(got) == _bits(want)
    window = ExactSum()
    window.append(inf)
    window.append(-inf)
    try:
        window.fsum()
    except ValueError as exc:
        assert "inf" in str(exc)
    else:
        raise AssertionError("inf - inf must raise as math.fsum does")
    window.popleft()  # the inf leaves: back to the exact sum of the rest
    window.popleft()
    window.append(0.5)
    assert window.fsum() == 0.5
