"""Fuzzing the Binance codec in the suite (issue #20, deliverable 4).

Mutated real messages (recordings and golden frames, see ``tests/codec_fuzz.py``) may give
only the project's named errors, or records that respect their invariants: never another
exception, never a negative size or a fill larger than its order. A longer run is the
benchmark ``benchmarks/codec_fuzz.py``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from tests.codec_fuzz import SEEDS, check, damaged_bytes, mutated_messages


def test_every_seed_decodes_cleanly() -> None:
    # the seeds themselves are valid: a mutation, not the corpus, is what a finding blames
    assert len(SEEDS) > 60
    assert [(t, check(t, s)) for t, s in SEEDS if check(t, s) is not None] == []


@settings(max_examples=600)
@given(mutated_messages())
def test_mutated_messages_give_named_errors_or_sound_records(case: tuple[str, Any]) -> None:
    target, message = case
    finding = check(target, message)
    assert finding is None, f"{finding}\ninput: {message!r}"[:3000]


@settings(max_examples=300)
@given(damaged_bytes())
def test_damaged_bytes_give_named_errors_or_sound_records(raw: bytes) -> None:
    finding = check("stream_bytes", raw)
    assert finding is None, f"{finding}\ninput: {raw!r}"[:3000]
