"""Checks every configured base URL gets, whatever it points at (venue, Telegram).

A base URL must parse, name a host, carry no user credentials (the URL would be logged), use
the secure scheme (``https``/``wss``) unless the host is loopback (tests and the built-in
simulated venues), and have no query or fragment. Venue packages add their own host rules
(production vs testnet hosts) on top: :meth:`mmtrio.venues.protocol.VenueFactory.url_problems`.
"""

from __future__ import annotations

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


__all__ = ["LOOPBACK_HOSTS", "base_url_problems", "host_of"]
