"""Long fuzz of the Binance codec: mutated real messages and damaged bytes, JSON report.

The same seeds, mutations and oracle as the suite's ``tests/property/test_codec_fuzz.py``
(see ``tests/codec_fuzz.py``), run for many more inputs. Prints JSON: inputs tried per
target, crashes (an exception that is not one of the project's named errors), invariant
violations (a record no venue could have sent: a negative size, a fill larger than its
order…), the distinct findings with one input each, and the wall time. Exit 1 on any
finding.

Usage: .venv/bin/python benchmarks/codec_fuzz.py [--examples 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.codec_fuzz: the suite's seeds, mutations and oracle

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from tests.codec_fuzz import SEEDS, check, damaged_bytes, mutated_messages  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--examples", type=int, default=100_000, help="inputs to try")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed")
    args = parser.parse_args()
    tried: Counter[str] = Counter()
    crashes: Counter[str] = Counter()
    violations: Counter[str] = Counter()
    examples: dict[str, str] = {}

    cases = st.one_of(mutated_messages(), damaged_bytes().map(lambda raw: ("stream_bytes", raw)))

    @seed(args.seed)
    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases)
    def run(case: tuple[str, Any]) -> None:
        target, value = case
        tried[target] += 1
        finding = check(target, value)
        if finding is None:
            return
        key = finding[:160]
        bucket = crashes if _is_crash(finding) else violations
        bucket[key] += 1
        examples.setdefault(key, repr(value)[:600])

    t0 = time.perf_counter()
    run()
    wall = time.perf_counter() - t0
    report = {
        "benchmark": "codec_fuzz",
        "seeds": len(SEEDS),
        "inputs": sum(tried.values()),
        "inputs_per_target": dict(sorted(tried.items())),
        "crashes": sum(crashes.values()),
        "invariant_violations": sum(violations.values()),
        "distinct_findings": len(examples),
        "findings": [
            {"finding": k, "count": crashes[k] + violations[k], "input": v}
            for k, v in examples.items()
        ],
        "wall_s": round(wall, 1),
        "inputs_per_s": round(sum(tried.values()) / wall, 1) if wall else None,
        "hypothesis_seed": args.seed,
    }
    print(json.dumps(report, indent=1))
    return 1 if examples else 0


def _is_crash(finding: str) -> bool:
    """A crash names an exception type (``target: KeyError: …``); an invariant violation
    names a record (``target: OrderUpdate: …``)."""
    kind = finding.split(": ", 2)[1] if finding.count(": ") >= 2 else ""
    return kind.endswith(("Error", "Exception")) or kind in ("StopIteration", "RecursionError")


if __name__ == "__main__":
    sys.exit(main())
