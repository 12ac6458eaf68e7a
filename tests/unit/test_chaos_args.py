"""`mmtrio chaos`'s arguments are checked before any run starts: one line, exit 2.

QA found: a file as --out ended in a NotADirectoryError traceback (process mode); --duration
0 ran and recorded a harness error (--deterministic); --deterministic --venue okx ran
Binance and said "ok" (it was refused then; it runs OKX now: tests/chaos/test_dst_venues.py);
--shrink and --replay-check without --deterministic were ignored.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from mmtrio.cli import chaos
from mmtrio.cli.chaos_args import usage_error


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    chaos.register(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--deterministic", "--duration", "0"], "--duration 0: chaos run duration 0 ms leaves"),
        (["--duration", "10"], "use a --duration of more than 10 s"),
        (["--duration", "inf"], "--duration must be a finite number of seconds, got inf"),
        (["--shrink"], "--shrink is for --deterministic campaigns"),
        (["--replay-check"], "--replay-check is for --deterministic campaigns"),
        (["--keep"], "--keep is for --deterministic campaigns"),
        (["--resume"], "benchmarks/chaos_campaign.py --resume"),
        (["--engine", "ray"], "--engine and --address are for --deterministic"),
        (["--deterministic", "--address", "auto"], "--address needs --engine ray"),
        (["--deterministic", "--replay-check", "--resume"], "--resume does not apply to it"),
        (["--deterministic", "--replay-check", "--shrink"], "--shrink does not apply to it"),
        (["--deterministic", "--replay-check", "--engine", "ray"], "--engine ray does not"),
        (["--runs", "0"], "--runs must be at least 1, got 0"),
        (["--seed", "-1"], "--seed must be in 0..4294967295, got -1"),
        (["--jobs", "0"], "--jobs must be at least 1, got 0"),
    ],
)
def test_bad_arguments_are_named(argv: list[str], expected: str) -> None:
    problem = usage_error(_args(*argv))
    assert problem is not None and expected in problem, problem


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--duration", "10.5"],
        ["--venue", "okx"],
        ["--deterministic", "--venue", "okx"],
        ["--deterministic", "--venue", "hyperliquid", "--replay-check"],
        ["--deterministic", "--venue", "extended", "--resume"],
        ["--deterministic", "--shrink", "--keep", "--resume", "--jobs", "2"],
        ["--deterministic", "--replay-check", "--runs", "3", "--seed", "139"],
        ["--deterministic", "--engine", "ray", "--address", "auto"],
    ],
)
def test_good_arguments_pass(argv: list[str], tmp_path: Path) -> None:
    assert usage_error(_args(*argv, "--out", str(tmp_path / "new" / "out"))) is None


def test_an_out_that_is_a_file_is_refused_in_either_mode(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    for mode in ([], ["--deterministic"]):
        problem = usage_error(_args(*mode, "--out", str(afile)))
        assert problem == f"--out {afile} exists and is not a directory"
    problem = usage_error(_args("--out", str(afile / "sub")))
    assert problem == f"--out {afile / 'sub'}: {afile} is not a directory"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--runs", "1", "--duration", "11", "--out", "{file}"], "is not a directory"),
        (["--deterministic", "--runs", "1", "--out", "{file}"], "is not a directory"),
        (["--deterministic", "--runs", "1", "--duration", "0", "--out", "{dir}"], "--duration"),
        (["--shrink", "--runs", "1", "--out", "{dir}"], "--shrink"),
        (["--replay-check", "--runs", "1", "--out", "{dir}"], "--replay-check"),
    ],
)
def test_the_command_refuses_before_any_run_with_one_line(
    argv: list[str], named: str, tmp_path: Path
) -> None:
    afile, out = tmp_path / "afile", tmp_path / "out"
    afile.write_text("")
    argv = [a.format(file=afile, dir=out) for a in argv]
    cmd = [sys.executable, "-m", "mmtrio", "chaos", *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mmtrio chaos: ") and named in lines[0]
    assert done.stdout == ""
    assert not out.exists()  # nothing written, no record, no evidence
    assert afile.read_text() == ""
