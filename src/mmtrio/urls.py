"""Checks every configured base URL gets, whatever it points at (venue, Telegram).

A base URL must parse, name a host, carry no user credentials (the URL would be logged), use
the secure scheme (``https``/``wss``) unless the host is loopback (tests and the built-in
simulated venues), and have no query or fragment. Venue packages add their own host rules
(production vs testnet hosts) on top: :meth:`mmtrio.venues.protocol.VenueFactory.url_problems`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def host_of(url: str) -> str | None:
    """The URL's host in lower case, None when it has none or does not parse."""
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def base_url_problems(key: str, url: str, secure: str, plain: str) -> list[str]:
    """What is wrong with ``url`` as the base URL configured under ``key`` (module docstring);
    empty when nothing is. ``secure``/``plain``: the schemes, e.g. ``"wss"``/``"ws"``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return [f"{key} is not a valid URL"]
    if parts.username is not None or parts.password is not None:
        # Never echo the URL: it carries a credential.
        return [f"{key} contains user credentials; credentials never go in a URL or the config"]
    if not host:
        return [f"{key} {url!r} has no host"]
    problems: list[str] = []
    if parts.scheme == plain:
        if host not in LOOPBACK_HOSTS:
            problems.append(
                f"{key} {url!r} is unencrypted ({plain}://); only loopback hosts may skip TLS"
            )
    elif parts.scheme != secure:
        problems.append(f"{key} {url!r} must use {secure}:// (or {plain}:// on loopback)")
    if parts.query or parts.fragment:
        problems.append(f"{key} {url!r} must be a base URL without query or fragment")
    return problems


HostRule = Callable[[str, str, str, str], list[str]]
"""A venue's own host rule: ``(key, url, host, mode)`` → problems (production vs testnet hosts)."""


def venue_url_problems(
    endpoint: str,
    urls: Mapping[str, str],
    mode: str,
    schemes: Mapping[str, tuple[str, str]],
    host_rule: HostRule,
    *,
    optional: Collection[str] = (),
) -> list[str]:
    """Everything wrong with a venue's configured base URLs, one message each.

    ``endpoint`` names one of the venue's endpoints in a sentence ("a Binance endpoint");
    ``schemes`` maps every URL name the venue knows to its (secure, plain) schemes; ``optional``
    names the URLs that may be absent. Each present URL gets the generic checks
    (:func:`base_url_problems`), then, when those pass, the venue's ``host_rule`` and the rule
    every venue shares: a loopback host is never a live venue (the operator would believe they
    trade real money and would not). Unknown names are refused with the known ones listed.
    """
    problems: list[str] = []
    for key, (secure, plain) in schemes.items():
        url = urls.get(key)
        if url is None:
            if key not in optional:
                problems.append(f"{key} URL is required")
            continue
        found = base_url_problems(key, url, secure, plain)
        host = host_of(url)
        if not found and host is not None:
            found = host_rule(key, url, host, mode)
            if mode == "live" and host in LOOPBACK_HOSTS:
                found.append(
                    f"{key} {url!r} is a loopback address but mode = 'live' (real money); use "
                    "mode = 'paper' for the built-in simulated venue"
                )
        problems.extend(found)
    for key in urls:
        if key not in schemes:
            problems.append(f"{key} is not {endpoint} (known: {', '.join(schemes)})")
    return problems


__all__ = ["LOOPBACK_HOSTS", "HostRule", "base_url_problems", "host_of", "venue_url_problems"]
