"""A secret too short to be real is refused naming where it came from.

QA (Hyperliquid): a private-key file holding "0xzz" stopped `mmtrio run` (testnet) with only
"a secret to redact must be at least 8 characters; a shorter API key or secret cannot be a
real one": nothing said which file or variable to fix."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from mmtrio.cli import main

ADDRESS = "0x11251dfb96a928a539bf4b81bc1298b30d4834bd"


def test_a_short_private_key_names_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("coincurve")  # the hyperliquid extra
    # a short state root: the control socket's path must fit a Unix socket (107 bytes), and
    # under pytest-xdist tmp_path is too long for it (then that is the problem listed)
    monkeypatch.setenv("MMTRIO_STATE_ROOT", tempfile.mkdtemp(prefix="mm", dir="/tmp"))
    monkeypatch.delenv("MMTRIO_PRIVATE_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    key = tmp_path / "key"
    key.write_text("0xzz\n")
    key.chmod(0o600)
    sets = ["venue.name=hyperliquid", "venue.mode=testnet", "venue.symbol=BTC",
            f'venue.account="{ADDRESS}"', f"venue.private_key_file={key}",
            "metrics.enabled=false", "logging.json=true"]  # fmt: skip
    code = main(["run", *[a for s in sets for a in ("--set", s)]])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "a shorter API key or secret cannot be a real one" in err
    assert f"(from file {key})" in err
    assert "0xzz" not in err
