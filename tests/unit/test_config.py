"""Configuration: the shipped file, bounds, every-problem-at-once reporting, reload, secrets."""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from mmtrio.cli import EXIT_OK, EXIT_USAGE, main
from mmtrio.cli.venue import check_venue, live_settings
from mmtrio.config import (
    Config,
    ConfigValidationError,
    diff_reload,
    load_config,
    load_credentials,
    load_venue_credentials,
    parse_config,
)
from mmtrio.config.fields import bounds_of, is_reloadable, numeric_type
from mmtrio.config.strategy import size_lots
from mmtrio.core.instruments import BTCUSDT
from mmtrio.errors import ConfigError
from mmtrio.venues.binance.recording import scan_recording

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config.toml"


def shipped_data() -> dict[str, Any]:
    with SHIPPED.open("rb") as fh:
        return tomllib.load(fh)


def with_changes(**changes: Any) -> dict[str, Any]:
    """The shipped config's data with dotted keys set (``quoting__gamma=...``); None deletes."""
    data = copy.deepcopy(shipped_data())
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = data
        for part in path:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return data


def parse(data: dict[str, Any]) -> Config:
    return parse_config(data, base_dir=ROOT)


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigValidationError) as info:
        parse(data)
    return {p.key: str(p) for p in info.value.problems}


def walk_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        yield key, info
        for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                yield from walk_fields(arg, key + ".")


NUMERIC_FIELDS = [(k, i) for k, i in walk_fields(Config) if numeric_type(i.annotation)]


# --- the shipped file ----------------------------------------------------------------------


def test_shipped_config_loads_as_paper_trading_on_the_sim() -> None:
    config = load_config(SHIPPED)
    assert (config.venue.name, config.venue.mode) == ("binance", "paper")
    assert config.venue.symbol is None  # paper mode: the recording names it
    assert config.sim is not None and not config.sim.synthetic
    assert all(p.is_absolute() and p.is_file() for p in config.sim.data_files)
    assert config.quoting.base_qty == Decimal("0.002")
    inst = scan_recording(list(config.sim.data_files)).instrument
    assert size_lots(config, inst) == (2, 20)  # 0.002 and 0.02 BTC in 0.001 lots
    assert config.metrics.host == "127.0.0.1"
    # the state directory is left to its default: <state root>/<bot name>
    assert config.runtime.name == "binance-paper"
    assert config.runtime.state_dir == Path(os.environ["MMTRIO_STATE_ROOT"]) / "binance-paper"
    assert config.logging.json_lines is False
    assert load_credentials(config.venue) is None  # the sim uses its own paper keys


def test_config_is_immutable() -> None:
    config = load_config(SHIPPED)
    with pytest.raises(ValueError, match="frozen"):
        config.quoting.gamma = 5.0


# --- bounds and markers on every field -----------------------------------------------------


def test_every_numeric_field_has_a_lower_and_an_upper_bound() -> None:
    assert len(NUMERIC_FIELDS) >= 50  # the walk really reaches every section
    unbounded = []
    for key, info in NUMERIC_FIELDS:
        low, _, high, _ = bounds_of(info)
        if low is None or high is None:
            unbounded.append(key)
        elif abs(high) >= 1e9 and key != "sim.seed":  # no ±1e9 placeholder bounds
            unbounded.append(f"{key} (placeholder bound {high})")
    assert unbounded == []


def test_every_field_is_marked_reloadable_or_immutable() -> None:
    unmarked = [key for key, info in walk_fields(Config) if is_reloadable(info) is None]
    assert unmarked == []
    markers = {key: is_reloadable(info) for key, info in walk_fields(Config)}
    assert markers["venue.symbol"] is False and markers["venue.api_key_file"] is False
    assert markers["runtime.state_dir"] is False
    assert markers["quoting.gamma"] is True and markers["risk.max_position"] is True


@pytest.mark.parametrize(("key", "info"), NUMERIC_FIELDS, ids=[k for k, _ in NUMERIC_FIELDS])
def test_each_bound_is_enforced(key: str, info: FieldInfo) -> None:
    low, _, high, _ = bounds_of(info)
    kind = numeric_type(info.annotation)
    outside: list[Any] = []
    for bound, step in ((low, -1), (high, +1)):
        value = bound + step * (1 if kind is int else max(abs(bound), 1))
        outside.append(str(value) if kind is Decimal else kind(value))  # type: ignore[misc]
    for value in outside:
        found = problems(with_changes(**{key.replace(".", "__"): value}))
        assert key in found, (value, found)
        assert "allowed:" in found[key] and "value" in found[key]


