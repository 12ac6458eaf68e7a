"""`mmtrio chaos --deterministic --shrink` prints one readable line per violating seed.

It printed the first violation as a Python dict, and for a seed that did not violate on
replay "shrunk to None fault(s) [] in None runs".
"""

from __future__ import annotations

from pathlib import Path

from mmtrio.cli.chaos_dst import shrink_line


def test_a_shrunk_seed_names_its_faults_and_the_violation() -> None:
    doc = {
        "seed": 77,
        "faults_before": 6,
        "faults_after": 1,
        "runs": 7,
        "violations": [{"invariant": 1, "at_ms": None, "message": "fill lost: venue trade 1"}],
        "faults": [[{"kind": "early_kill", "at_ms": 300}]],
    }
    assert shrink_line(doc, Path("/o")) == (
        "seed 77 shrunk from 6 to 1 fault(s) [early_kill] in 7 runs, still #1: fill lost: "
        "venue trade 1; schedule: /o/seed-77/shrunk.json"
    )


def test_a_seed_clean_on_replay_says_so() -> None:
    doc = {"seed": 9, "shrunk": None, "note": "the seed did not violate on replay"}
    assert shrink_line(doc, Path("/o")) == ("seed 9 not shrunk: the seed did not violate on replay")
