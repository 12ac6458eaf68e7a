"""Collapsing repeated log lines: one per key per window, with the count held back."""

from __future__ import annotations

from mmtrio.runtime.logrepeat import RepeatLimiter, repeat_key


def test_key_ignores_numbers_only() -> None:
    assert repeat_key("wait 1200 ms at -1.5") == repeat_key("wait 3 ms at 7")
    assert repeat_key("rate budget exhausted") != repeat_key("circuit breaker open")


def test_one_line_per_window_then_the_count_of_the_rest() -> None:
    limiter = RepeatLimiter(window_ms=1_000)
    assert limiter.admit("a", 0) == 0
    assert [limiter.admit("a", t) for t in (100, 500, 999)] == [None, None, None]
    assert limiter.admit("b", 999) == 0  # another key has its own window
    assert limiter.admit("a", 1_000) == 3
    assert limiter.admit("a", 2_500) == 0  # nothing was held back in between


def test_memory_is_bounded_by_max_keys() -> None:
    limiter = RepeatLimiter(window_ms=1_000, max_keys=4)
    for i in range(100):
        assert limiter.admit(f"k{i}", i) == 0  # every new key is news
    assert len(limiter._seen) <= 4
