"""The URL checks every venue shares (mmtrio.urls.venue_url_problems)."""

from __future__ import annotations

from mmtrio.urls import HostRule, venue_url_problems

SCHEMES = {"rest": ("https", "http"), "ws": ("wss", "ws")}
GOOD = {"rest": "https://api.example.com", "ws": "wss://stream.example.com"}


def _no_host_rule(key: str, url: str, host: str, mode: str) -> list[str]:
    return []


def _calls(seen: list[tuple[str, str, str, str]]) -> HostRule:
    def rule(key: str, url: str, host: str, mode: str) -> list[str]:
        seen.append((key, url, host, mode))
        return [f"{key} rule"] if host == "bad.example.com" else []

    return rule


def test_good_urls_have_no_problem() -> None:
    assert venue_url_problems("an X endpoint", GOOD, "live", SCHEMES, _no_host_rule) == []


def test_a_missing_url_is_required_unless_optional() -> None:
    urls = {"rest": GOOD["rest"]}
    assert venue_url_problems("an X endpoint", urls, "live", SCHEMES, _no_host_rule) == [
        "ws URL is required"
    ]
    assert (
        venue_url_problems("an X endpoint", urls, "live", SCHEMES, _no_host_rule, optional={"ws"})
        == []
    )


def test_an_unknown_name_lists_the_known_ones() -> None:
    urls = {**GOOD, "orders": "https://api.example.com"}
    assert venue_url_problems("an X endpoint", urls, "live", SCHEMES, _no_host_rule) == [
        "orders is not an X endpoint (known: rest, ws)"
    ]


def test_the_host_rule_sees_only_urls_that_pass_the_generic_checks() -> None:
    seen: list[tuple[str, str, str, str]] = []
    urls = {"rest": "ftp://api.example.com", "ws": "wss://bad.example.com"}
    problems = venue_url_problems("an X endpoint", urls, "testnet", SCHEMES, _calls(seen))
    assert seen == [("ws", "wss://bad.example.com", "bad.example.com", "testnet")]
    assert problems[0].startswith("rest 'ftp://api.example.com' must use https://")
    assert problems[1] == "ws rule"


def test_loopback_is_never_live_on_any_venue() -> None:
    urls = {"rest": "http://127.0.0.1:8080", "ws": "ws://localhost:8081"}
    live = venue_url_problems("an X endpoint", urls, "live", SCHEMES, _no_host_rule)
    assert len(live) == 2
    assert all("loopback address but mode = 'live'" in p for p in live)
    assert venue_url_problems("an X endpoint", urls, "paper", SCHEMES, _no_host_rule) == []
