"""`mmtrio config check` and `mmtrio run` list every problem of a config at once, the
Telegram bot token included (QA findings on the config check).

The check used to stop at the first stage that failed: a key out of range hid the rules that
span sections (pydantic skips the whole-config validator when a section fails), and any
problem in the file hid the recording, credential and URL checks. And with ``[telegram]
enabled`` it said ok for a token file that did not exist or that group and others could read,
so `mmtrio run` failed later, or used a leaked secret.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from mmtrio.cli import EXIT_OK, EXIT_USAGE, main
from mmtrio.config import ConfigValidationError, parse_config
from tests.unit.test_config import ROOT, shipped_text_elsewhere, with_changes

TOKEN = "123456:ABC-token-never-printed"
TELEGRAM_ON = "enabled = true\nchat_ids = [123456789]\n"


@pytest.fixture(autouse=True)
def _no_secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MMTRIO_TELEGRAM_TOKEN", "MMTRIO_API_KEY", "MMTRIO_API_SECRET"):
        monkeypatch.delenv(name, raising=False)


def _config(tmp_path: Path, text: str, telegram: str = "") -> Path:
    """The shipped config with ``text`` as edited, ``telegram`` keys added to [telegram]."""
    if telegram:  # in place of the shipped enabled and chat_ids lines
        for key in ("enabled = false ", "chat_ids = [] "):
            assert text.count(f"\n{key}") == 1, key
            text = text.replace(f"\n{key}", f"\n# {key}")
        text = text.replace("\n[telegram] ", f"\n[telegram]\n{telegram}# ")
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def _three_problems(tmp_path: Path) -> Path:
    text = shipped_text_elsewhere()
    # 1. a key out of range
    text = text.replace("gamma = 10.0 ", "gamma = 99.0 ")
    # 2. a rule spanning two sections: 15 s of shutdown leave 11.25 s for 2 × 8 s requests
    text = text.replace("request_timeout_ms = 5000 ", "request_timeout_ms = 8000 ")
    # 3. paper mode: a symbol the recording does not hold
    text = text.replace('# symbol = "BTCUSDT" ', 'symbol = "SOLUSDT" ')
    # 4. Telegram on with a token file that is not there
    missing = tmp_path / "telegram_token"
    return _config(tmp_path, text, TELEGRAM_ON + f'token_file = "{missing}"\n')


def _assert_all_listed(err: str, tmp_path: Path) -> None:
    assert "4 configuration problems" in err, err
    assert "quoting.gamma = 99.0" in err and "≤ 10.0" in err
    assert "runtime.shutdown_deadline_s = 15 s leaves no time" in err, err
    assert "2 × execution.request_timeout_ms = 16 s" in err
    assert "venue.symbol SOLUSDT does not match the recording" in err
    assert f"telegram.token_file {tmp_path / 'telegram_token'} does not exist" in err


def test_config_check_lists_problems_of_every_kind_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _three_problems(tmp_path)
    assert main(["config", "check", str(path)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    _assert_all_listed(captured.err, tmp_path)


def test_run_refuses_at_start_with_the_same_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _three_problems(tmp_path)
    # a short state root: the control socket's path must fit a Unix socket (107 bytes)
    with tempfile.TemporaryDirectory(prefix="mm", dir="/tmp") as root:
        monkeypatch.setenv("MMTRIO_STATE_ROOT", root)
        assert main(["run", "--config", str(path), "--json-logs"]) == EXIT_USAGE
        assert os.listdir(root) == []  # refused before anything was created
    err = capsys.readouterr().err
    assert err.startswith("mmtrio run: ")
    _assert_all_listed(err, tmp_path)


def test_each_problem_alone_is_the_only_one_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the list above is not an artefact of one problem causing another: fixed one by one,
    # the count falls one by one
    text = shipped_text_elsewhere().replace(
        "request_timeout_ms = 5000 ", "request_timeout_ms = 8000 "
    )
    path = _config(tmp_path, text)
    assert main(["config", "check", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "1 configuration problem;" in err and "runtime.shutdown_deadline_s" in err


def test_a_section_with_problems_leaves_the_others_checked() -> None:
    data = with_changes(
        quoting__gamma=99.0, quoting__base_qty="5", execution__request_timeout_ms=8000
    )
    with pytest.raises(ConfigValidationError) as info:
        parse_config(data, base_dir=ROOT)
    sections = info.value.sections
    assert "quoting" not in sections  # it has a problem of its own
    assert {"venue", "sim", "risk", "runtime", "execution", "telegram"} <= set(sections)
    text = str(info.value)
    # quoting's own problem, and the rule it would break with risk is not guessed at ...
    assert "quoting.gamma = 99.0" in text and "base_qty" not in text
    # ... while runtime × execution, both valid, is still checked
    assert "runtime.shutdown_deadline_s = 15 s leaves no time" in text


def test_credentials_are_listed_with_the_file_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = shipped_text_elsewhere().replace(
        '\nmode = "paper"', '\nmode = "live"\nsymbol = "BTCUSDT"'
    )
    text = text.replace("gamma = 10.0 ", "gamma = 99.0 ")
    path = _config(tmp_path, text)
    assert main(["config", "check", str(path), "--credentials"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "3 configuration problems" in err, err
    assert "quoting.gamma = 99.0" in err
    assert "no API key: set $MMTRIO_API_KEY" in err and "no API secret" in err
    # without --credentials the keys are not looked for (they may live in the service only)
    assert main(["config", "check", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "1 configuration problem;" in err and "MMTRIO_API_KEY" not in err


# --- the Telegram bot token -----------------------------------------------------------------


def _token_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "telegram_token"
    path.write_text(TOKEN + "\n")
    os.chmod(path, mode)
    return path


def test_telegram_token_file_missing_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "telegram_token"
    path = _config(tmp_path, shipped_text_elsewhere(), TELEGRAM_ON + f'token_file = "{missing}"\n')
    assert main(["config", "check", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"telegram: telegram.token_file {missing} does not exist" in err, err
    assert "chmod 600" in err  # what to do: put the token there, owner-only


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_telegram_token_file_readable_by_others_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int
) -> None:
    token = _token_file(tmp_path, mode)
    path = _config(tmp_path, shipped_text_elsewhere(), TELEGRAM_ON + f'token_file = "{token}"\n')
    assert main(["config", "check", str(path)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert f"telegram.token_file {token} is accessible by group or others" in captured.err
    assert f"mode {mode:04o}" in captured.err
    assert f"run `chmod 600 {token}`" in captured.err
    assert TOKEN not in captured.err + captured.out


def test_telegram_token_file_owner_only_is_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _token_file(tmp_path, 0o600)
    path = _config(
        tmp_path, shipped_text_elsewhere(), TELEGRAM_ON + 'token_file = "telegram_token"\n'
    )
    assert token.parent == path.parent  # a relative token_file is taken from the config's dir
    assert main(["config", "check", str(path)]) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out.startswith("ok: ") and captured.err == ""
    assert TOKEN not in captured.out


def test_telegram_token_from_the_environment_must_be_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _config(tmp_path, shipped_text_elsewhere(), TELEGRAM_ON)
    assert main(["config", "check", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "no Telegram bot token: set $MMTRIO_TELEGRAM_TOKEN or telegram.token_file" in err
    monkeypatch.setenv("MMTRIO_TELEGRAM_TOKEN", "")  # set but empty: still no token
    assert main(["config", "check", str(path)]) == EXIT_USAGE
    assert "no Telegram bot token" in capsys.readouterr().err
    monkeypatch.setenv("MMTRIO_TELEGRAM_TOKEN", TOKEN)
    assert main(["config", "check", str(path)]) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out.startswith("ok: ") and TOKEN not in captured.out


def test_telegram_token_in_both_places_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _token_file(tmp_path, 0o600)
    path = _config(tmp_path, shipped_text_elsewhere(), TELEGRAM_ON + f'token_file = "{token}"\n')
    monkeypatch.setenv("MMTRIO_TELEGRAM_TOKEN", TOKEN)
    assert main(["config", "check", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "$MMTRIO_TELEGRAM_TOKEN and in telegram.token_file" in err and "keep one" in err
    assert TOKEN not in err


def test_telegram_off_does_not_look_for_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "telegram_token"
    path = _config(
        tmp_path, shipped_text_elsewhere(), f'enabled = false\ntoken_file = "{missing}"\n'
    )
    assert main(["config", "check", str(path)]) == EXIT_OK
    assert capsys.readouterr().out.startswith("ok: ")