# --- every problem at once -----------------------------------------------------------------


def shipped_text_elsewhere() -> str:
    """The shipped file's text with its data path made absolute, to copy into tmp_path."""
    rel = '"data/binance-usdm/'
    return SHIPPED.read_text().replace(rel, f'"{ROOT}/data/binance-usdm/')


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = shipped_text_elsewhere()
    text = text.replace("gamma = 10.0 ", "gamma = -3.0 ")
    text = text.replace("levels = 1 ", "levels = 50 ")
    text = text.replace("critical_fraction = 0.8", "critical_fraction = 0.4")
    text = text.replace("deadman_refresh_ms = 10000", "deadman_refresh_ms = 20000")
    text = text.replace("port = 9464", "port = 80")
    text = text.replace('level = "INFO"', 'level = "LOUD"')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigValidationError) as info:
        load_config(bad)
    found = {p.key: str(p) for p in info.value.problems}
    assert set(found) == {
        "quoting.gamma",
        "quoting.levels",
        "risk",
        "runtime",
        "metrics.port",
        "logging.level",
    }
    assert "-3.0" in found["quoting.gamma"] and "1e-06 ≤ value ≤ 10.0" in found["quoting.gamma"]
    assert "50" in found["quoting.levels"] and "1 ≤ value ≤ 10" in found["quoting.levels"]
    assert "warn_fraction < critical_fraction < hard_fraction" in found["risk"]
    assert "deadman_countdown_ms / 2" in found["runtime"]
    assert "1024 ≤ value ≤ 65535" in found["metrics.port"]
    assert "'INFO'" in found["logging.level"]
    message = str(info.value)
    assert "6 configuration problems" in message and str(bad) in message
    assert all(line in message for line in found.values())


def test_unknown_key_is_rejected_with_the_allowed_keys() -> None:
    found = problems(with_changes(quoting__gama=0.2))
    assert "unknown key" in found["quoting.gama"]
    assert "gamma" in found["quoting.gama"]
    assert "quoting.gamma" not in found  # the real key is fine; only the typo is an error


def test_unknown_table_is_rejected() -> None:
    assert "unknown key" in problems(with_changes(riks__max_position="1"))["riks"]


def test_missing_required_key_is_named() -> None:
    found = problems(with_changes(risk__max_drawdown=None))
    assert "required key is missing" in found["risk.max_drawdown"]
    assert "USDT" in found["risk.max_drawdown"]


def test_a_secret_in_the_toml_is_refused_and_never_echoed() -> None:
    with pytest.raises(ConfigValidationError) as info:
        parse(with_changes(venue__api_secret="s3cr3t-value", venue__api_key="k3y-value"))
    text = str(info.value)
    assert "s3cr3t-value" not in text and "k3y-value" not in text
    assert "MMTRIO_API_SECRET" in text and "<redacted>" in text


