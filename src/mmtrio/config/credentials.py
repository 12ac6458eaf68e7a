"""API credentials: from the environment or from owner-only files, never from the TOML.

Which secrets are needed is the venue's declaration (``credential_fields`` of its factory:
Binance an API key and secret; OKX also a passphrase; Hyperliquid an agent-wallet private
key; Extended an API key and a Stark private key). Resolution per secret, independently:

1. ``MMTRIO_API_KEY`` / ``MMTRIO_API_SECRET`` / ``MMTRIO_PASSPHRASE`` / ``MMTRIO_PRIVATE_KEY``
   in the environment, or
2. ``venue.api_key_file`` / ``api_secret_file`` / ``passphrase_file`` / ``private_key_file``: a
   regular file whose mode grants nothing to group or others (``chmod 600``); anything looser
   is refused, because a world-readable trading key is a compromised trading key.

Setting both the variable and the file for the same secret is an error rather than a
precedence rule: a stale file silently overriding a freshly exported key (or the reverse) is
exactly the confusion that sends orders with the wrong account.

For ``venue.mode = "paper"`` there is nothing to load: the CLI starts the simulated venue
in-process and uses its paper keys, so :func:`load_credentials` returns ``None``.

A secret is one printable token on one line, or a PEM private-key block (Binance's Ed25519
API keys: the secret is the key's private half as its key generator writes it,
``-----BEGIN PRIVATE KEY-----`` … ``-----END PRIVATE KEY-----``; best kept in
``api_secret_file``).

No message produced here contains a secret or any part of one. Reading the files is blocking
I/O: call this at start-up, before the Trio loop, or in a worker thread.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mmtrio.config.venue import VenueConfig
from mmtrio.errors import ConfigError
from mmtrio.venues.protocol import VenueCredentials

ENV_API_KEY = "MMTRIO_API_KEY"
ENV_API_SECRET = "MMTRIO_API_SECRET"
ENV_PASSPHRASE = "MMTRIO_PASSPHRASE"
ENV_PRIVATE_KEY = "MMTRIO_PRIVATE_KEY"
_MAX_SECRET_BYTES = 1024  # keys are 64-128 characters; anything huge is the wrong file
# credential field → (what it is called in messages, env variable, config key)
_FIELDS = {
    "api_key": ("API key", ENV_API_KEY, "api_key_file"),
    "api_secret": ("API secret", ENV_API_SECRET, "api_secret_file"),
    "passphrase": ("API passphrase", ENV_PASSPHRASE, "passphrase_file"),
    "private_key": ("private key", ENV_PRIVATE_KEY, "private_key_file"),
}


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key pair. ``repr``/``str`` never show either value."""

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    source: str  # where they came from, safe to log: e.g. "env MMTRIO_API_KEY + file /etc/…"

    def __str__(self) -> str:
        return f"Credentials(<redacted>, from {self.source})"

    __repr__ = __str__


def load_credentials(
    venue: VenueConfig,
    fields: tuple[str, ...] = ("api_key", "api_secret"),
    environ: Mapping[str, str] | None = None,
) -> Credentials | None:
    """The venue's API key pair, or ``None`` in paper mode (paper keys, see above).

    Raises :class:`ConfigError` listing every credential problem at once.
    """
    creds = load_venue_credentials(venue, fields, environ)
    if creds is None:
        return None
    return Credentials(api_key=creds.api_key, api_secret=creds.api_secret, source=creds.source)


def load_venue_credentials(
    venue: VenueConfig, fields: tuple[str, ...], environ: Mapping[str, str] | None = None
) -> VenueCredentials | None:
    """Every secret ``fields`` names (the venue factory's ``credential_fields``), or ``None``
    in paper mode. Raises :class:`ConfigError` listing every problem at once."""
    if venue.mode == "paper":
        return None
    values, sources, problems = _resolve(venue, fields, environ)
    if problems:
        raise ConfigError("credentials problem: " + "; ".join(problems))
    return VenueCredentials(**values, account=venue.account or "", source=" + ".join(sources))


