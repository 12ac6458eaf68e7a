"""A reader that goes away (`mmtrio chaos --deterministic ... | head -1`) stops the command
quietly: no BrokenPipeError traceback, exit 1 (it did not finish)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]


def test_a_closed_pipe_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--deterministic", "--runs", "3"]
    cmd += ["--seed", "1", "--duration", "12", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does: the next line has nowhere to go
    stderr = proc.stderr.read()
    code = proc.wait(timeout=240)
    assert first.startswith("seed      1 "), first
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert code == 1
