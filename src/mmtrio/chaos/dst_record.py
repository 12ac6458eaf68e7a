"""A deterministic campaign's record on disk: ``<out>/runs.jsonl`` and ``<out>/campaign.json``.

A campaign of 100,000 seeds takes days on one machine. So each run's JSON summary is
appended to ``runs.jsonl`` as soon as it is judged (one line, flushed), and
``campaign.json`` (what the campaign is, its totals so far, when it was last written) is
rewritten atomically after every run. The campaign can be watched while it runs, and a
campaign that was stopped (SIGTERM, Ctrl-C, a reboot) is carried on by the same command with
``--resume``: the seeds already judged are skipped, and nothing is judged twice or lost.

Decisions:

- Without ``--resume``, a campaign that finds an earlier record in ``--out`` keeps it as
  ``runs.previous.jsonl`` / ``campaign.previous.json`` (one generation) and says so; it is
  never overwritten silently.
- ``--resume`` must name the same first seed and duration as the record (the seeds and the
  scenario are what the record is about); anything else is refused, naming both values.
  ``--runs`` may grow: a campaign of 10,000 can be extended to 100,000. It may not leave
  out a seed the record holds (``--runs`` smaller than the runs already judged): that is
  refused, naming both and the ``--runs`` that covers the record, so that the totals in
  ``campaign.json`` always count every line of ``runs.jsonl``.
- Each run's line carries ``code``: the git commit of the checkout that ran it (with
  ``+dirty`` when it had changes), or the package version when it is not a checkout. A
  campaign carried on over days may span several commits, and which code judged which
  seeds is part of its result.
- A run the harness could not complete (an error, not a verdict: for instance a Ray worker
  lost) runs again on resume; a seed's last line in the record is the one that counts.
- A last line cut short (the process was killed while writing it) is dropped with a note,
  and that seed runs again. A malformed line anywhere else is refused, naming the file and
  the line: the record was damaged, and guessing would lose or double-count runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mmtrio.errors import MmtrioError

RUNS_FILE = "runs.jsonl"
CAMPAIGN_FILE = "campaign.json"


def code_version() -> str:
    """The commit this package runs from (``+dirty`` with changes), else its version."""
    import mmtrio

    here = Path(mmtrio.__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"mmtrio {mmtrio.__version__}"
    return head + ("+dirty" if dirty else "")


class RecordError(MmtrioError):
    """The campaign record in --out cannot be resumed as asked."""


@dataclass
class Totals:
    """Running totals of a campaign (kept up to date per run, not recomputed)."""

    runs: int = 0
    clean: int = 0
    violations: int = 0
    errors: int = 0
    violating_seeds: list[int] = field(default_factory=list)
    error_seeds: list[int] = field(default_factory=list)
    virtual_s: float = 0.0
    faults: int = 0
    fills: int = 0

    def add(self, doc: dict[str, Any]) -> None:
        self.runs += 1
        if doc.get("error"):
            self.errors += 1
            self.error_seeds.append(int(doc["seed"]))
        elif doc.get("violations"):
            self.violations += 1
            self.violating_seeds.append(int(doc["seed"]))
        else:
            self.clean += 1
        self.virtual_s += float(doc.get("virtual_s", 0.0))
        self.faults += sum(int(n) for n in (doc.get("faults") or {}).values())
        self.fills += int(doc.get("fills", 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "clean": self.clean,
            "violations": self.violations,
            "errors": self.errors,
            "violating_seeds": sorted(self.violating_seeds),
            "error_seeds": sorted(self.error_seeds),
            "virtual_s": round(self.virtual_s, 3),
            "faults": self.faults,
            "fills": self.fills,
        }


def _read_runs(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """The runs a record holds, and whether its last line was cut short (dropped, with a
    note)."""
    if not path.is_file():
        return [], False
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    docs: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict) or not isinstance(doc.get("seed"), int):
                raise ValueError("not a run's summary (no integer 'seed')")
        except ValueError as exc:
            last = number == len(lines) and not raw.endswith(b"\n")
            if last:
                print(
                    f"mmtrio chaos: {path}: line {number} was cut short (the campaign was "
                    "killed while writing it); dropped, that seed runs again",
                    file=sys.stderr,
                )
                return docs, True
            raise RecordError(
                f"{path}: line {number} is not a run's JSON summary ({exc}); the record is "
                "damaged: move it away to start a new campaign, or remove that line to "
                "resume without it (that seed then runs again)"
            ) from exc
        docs.append(doc)
    return docs, False


class CampaignRecord:
    """The open record of one campaign in ``out``: append each run, rewrite the totals."""

    def __init__(
        self,
        out: Path,
        first_seed: int,
        runs: int,
        duration_s: float,
        jobs: int,
        *,
        venue: str = "binance",
    ) -> None:
        self.out = out
        self.meta: dict[str, Any] = {
            "first_seed": first_seed,
            "runs": runs,
            "duration_s": duration_s,
            "jobs": jobs,
            "venue": venue,
        }
        self.totals = Totals()
        self.previous: dict[int, dict[str, Any]] = {}  # seed -> doc, from a resumed record
        self._file: IO[str] | None = None
        self.code = code_version()

    @property
    def runs_path(self) -> Path:
        return self.out / RUNS_FILE

    @property
    def campaign_path(self) -> Path:
        return self.out / CAMPAIGN_FILE

    def start(self, *, resume: bool, seeds: list[int]) -> None:
        """Open the record: a fresh one, or (``resume``) the one in ``out``, whose runs
        within ``seeds`` become :attr:`previous`."""
        if resume:
            self._load(seeds)
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            self._set_aside()
        self._file = self.runs_path.open("a", encoding="utf-8")
        self._write_campaign()

    def _load(self, seeds: list[int]) -> None:
        if not self.campaign_path.is_file():
            raise RecordError(
                f"--resume: {self.campaign_path} does not exist: no campaign was started "
                "in this --out (run without --resume to start one)"
            )
        try:
            meta = json.loads(self.campaign_path.read_text(encoding="utf-8"))
            recorded = (int(meta["first_seed"]), float(meta["duration_s"]))
            # a record from before other venues ran is Binance's
            recorded_venue = str(meta.get("venue", "binance"))
        except (ValueError, KeyError, TypeError) as exc:
            raise RecordError(
                f"--resume: {self.campaign_path} is not a campaign record ({exc}); move "
                "it away to start a new campaign"
            ) from exc
        asked = (int(self.meta["first_seed"]), float(self.meta["duration_s"]))
        if recorded != asked:
            raise RecordError(
                f"--resume: the record in {self.out} is of --seed {recorded[0]} "
                f"--duration {recorded[1]:g}, not --seed {asked[0]} --duration {asked[1]:g}; "
                "resume with the record's values, or choose another --out"
            )
        if recorded_venue != self.meta["venue"]:
            raise RecordError(
                f"--resume: the record in {self.out} is of --venue {recorded_venue}, not "
                f"--venue {self.meta['venue']}; resume with the record's venue, or choose "
                "another --out"
            )
        wanted = set(seeds)
        docs, cut_short = _read_runs(self.runs_path)
        self._check_covered(docs, len(seeds))
        kept = [d for d in docs if d["seed"] in wanted]
        if cut_short:
            # the record keeps whole lines only: the next run appends after the last whole one
            tmp = self.runs_path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
            tmp.replace(self.runs_path)
        latest = {d["seed"]: d for d in kept}  # a seed run again: its last line counts
        again = sorted(seed for seed, d in latest.items() if d.get("error"))
        if again:
            print(
                f"mmtrio chaos: {len(again)} run(s) of the record the harness could not "
                f"complete run again (seeds {', '.join(map(str, again[:10]))}"
                f"{', ...' if len(again) > 10 else ''})",
                file=sys.stderr,
            )
        for seed, doc in latest.items():
            if not doc.get("error"):
                self.previous[seed] = doc
                self.totals.add(doc)

    def _check_covered(self, docs: list[dict[str, Any]], runs: int) -> None:
        """Refuse a ``--runs`` that leaves seeds of the record out: the totals would no
        longer count every line of runs.jsonl (a record is never cut short)."""
        first = int(self.meta["first_seed"])
        beyond = {d["seed"] for d in docs if (d["seed"] - first) % 2**32 >= runs}
        if not beyond:
            return
        need = max((seed - first) % 2**32 for seed in beyond) + 1
        judged = len({d["seed"] for d in docs if not d.get("error")})
        raise RecordError(
            f"--resume --runs {runs}: the record in {self.out} holds {judged} judged run(s) "
            f"and {len(beyond)} seed(s) beyond the first {runs} (up to run {need}); "
            f"resume with --runs {need} or more (a record is never cut short)"
        )

    def _set_aside(self) -> None:
        moved = []
        for name, old in (
            (RUNS_FILE, "runs.previous.jsonl"),
            (CAMPAIGN_FILE, "campaign.previous.json"),
        ):
            path = self.out / name
            if path.exists():
                path.replace(self.out / old)
                moved.append(old)
        if moved:
            print(
                f"mmtrio chaos: {self.out} held an earlier campaign's record: kept as "
                f"{' and '.join(moved)} (pass --resume to carry a campaign on)",
                file=sys.stderr,
            )

    def add(self, doc: dict[str, Any]) -> None:
        """One judged run: appended (flushed) and counted; the totals rewritten."""
        if self._file is None:
            raise RecordError(f"{self.runs_path}: the record was not started (start() first)")
        self._file.write(json.dumps({**doc, "code": self.code}) + "\n")
        self._file.flush()
        self.totals.add(doc)
        self._write_campaign()

    def _write_campaign(self) -> None:
        doc = {
            **self.meta,
            "code": self.code,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "totals": self.totals.to_json(),
        }
        tmp = self.campaign_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.campaign_path)  # atomic: a reader never sees half of it

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
