"""Seeded chaos smoke: short runs through the real CLI (sim + bot as subprocesses).

The seeds are regression seeds: each once exposed a bot bug (listed below), so the smoke
replays exactly those schedules (a schedule depends on seed and duration). Eight 25-second
runs. On a violation the CLI exits 4; the assertion message carries the
first violation and the evidence directory.

- 414 @ 25 s (SIGKILL + restart, SIGHUP valid/invalid, disk full): once, a fill made just
  before the SIGKILL was booked by the restarted bot's start-up reconciliation but never
  journaled (invariant 1); and a SIGHUP sent before the restarted bot had installed its
  handler killed it (the harness now waits for the bot's first log line before a SIGHUP).
- 26 @ 25 s (foreign order, 429, depth gaps): a place journaled in the very step that
  resynced the book was once misread as "sent while out of sync" (invariant 7 is now judged
  in journal order, step-aware). Its schedule also refuses every file write of the bot
  (journal_full): the trading loop, awaiting the commit of a fill, once logged that as a
  crash with a traceback (invariant 10); the bot must stop with exit 1, leave no order, and
  its restart recover from the journal and the venue.
- 102 @ 25 s (429 bursts, 5xx, dropped responses, listen-key expiry): the reconciler task
  crashed on the client-side 429 back-off (RateLimited) and was restarted by the supervisor
  (absorbed: counted as a child restart, not a violation).
- 7006 @ 25 s (429 under a latency spike): a request queued in the HTTP pool was written into
  a back-off, a short 429 read after a longer one lifted it, and the sim banned a request sent
  while its 429 was held back by the latency fault: 418s (invariant 8), then a stop under the
  ban (invariants 2, 10).
- 7015 @ 25 s (SIGKILL + restart into a 429 burst): the restarted bot's time sync met a 429
  and start-up crashed, again on every restart (invariant 10).
- 61 @ 25 s (journal_full after a 429 burst, then a latency spike): the judge compared the
  venue's final position with the last *journaled* reconciliation, from before three fills
  the failing journal could no longer record; the bot had stated the right position in its
  log and on restart (invariant 2, a judge defect).
- 7 @ 25 s (429 bursts while the journal fails): the stopping bot drew a 429 and could not
  record it (the back-off file was written as a new file, which a full disk refuses); its
  restart, not told, drew a 418 ban (invariant 8) and could not confirm its stop (10).
  Later the judge timed its stop from the fault, though the halted bot met the full disk
  only at its next write 11 s later (invariant 4, a judge defect).
- 139 @ 25 s (user stream dropped inside a 429 back-off): the reconnect waited for the
  back-off to POST a listen key and a fill went unseen past the settle window (invariant 2).
  Later (CI, at 41b774a) a fill made while the stream was down was judged 3.5 s on, though two
  injected 429s in a row had barred every request for 4 s: the bot booked it at the first
  request the venue allowed. The judge no longer counts Retry-After time as settle time.

- 3010 @ 25 s (journal_full, then an 8.5 s half-open link through the fault proxy): each
  step of the stop ran to its own timeout, 6.7 s for a 5 s shutdown deadline (invariant 4);
  the whole stop now shares one deadline.
- 3057 @ 25 s (fill during the recovery a user-stream reconnect triggers, connection resets):
  the judge stamped a venue snapshot when its answer arrived, after a fill the bot had
  already booked and logged (invariant 2, a judge race); snapshots now carry the venue's time.

The runs go two at a time (each is two lightly loaded processes), about two minutes in all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REGRESSION_SEEDS = (414, 26, 102, 7006, 7015, 61, 7, 139, 3010, 3057)
DURATION_S = "25"
AT_ONCE = 2


@dataclass
class Outcome:
    code: int
    summary: dict[str, object]
    stderr: str


def _start(out: Path, seed: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--json", "--out", str(out)]
    cmd += ["--runs", "1", "--seed", str(seed), "--duration", DURATION_S]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str]) -> Outcome:
    try:
        stdout, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    lines = stdout.strip().splitlines()
    assert lines, f"no output; stderr: {stderr[-2000:]}"
    return Outcome(proc.returncode, json.loads(lines[-1]), stderr)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Outcome, Path]]:
    """Every regression seed's run, ``AT_ONCE`` at a time."""
    out = tmp_path_factory.mktemp("chaos")
    done: dict[int, tuple[Outcome, Path]] = {}
    pending = list(REGRESSION_SEEDS)
    while pending:
        batch, pending = pending[:AT_ONCE], pending[AT_ONCE:]
        procs = [(seed, out / str(seed), _start(out / str(seed), seed)) for seed in batch]
        for seed, seed_out, proc in procs:
            done[seed] = (_finish(proc), seed_out)
    return done


@pytest.mark.parametrize("seed", REGRESSION_SEEDS)
def test_chaos_seed(seed: int, outcomes: dict[int, tuple[Outcome, Path]]) -> None:
    outcome, out = outcomes[seed]
    summary = outcome.summary
    assert summary["runs"] == 1
    assert summary["harness_errors"] == 0, (summary["first_failure"], outcome.stderr[-2000:])
    # faults were really injected (whether the bot traded is checked over all seeds below)
    assert isinstance(summary["faults_total"], int) and summary["faults_total"] >= 3
    assert isinstance(summary["fills"], int) and summary["fills"] >= 0
    run_dir = out / f"seed-{seed}"
    assert (run_dir / "evidence.json").is_file() and (run_dir / "bot-0.log").is_file()
    if seed == 26:  # the journal_full fault really applied, and the bot stopped and came back
        evidence = json.loads((run_dir / "evidence.json").read_text())
        (full,) = [a for a in evidence["executed"] if a["kind"] == "journal_full"]
        assert full["applied"]
        logs = sorted(run_dir.glob("bot-*.log"), key=lambda p: int(p.stem.split("-")[1]))
        failed = [i for i, p in enumerate(logs) if "journal failed: " in p.read_text()]
        assert failed and failed[0] + 1 < len(logs)  # it stopped, and a bot came after
    assert outcome.code == 0, f"chaos violations: {json.dumps(summary['first_failure'])}"


def test_the_bot_traded_through_the_faults(outcomes: dict[int, tuple[Outcome, Path]]) -> None:
    """The seeds are not vacuous: the bot really traded through their faults.

    Over all the regression seeds, not per seed: these are real processes on a real clock for
    25 s, and on a starved machine (a full suite beside a campaign) one seed's bot has spent
    its time in a journal-full stop, a restart and its guards, and made no fill (seed 3010
    once did; idle, it makes 66). That run is still judged on its orders and positions.
    """
    fills = {seed: outcome.summary["fills"] for seed, (outcome, _) in outcomes.items()}
    traded = [seed for seed, n in fills.items() if isinstance(n, int) and n > 0]
    assert len(traded) >= len(REGRESSION_SEEDS) - 2, fills


def test_chaos_rejects_bad_arguments(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--runs", "0", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "--runs" in done.stderr
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--duration", "5", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "no fault window" in done.stderr