def credential_problems(
    venue: VenueConfig, fields: tuple[str, ...], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Every reason :func:`load_venue_credentials` would refuse (none in paper mode), each
    naming the variable or key and the fix; never a secret."""
    return [] if venue.mode == "paper" else _resolve(venue, fields, environ)[2]


def _resolve(
    venue: VenueConfig, fields: tuple[str, ...], environ: Mapping[str, str] | None
) -> tuple[dict[str, str], list[str], list[str]]:
    """(values by field, where each came from, problems) for the secrets ``fields`` names."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    values: dict[str, str] = {}
    sources: list[str] = []
    for name in fields:
        if name not in _FIELDS:
            raise ConfigError(f"the venue asks for an unknown credential {name!r}")
        what, env_name, key = _FIELDS[name]
        value, src = _one(what, env_name, getattr(venue, key), f"venue.{key}", env, problems)
        if value is not None:
            values[name] = value
            sources.append(src)
    return values, sources, problems


def _one(  # noqa: PLR0917 — a private helper called twice with mirrored arguments
    what: str,
    env_name: str,
    path: Path | None,
    key: str,
    env: Mapping[str, str],
    problems: list[str],
) -> tuple[str | None, str]:
    from_env = env.get(env_name, "")
    if from_env and path is not None:
        problems.append(f"the {what} is set both in ${env_name} and in {key} ({path}); keep one")
        return None, ""
    if from_env:
        value = from_env.strip()
        if not _well_formed(value):
            problems.append(f"${env_name} is not a single printable token (check for quoting)")
            return None, ""
        return value, f"env {env_name}"
    if path is None:
        problems.append(f"no {what}: set ${env_name} or {key} (a chmod 600 file)")
        return None, ""
    from_file = _read_private_file(what, path, key, problems)
    return from_file, f"file {path}"


def _read_private_file(what: str, path: Path, key: str, problems: list[str]) -> str | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        problems.append(
            f"{key} {path} does not exist: put the {what} there (chmod 600), or fix the path"
        )
        return None
    except OSError as exc:
        problems.append(f"{key} {path} cannot be read: {exc.strerror}")
        return None
    if not stat.S_ISREG(st.st_mode):
        problems.append(f"{key} {path} is not a regular file")
        return None
    if st.st_mode & 0o077:
        problems.append(
            f"{key} {path} is accessible by group or others (mode "
            f"{stat.S_IMODE(st.st_mode):04o}); run `chmod 600 {path}` — refusing to use it"
        )
        return None
    if st.st_size > _MAX_SECRET_BYTES:
        problems.append(f"{key} {path} is {st.st_size} bytes: not a {what} file")
        return None
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        problems.append(f"{key} {path} cannot be read as UTF-8 text")
        return None
    if not _well_formed(value):
        problems.append(
            f"{key} {path} must hold the {what} alone, on one line (or a PEM private-key block)"
        )
        return None
    return value


ENV_TELEGRAM_TOKEN = "MMTRIO_TELEGRAM_TOKEN"


def load_telegram_token(token_file: Path | None, environ: Mapping[str, str] | None = None) -> str:
    """The Telegram bot token: ``$MMTRIO_TELEGRAM_TOKEN`` or ``[telegram] token_file`` (a file
    readable by its owner only), by the same rules as the API keys. Raises ``ConfigError``."""
    problems: list[str] = []
    token = _telegram_token(token_file, environ, problems)
    if problems or token is None:
        raise ConfigError("telegram: " + "; ".join(problems))
    return token


def telegram_token_problems(
    token_file: Path | None, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Every reason :func:`load_telegram_token` would refuse: no token, a missing file, a file
    group or others may read (naming ``chmod 600``), a malformed token; never the token."""
    problems: list[str] = []
    _telegram_token(token_file, environ, problems)
    return problems


def _telegram_token(
    token_file: Path | None, environ: Mapping[str, str] | None, problems: list[str]
) -> str | None:
    env = os.environ if environ is None else environ
    what, key = "Telegram bot token", "telegram.token_file"
    return _one(what, ENV_TELEGRAM_TOKEN, token_file, key, env, problems)[0]


def _well_formed(value: str) -> bool:
    return _token(value) or _pem_block(value)


def _token(value: str) -> bool:
    return bool(value) and value.isprintable() and not any(c.isspace() for c in value)


def _pem_block(value: str) -> bool:
    """A PEM private-key block: BEGIN line, base64 lines, END line, nothing else."""
    lines = [line.strip() for line in value.strip().splitlines()]
    if len(lines) < 3 or not lines[0].startswith("-----BEGIN ") or not lines[0].endswith("-----"):
        return False
    label = lines[0][len("-----BEGIN ") : -len("-----")]
    if "PRIVATE KEY" not in label or lines[-1] != f"-----END {label}-----":
        return False
    return all(line and _BASE64.issuperset(line) for line in lines[1:-1])


_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
