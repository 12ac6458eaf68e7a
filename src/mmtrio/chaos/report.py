"""Chaos results: one record per run, the table and the JSON summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmtrio.chaos.evidence import Violation


@dataclass
class RunResult:
    """What one chaos run did and found."""

    seed: int
    out_dir: str
    faults: dict[str, int] = field(default_factory=dict)  # executed faults per chaos kind
    restarts: int = 0  # bot process restarts (after SIGKILL or an unexpected exit)
    child_restarts: int = 0  # supervised child tasks the bot restarted itself
    fills: int = 0
    fills_checked: int = 0  # venue fills compared with the journal (all, or up to a cutoff)
    final_position: int = 0
    end: str = "sigterm"
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None  # the harness itself could not complete the run

    @property
    def ok(self) -> bool:
        return not self.violations and self.error is None

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RunResult:
        """A result as :meth:`to_json` wrote it (a resumed campaign reads its summary)."""
        return cls(
            seed=int(doc["seed"]),
            out_dir=str(doc["out_dir"]),
            faults={str(k): int(v) for k, v in doc.get("faults", {}).items()},
            restarts=int(doc.get("restarts", 0)),
            child_restarts=int(doc.get("child_restarts", 0)),
            fills=int(doc.get("fills", 0)),
            fills_checked=int(doc.get("fills_checked", 0)),
            final_position=int(doc.get("final_position", 0)),
            end=str(doc.get("end", "sigterm")),
            violations=[
                Violation(int(v["invariant"]), v.get("at_ms"), str(v["message"]))
                for v in doc.get("violations", [])
            ],
            error=doc.get("error"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "out_dir": self.out_dir,
            "faults": dict(sorted(self.faults.items())),
            "restarts": self.restarts,
            "child_restarts": self.child_restarts,
            "fills": self.fills,
            "fills_checked": self.fills_checked,
            "final_position": self.final_position,
            "end": self.end,
            "violations": [v.to_json() for v in self.violations],
            "error": self.error,
        }


def summary(results: list[RunResult], campaign_seed: int) -> dict[str, Any]:
    """Totals plus every run (the --json output and the benchmark's file)."""
    faults: dict[str, int] = {}
    for r in results:
        for k, n in r.faults.items():
            faults[k] = faults.get(k, 0) + n
    failed = [r for r in results if not r.ok]
    return {
        "campaign_seed": campaign_seed,
        "runs": len(results),
        "failed_runs": len(failed),
        "faults": dict(sorted(faults.items())),
        "faults_total": sum(faults.values()),
        "restarts": sum(r.restarts for r in results),
        "child_restarts": sum(r.child_restarts for r in results),
        "fills": sum(r.fills for r in results),
        "fills_checked": sum(r.fills_checked for r in results),
        "violations": sum(len(r.violations) for r in results),
        "harness_errors": sum(1 for r in results if r.error is not None),
        "first_failure": _first_failure(failed[0]) if failed else None,
        "results": [r.to_json() for r in results],
    }


def _first_failure(r: RunResult) -> dict[str, Any]:
    first = r.violations[0].to_json() if r.violations else None
    return {"seed": r.seed, "out_dir": r.out_dir, "violation": first, "error": r.error}


def format_table(results: list[RunResult]) -> str:
    """A plain-text table: one row per run, then the total, then the first failure."""
    header = (
        f"{'seed':>10}  {'end':7}  {'faults':>6}  {'restarts':>8}  {'child':>5}  "
        f"{'fills':>5}  {'pos':>5}  {'viol':>4}  kinds"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        kinds = ", ".join(f"{k}={n}" for k, n in sorted(r.faults.items()))
        viol = "ERR" if r.error is not None else str(len(r.violations))
        lines.append(
            f"{r.seed:>10}  {r.end:7}  {sum(r.faults.values()):>6}  {r.restarts:>8}  "
            f"{r.child_restarts:>5}  "
            f"{r.fills:>5}  {r.final_position:>5}  {viol:>4}  {kinds}"
        )
    total = summary(results, 0)
    lines.append("-" * len(header))
    lines.append(
        f"{'total':>10}  {len(results):>4} runs  {total['faults_total']:>4}  "
        f"{total['restarts']:>8}  {total['child_restarts']:>5}  "
        f"{total['fills']:>5}  {'':>5}  {total['violations']:>4}"
    )
    kinds = ", ".join(f"{k}={n}" for k, n in total["faults"].items())
    lines.append(f"faults by kind: {kinds or 'none'}")
    for r in results:
        if r.error is not None:
            lines.append(f"HARNESS ERROR seed {r.seed}: {r.error} (evidence in {r.out_dir})")
        for v in r.violations[:1]:
            lines.append(
                f"VIOLATION seed {r.seed}: invariant {v.invariant}: {v.message} "
                f"(evidence in {r.out_dir})"
            )
    return "\n".join(lines)
