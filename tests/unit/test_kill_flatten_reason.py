"""`mmtrio kill --flatten` says so in its reason (the screen, the log, the report show it).

QA (Hyperliquid paper bot): `kill` and `kill --flatten` were both logged and shown as
"kill switch: operator kill (mmtrio kill)", so nothing said a flatten had been asked for. A
kill file (no bot answered) halts but never flattens, so its reason does not claim one."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtrio.cli import main
from tests.unit.test_cli_name import FakeBot


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ([], "operator kill (mmtrio kill)"),
        (["--flatten"], "operator kill and flatten (mmtrio kill --flatten)"),
        (["--flatten", "--reason", "mine"], "mine"),
    ],
)
def test_the_kill_request_says_whether_it_flattens(
    flags: list[str], reason: str, tmp_path: Path
) -> None:
    (tmp_path / "bot").mkdir()
    bot = FakeBot(tmp_path / "bot" / "control.sock")
    try:
        assert main(["kill", "--state-dir", str(tmp_path / "bot"), *flags]) == 0
    finally:
        bot.close()
    (request,) = bot.requests
    assert request == {"cmd": "kill", "flatten": "--flatten" in flags, "reason": reason}


def test_a_kill_file_never_claims_a_flatten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "bot"
    state.mkdir()
    (state / "lock").write_text("4242\n")  # a bot ran here; none answers now
    assert main(["kill", "--state-dir", str(state), "--flatten"]) == 0
    assert (state / "KILL").read_text() == "operator kill (mmtrio kill)\n"
    assert "nothing was flattened (--flatten needs a running bot)" in capsys.readouterr().out
