"""The trace hash and `--replay-check`'s divergence read one normalised form of the trace.

QA: `--replay-check` reported DIVERGED for seeds whose two hashes were equal (the only
difference, a run's temporary directory inside a journaled kill reason, is replaced by
``<run>`` in the hash but was compared raw), and a difference at character 78,033 of an entry
printed the same first 300 characters on both sides.
"""

from __future__ import annotations

import hashlib

from mmtrio.chaos.dst import canonical, first_divergence, normalised, trace_hash

RUN_A, RUN_B = "/tmp/mmdst-t23rq3gj/seed-8", "/tmp/mmdst-1hd1d1lu/seed-8"


def _trace(run: str, reason: str = "disk space below 256 MB") -> list[object]:
    return [
        ["start", 0, 1],
        ["journal", [1, 2], [[2, "stop", 5, {"reason": f"{reason} at {run}/state"}]]],
        ["end", 0],
    ]


def test_traces_that_differ_only_by_their_run_directory_do_not_diverge() -> None:
    a, b = _trace(RUN_A), _trace(RUN_B)
    assert first_divergence(a, b) is not None  # raw, they differ
    assert first_divergence(a, b, RUN_A, RUN_B) is None
    assert trace_hash(a, RUN_A) == trace_hash(b, RUN_B)
    assert normalised(a, RUN_A) == normalised(b, RUN_B)
    assert "<run>/state" in normalised(a, RUN_A)[1]


def test_the_hash_is_the_documented_one() -> None:
    # SHA-256 of the canonical JSON of the whole trace, run paths replaced by <run>: the
    # hashes recorded before the normalisation was shared stay valid
    a = _trace(RUN_A)
    text = canonical(a).replace(RUN_A, "<run>")
    assert trace_hash(a, RUN_A) == hashlib.sha256(text.encode()).hexdigest()
    assert trace_hash(a) == hashlib.sha256(canonical(a).encode()).hexdigest()


def test_a_real_difference_in_a_long_entry_shows_around_its_first_character() -> None:
    records = [[n, "fill", 1000 + n, {"qty": "0.001"}] for n in range(2000)]
    other = [list(r) for r in records]
    other[1500] = [1500, "fill", 1000 + 1500, {"qty": "0.002"}]
    a = [["start", 0, 1], ["journal", list(range(2000)), records]]
    b = [["start", 0, 1], ["journal", list(range(2000)), other]]
    diff = first_divergence(a, b, RUN_A, RUN_B)
    assert diff is not None
    x, y = normalised(a)[1], normalised(b)[1]
    at = next(k for k, (p, q) in enumerate(zip(x, y, strict=False)) if p != q)
    assert at > 30_000  # far past any fixed prefix
    assert diff.startswith(f"trace entry 1 (journal) differs at character {at} ")
    left, right = diff.split(" != ")
    assert '"qty":"0.001"' in left and '"qty":"0.002"' in right
    assert left.split(": ", 1)[1] != right  # the two windows show the difference


def test_a_shorter_trace_and_an_entry_that_is_a_prefix_are_named() -> None:
    a = [["start", 0, 1], ["end", 0]]
    assert first_divergence(a, a[:1]) == "trace lengths differ: 2 != 1 entries"
    diff = first_divergence([["end", 0, 1]], [["end", 0]])
    assert diff is not None and diff.startswith("trace entry 0 (end) differs at character ")