def test_type_errors_are_not_coerced() -> None:
    found = problems(with_changes(quoting__levels=True, risk__stale_book_ms=2000.0))
    assert "quoting.levels" in found and "risk.stale_book_ms" in found


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[venue\nkind = 'sim'\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")


def test_sim_needs_a_market_and_missing_files_are_named() -> None:
    assert "data_files is empty" in problems(with_changes(sim__data_files=[]))["<top level>"]
    found = problems(with_changes(sim__data_files=["data/nope.gz"]))
    assert "not found" in found["sim.data_files"] and "nope.gz" in found["sim.data_files"]
    # No [sim] table (or no data_files key) at all: the packaged sample recording, documented.
    from mmtrio.packaged import SAMPLE_RECORDING

    config = parse_config(with_changes(sim=None), base_dir=ROOT)
    assert config.sim is not None and config.sim.data_files == [SAMPLE_RECORDING]


def test_an_init_config_switched_to_testnet_is_valid_and_a_missing_symbol_is_named_alone() -> None:
    """QA: `mmtrio init`'s config with mode = "testnet" was refused for its [sim] table (read
    only in paper mode), and without a symbol five follow-on problems buried the real one."""
    config = parse(with_changes(venue__mode="testnet", venue__symbol="BTCUSDT", sim__data_files=[]))
    assert config.venue.mode == "testnet" and config.runtime.name == "binance-testnet-btcusdt"
    found = problems(with_changes(venue__mode="live"))
    assert list(found) == ["venue"] and "symbol is required" in found["venue"]
    # the repo's config.toml copied elsewhere for testnet: its relative recording is absent,
    # and [sim] is not read outside paper mode
    gone = with_changes(venue__mode="testnet", venue__symbol="BTCUSDT", sim__data_files=["x.gz"])
    assert parse(gone).venue.mode == "testnet"
    assert "not found" in problems(with_changes(sim__data_files=["x.gz"]))["sim.data_files"]


def test_sizes_and_notional_are_checked_against_the_venues_instrument() -> None:
    # The grid is the venue's (read at start, or from the recording): checked then, named.
    config = parse(with_changes(risk__max_notional="150", quoting__levels=2))
    with pytest.raises(ConfigError, match=r"risk\.max_notional = 150 USDT is below 2 level"):
        size_lots(config, BTCUSDT)  # BTCUSDT's min notional is 100
    config = parse(with_changes(quoting__base_qty="0.0025"))
    with pytest.raises(ConfigError, match=r"quoting\.base_qty = 0\.0025 is not a whole number"):
        size_lots(config, BTCUSDT)


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    data = with_changes(
        sim__data_files=[str(ROOT / "data/binance-usdm/btcusdt_20240808.gz")],
        runtime__state_dir="state",
    )
    config = parse_config(data, base_dir=tmp_path)
    assert config.runtime.state_dir == tmp_path / "state"
    assert config.risk.kill_file == tmp_path / "state" / "KILL"


def test_control_socket_path_length_is_checked() -> None:
    found = problems(with_changes(runtime__control_socket="/tmp/" + "s" * 120 + ".sock"))
    assert "at most 107" in found["runtime"]


# --- [venue]: name, mode, and the venue's own URL rules -----------------------------------

LIVE = {"venue__mode": "live", "venue__symbol": "BTCUSDT"}


def venue_problems(**changes: Any) -> str:
    with pytest.raises(ConfigValidationError) as info:
        check_venue(parse(with_changes(**changes)))
    return str(info.value)


def test_live_and_testnet_default_to_the_venues_own_urls() -> None:
    config = parse(with_changes(**LIVE))
    factory = check_venue(config)
    assert live_settings(config, factory).urls == {
        "rest": "https://fapi.binance.com",
        "market_ws": "wss://fstream.binance.com",
        "private_ws": "wss://fstream.binance.com",
        "order_ws": "wss://ws-fapi.binance.com/ws-fapi/v1",
    }
    testnet = parse(with_changes(**{**LIVE, "venue__mode": "testnet"}))
    urls = live_settings(testnet, check_venue(testnet)).urls
    assert urls["rest"] == "https://testnet.binancefuture.com"
    assert urls["order_ws"] == "wss://testnet.binancefuture.com/ws-fapi/v1"
    # The order socket's URL is checked like the others (a testnet host in live mode).
    text = venue_problems(
        **{**LIVE, "venue__order_ws_url": "wss://testnet.binancefuture.com/ws-fapi/v1"}
    )
    assert "venue.order_ws_url" in text and "testnet host but mode = 'live'" in text
    # A file that moves REST elsewhere gets no default order socket (REST carries orders).
    moved = parse(with_changes(**{**LIVE, "venue__rest_url": "https://proxy.example.com"}))
    assert "order_ws" not in live_settings(moved, check_venue(moved)).urls
    assert "symbol is required" in problems(with_changes(venue__mode="live"))["venue"]


async def test_the_request_timeout_reaches_the_venues_http_client() -> None:
    """execution.request_timeout_ms used to stop at the config: the client kept 5 s."""
    from mmtrio.venues.protocol import SessionHooks, VenueCredentials

    config = parse(with_changes(**LIVE, execution__request_timeout_ms=1500))
    factory = check_venue(config)
    settings = live_settings(config, factory)
    assert settings.request_timeout_ms == 1500
    session = factory.open(settings, VenueCredentials("k", "s"), SessionHooks(clock_ms=lambda: 0))
    try:
        timeout = session.rest._client.timeout  # type: ignore[attr-defined]
        assert (timeout.read, timeout.write, timeout.connect) == (1.5, 1.5, 1.5)
    finally:
        await session.aclose()


def test_testnet_and_live_hosts_are_checked_against_the_mode() -> None:
    text = venue_problems(**{**LIVE, "venue__rest_url": "https://testnet.binancefuture.com"})
    assert "venue.rest_url" in text and "testnet host but mode = 'live'" in text
    text = venue_problems(
        **{**LIVE, "venue__mode": "testnet", "venue__rest_url": "https://fapi.binance.com"}
    )
    assert "production Binance host but mode = 'testnet'" in text
    # a local simulated venue is a test venue: testnet accepts loopback, live refuses it
    local = {"venue__rest_url": "http://127.0.0.1:8080"}
    ok = parse(with_changes(**{**LIVE, "venue__mode": "testnet", **local}))
    assert live_settings(ok, check_venue(ok)).urls["rest"] == "http://127.0.0.1:8080"
    assert "loopback address but mode = 'live'" in venue_problems(**LIVE, **local)


def test_plain_http_only_on_loopback_and_no_credentials_in_urls() -> None:
    testnet = {**LIVE, "venue__mode": "testnet"}
    text = venue_problems(**testnet, venue__rest_url="http://example.com")
    assert "only loopback hosts may skip TLS" in text
    text = venue_problems(**testnet, venue__rest_url="https://user:hunter2@fapi.binance.com")
    assert "hunter2" not in text and "user credentials" in text


def test_paper_mode_refuses_venue_urls_and_key_files() -> None:
    found = problems(with_changes(venue__rest_url="https://fapi.binance.com"))
    assert "mode = 'paper'" in found["venue"]


def test_an_unknown_venue_lists_the_known_ones() -> None:
    text = venue_problems(venue__name="bitmex")
    assert "unknown venue 'bitmex'" in text and "binance" in text


def test_the_old_kind_and_testnet_keys_are_refused_with_their_replacements() -> None:
    found = problems(with_changes(venue__kind="sim", venue__mode=None))
    assert 'name = "binance" and mode = "paper"' in found["venue"]
    found = problems(with_changes(venue__testnet=True))
    assert 'mode = "testnet"' in found["venue"]


# --- credentials ---------------------------------------------------------------------------


def binance_venue(**extra: Any) -> Config:
    return parse(with_changes(**LIVE, **extra))


def test_credentials_from_the_environment() -> None:
    venue = binance_venue().venue
    creds = load_credentials(
        venue, environ={"MMTRIO_API_KEY": "key123", "MMTRIO_API_SECRET": "sec456"}
    )
    assert creds is not None
    assert (creds.api_key, creds.api_secret) == ("key123", "sec456")
    assert "key123" not in repr(creds) and "sec456" not in str(creds)


def test_the_venue_names_the_secrets_it_needs() -> None:
    # An OKX-like venue also needs a passphrase: asked for by name, from its own variable.
    venue = binance_venue().venue
    env = {"MMTRIO_API_KEY": "k", "MMTRIO_API_SECRET": "s"}
    with pytest.raises(ConfigError, match="MMTRIO_PASSPHRASE"):
        load_venue_credentials(venue, ("api_key", "api_secret", "passphrase"), env)
    creds = load_venue_credentials(
        venue, ("api_key", "api_secret", "passphrase"), {**env, "MMTRIO_PASSPHRASE": "p"}
    )
    assert creds is not None and creds.passphrase == "p" and creds.secrets() == ["k", "s", "p"]
    assert load_venue_credentials(parse(shipped_data()).venue, ("api_key",), {}) is None


def test_credential_files_must_be_private(tmp_path: Path) -> None:
    key, secret = tmp_path / "key", tmp_path / "secret"
    key.write_text("key123\n")
    secret.write_text("sec456\n")
    os.chmod(key, 0o600)
    os.chmod(secret, 0o644)
    venue = binance_venue(venue__api_key_file=str(key), venue__api_secret_file=str(secret)).venue
    with pytest.raises(ConfigError) as info:
        load_credentials(venue, environ={})
    assert "chmod 600" in str(info.value) and "0644" in str(info.value)
    assert "sec456" not in str(info.value)
    os.chmod(secret, 0o600)
    creds = load_credentials(venue, environ={})
    assert creds is not None and creds.api_secret == "sec456"
    assert str(key) in creds.source


def test_an_ed25519_private_key_file_is_a_secret_and_other_lines_are_not(tmp_path: Path) -> None:
    from tests.unit.test_binance_signing import RFC_SEED, ed25519_pem

    key, secret = tmp_path / "key", tmp_path / "secret"
    key.write_text("key123\n")
    pem = ed25519_pem(RFC_SEED)
    secret.write_text(pem)
    os.chmod(key, 0o600)
    os.chmod(secret, 0o600)
    venue = binance_venue(venue__api_key_file=str(key), venue__api_secret_file=str(secret)).venue
    creds = load_credentials(venue, environ={})
    assert creds is not None and creds.api_secret == pem.strip()
    secret.write_text("sec456\nsomething else\n")  # two lines that are no PEM block
    with pytest.raises(ConfigError, match="on one line"):
        load_credentials(venue, environ={})


def test_credentials_missing_or_ambiguous(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_credentials(binance_venue().venue, environ={})
    assert "MMTRIO_API_KEY" in str(info.value) and "MMTRIO_API_SECRET" in str(info.value)
    key = tmp_path / "key"
    key.write_text("key123")
    os.chmod(key, 0o600)
    venue = binance_venue(venue__api_key_file=str(key)).venue
    with pytest.raises(ConfigError, match="keep one"):
        load_credentials(venue, environ={"MMTRIO_API_KEY": "other", "MMTRIO_API_SECRET": "s"})


# --- reload --------------------------------------------------------------------------------


def test_reload_of_reloadable_keys_is_planned() -> None:
    old = parse(shipped_data())
    new = parse(
        with_changes(
            quoting__gamma=0.3, risk__max_drawdown="40", runtime__reconcile_interval_s=60.0
        )
    )
    plan = diff_reload(old, new)
    assert plan.ok and not plan.empty
    assert {c.key for c in plan.changes} == {
        "quoting.gamma",
        "risk.max_drawdown",
        "runtime.reconcile_interval_s",
    }
    plan.raise_if_refused()  # nothing refused: no error
    assert "quoting.gamma: 10.0 → 0.3" in plan.describe()


def test_reload_refuses_immutable_changes_as_a_whole() -> None:
    old = parse(shipped_data())
    new = parse(
        with_changes(
            venue__symbol="ETHUSDT",
            quoting__gamma=0.3,
            runtime__state_dir="elsewhere",
            logging__json=True,
        )
    )
    plan = diff_reload(old, new)
    assert not plan.ok
    # The default bot name follows the symbol (binance-paper-ethusdt), and the default
    # control socket and kill file follow the state directory: restart-only changes too.
    assert {c.key for c in plan.refused} == {
        "venue.symbol",
        "runtime.name",
        "runtime.state_dir",
        "runtime.control_socket",
        "risk.kill_file",
        "logging.json",
    }
    assert [c.key for c in plan.changes] == ["quoting.gamma"]
    with pytest.raises(ConfigError) as info:
        plan.raise_if_refused()
    assert "refused" in str(info.value) and "venue.symbol" in str(info.value)
    assert "restart" in str(info.value)


def test_reload_without_changes_is_empty() -> None:
    plan = diff_reload(parse(shipped_data()), parse(shipped_data()))
    assert plan.empty and plan.ok and plan.describe() == "config reload: no change"


# --- `mmtrio config check` -----------------------------------------------------------------


def test_cli_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(SHIPPED)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("ok: paper trading on the built-in simulated binance venue")
    assert out.count("\n") == 1


def test_cli_check_lists_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = shipped_text_elsewhere().replace("gamma = 10.0 ", "gamma = 99.0 ")
    text = text.replace("retention_days = 30", "retention_days = 0\nretension = 3")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    assert main(["config", "check", str(bad)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "3 configuration problems" in err
    assert "quoting.gamma = 99.0" in err and "≤ 10.0" in err
    assert "journal.retention_days = 0" in err and "1 ≤ value ≤ 3650 days" in err
    assert "journal.retension" in err and "unknown key" in err


def test_cli_check_credentials_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = shipped_text_elsewhere().replace(
        '\nmode = "paper"', '\nmode = "live"\nsymbol = "BTCUSDT"'
    )
    live = tmp_path / "live.toml"
    live.write_text(text)
    monkeypatch.delenv("MMTRIO_API_KEY", raising=False)
    monkeypatch.delenv("MMTRIO_API_SECRET", raising=False)
    assert main(["config", "check", str(live), "--credentials"]) == EXIT_USAGE
    assert "MMTRIO_API_KEY" in capsys.readouterr().err
    monkeypatch.setenv("MMTRIO_API_KEY", "abc")
    monkeypatch.setenv("MMTRIO_API_SECRET", "topsecret")
    assert main(["config", "check", str(live), "--credentials"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "binance LIVE (real money, https://fapi.binance.com)" in out
    assert "credentials: found" in out and "topsecret" not in out


def test_state_paths_default_to_the_state_root_by_bot_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MMTRIO_STATE_ROOT", str(tmp_path / "root"))
    config = parse_config(
        with_changes(runtime__state_dir=None, runtime__control_socket=None, risk__kill_file=None),
        base_dir=ROOT,
    )
    assert config.runtime.name == "binance-paper"
    assert config.runtime.state_dir == tmp_path / "root" / "binance-paper"
    assert config.runtime.control_socket == tmp_path / "root" / "binance-paper" / "control.sock"
    assert config.risk.kill_file == tmp_path / "root" / "binance-paper" / "KILL"
    named = parse_config(
        with_changes(runtime__state_dir=None, runtime__name="btc-a"), base_dir=ROOT
    )
    assert named.runtime.state_dir == tmp_path / "root" / "btc-a"


def test_without_the_env_the_state_root_is_the_per_user_state_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MMTRIO_STATE_ROOT", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    from mmtrio.config.locations import state_root

    assert state_root() == tmp_path / "xdg" / "mmtrio"


def test_a_bad_bot_name_is_named() -> None:
    found = problems(with_changes(runtime__name="Bad Name/.."))
    assert "runtime.name" in found


def test_config_resolution_flag_then_cwd_then_packaged(tmp_path: Path) -> None:
    from mmtrio.config.locations import resolve_config
    from mmtrio.packaged import DEFAULT_CONFIG

    assert resolve_config("x.toml", tmp_path).origin == "flag"
    assert resolve_config(None, tmp_path).path == DEFAULT_CONFIG
    (tmp_path / "config.toml").write_text("")
    assert resolve_config(None, tmp_path).path == tmp_path / "config.toml"


def test_the_packaged_default_config_loads_and_differs_from_the_shipped_one_only_in_paths(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The packaged default (what `mmtrio init` writes) documents the same keys with the same
    values as the repository's config.toml; only the state and data paths are left to their
    defaults there."""
    from mmtrio.packaged import DEFAULT_CONFIG, SAMPLE_RECORDING

    monkeypatch.setenv("MMTRIO_STATE_ROOT", str(tmp_path))
    packaged = load_config(DEFAULT_CONFIG)
    assert packaged.sim is not None and packaged.sim.data_files == [SAMPLE_RECORDING]
    assert packaged.runtime.state_dir == tmp_path / "binance-paper"
    shipped = load_config(SHIPPED)
    skip = {
        "sim": {"data_files"},
        "runtime": {"state_dir", "control_socket"},
        "risk": {"kill_file"},
    }
    for section in type(shipped).model_fields:
        a, b = getattr(shipped, section), getattr(packaged, section)
        if a is None or b is None:
            assert a == b
            continue
        da, db = a.model_dump(), b.model_dump()
        for key in skip.get(section, set()):
            da.pop(key), db.pop(key)
        assert da == db, section
    root = ROOT / "data" / "binance-usdm" / SAMPLE_RECORDING.name
    assert SAMPLE_RECORDING.read_bytes() == root.read_bytes()


def test_the_file_mmtrio_init_writes_documents_every_key() -> None:
    """Every key of every section appears in the packaged default (set, or commented out with
    its default), under its own [section]."""
    import re

    from mmtrio.packaged import DEFAULT_CONFIG

    text = DEFAULT_CONFIG.read_text()
    sections: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        if m := re.match(r"^\[([a-z.]+)\]", line):
            current = m.group(1)
            continue
        if m := re.match(r"^#?\s*([a-z_0-9]+)\s*=", line):
            sections.setdefault(current, "")
            sections[current] += f" {m.group(1)} "
    missing = []
    for key, info in walk_fields(Config):
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            continue  # a table
        section, _, leaf = key.rpartition(".")
        if section and f" {leaf} " not in sections.get(section, ""):
            missing.append(key)
    assert not missing, missing


def test_cli_check_names_a_daily_loss_limit_above_the_cumulative_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = shipped_text_elsewhere().replace('max_daily_loss = "100"', 'max_daily_loss = "400"')
    bad = tmp_path / "limits.toml"
    bad.write_text(text)
    assert main(["config", "check", str(bad)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "max_daily_loss = 400 exceeds max_cumulative_loss = 300" in err


def test_loss_limits_reach_the_strategy_and_are_optional() -> None:
    from mmtrio.config.strategy import build_strategy_config
    from mmtrio.core.instruments import BTCUSDT

    limits = build_strategy_config(parse(shipped_data()), BTCUSDT).limits
    assert (limits.max_daily_loss, limits.max_cumulative_loss) == (Decimal("100"), Decimal("300"))
    off = parse(with_changes(risk__max_daily_loss=None, risk__max_cumulative_loss=None))
    assert build_strategy_config(off, BTCUSDT).limits.max_daily_loss is None
