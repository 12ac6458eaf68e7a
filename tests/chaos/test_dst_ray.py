"""`mmtrio chaos --deterministic --engine ray`: the same runs as the local pool, on Ray.

A local Ray runtime (as on a cluster, the workers are separate processes Ray starts): the
trace hashes of the seeds equal the local pool's, and the evidence each run kept comes back
under --out/seed-<seed>/. Real processes: wall time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mmtrio.chaos.dst_ray import run_on_worker
from mmtrio.errors import MmtrioError

pytest.importorskip("ray")  # a test dependency; `mmtrio[ray]` for users

SEEDS = [11, 12, 13]


def _campaign(out: Path, *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--deterministic", "--runs", str(len(SEEDS))]
    cmd += ["--seed", str(SEEDS[0]), "--duration", "10.5", "--json", "--out", str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def test_ray_runs_give_the_local_pool_s_trace_hashes_and_bring_evidence_back(
    tmp_path: Path,
) -> None:
    local = _campaign(tmp_path / "local")
    on_ray = _campaign(tmp_path / "ray", "--engine", "ray", "--jobs", "2", "--keep")
    hashes = {r["seed"]: r["trace_hash"] for r in local["runs"]}
    assert sorted(hashes) == SEEDS and all(len(h) == 64 for h in hashes.values())
    assert {r["seed"]: r["trace_hash"] for r in on_ray["runs"]} == hashes
    assert on_ray["summary"]["clean"] == len(SEEDS)
    for run in on_ray["runs"]:
        kept = tmp_path / "ray" / f"seed-{run['seed']}"
        assert run["out_dir"] == str(kept)
        assert json.loads((kept / "result.json").read_text())["trace_hash"] == run["trace_hash"]
        assert (kept / "evidence.json").is_file() and (kept / "config.toml").is_file()
    recorded = (tmp_path / "ray" / "runs.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["seed"] for line in recorded) == SEEDS


def test_a_worker_without_the_campaign_s_hash_seed_refuses_to_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "random")
    with pytest.raises(MmtrioError, match="seed 5's trace would not reproduce"):
        run_on_worker(5, 10.5, False)


def test_address_without_the_ray_engine_is_refused() -> None:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--deterministic", "--address", "auto"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "--address needs --engine ray" in proc.stderr
