"""The numba cache directory is keyed by the backtest package's sources (compiled/jit.py):
numba checks a cached kernel against its own file only, so a change to a callee or a slot
layout in another file must lead to a fresh compile, not stale machine code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

from mmtrio.backtest.compiled.jit import sources_digest


def test_the_digest_follows_every_source_file(tmp_path: Path) -> None:
    (tmp_path / "compiled").mkdir()
    (tmp_path / "compiled" / "matching.py").write_text("X = 1\n")
    (tmp_path / "kernel.py").write_text("from .compiled.matching import X\n")
    (tmp_path / "notes.txt").write_text("not code")
    first = sources_digest(tmp_path)
    assert len(first) == 16 and sources_digest(tmp_path) == first
    (tmp_path / "notes.txt").write_text("still not code")
    assert sources_digest(tmp_path) == first  # only .py files count
    (tmp_path / "compiled" / "matching.py").write_text("X = 2\n")  # a callee's file only
    second = sources_digest(tmp_path)
    assert second != first
    (tmp_path / "params.py").write_text("P_SIZE = 32\n")  # a new module
    assert sources_digest(tmp_path) not in (first, second)
    (tmp_path / "params.py").unlink()
    (tmp_path / "compiled" / "matching.py").rename(tmp_path / "matching.py")  # moved
    assert sources_digest(tmp_path) not in (first, second)


def _cache_dir(env: dict[str, str]) -> str:
    code = "import os, mmtrio.backtest.compiled.jit; print(os.environ['NUMBA_CACHE_DIR'])"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_cache_directory_is_the_digest_s_unless_the_user_chose_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    chosen = _cache_dir(env)
    assert Path(chosen).parent.name == "numba"
    assert Path(chosen).name == sources_digest()
    assert chosen.startswith(str(tmp_path / "cache"))
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    assert _cache_dir(env) == str(tmp_path / "mine")


def test_a_start_keeps_its_cache_and_removes_digests_unused_for_a_month(tmp_path: Path) -> None:
    from mmtrio.backtest.compiled.jit import UNUSED_DAYS, mark_used_and_prune

    now = 2_000_000_000.0
    day = 86_400.0
    parent = tmp_path / "numba"
    stale, recent, foreign = parent / "0123456789abcdef", parent / "fedcba9876543210", parent / "x"
    for path, age_days in ((stale, UNUSED_DAYS + 1), (recent, 1), (foreign, 400)):
        (path / "sub").mkdir(parents=True)
        (path / "sub" / "kernel.nbc").write_bytes(b"machine code")
        os.utime(path, (now - age_days * day, now - age_days * day))
    current = parent / "00000000000000aa"
    assert mark_used_and_prune(current, now) == [stale]
    assert not stale.exists() and recent.exists() and foreign.exists()
    assert current.is_dir() and current.stat().st_mtime == now
    # Used again a month later: the one used a day before the first start goes too.
    later = now + UNUSED_DAYS * day
    assert mark_used_and_prune(current, later) == [recent]
    assert current.stat().st_mtime == later and foreign.exists()
