"""The state directory and its files are the bot's own: mode 0700, journal and log 0600.

The journal holds positions, fills and orders; the log the same in words. Run from a shell
with the usual umask 022 they would be world-readable; the systemd units' ``UMask=0077`` is
not the only guard:

- a state directory mmtrio creates is made 0700 (missing parents, such as the state root,
  get the default mode);
- an existing one is never changed behind the operator's back: when it is group- or
  world-accessible, a WARNING names it and the ``chmod`` to run;
- the journal (SQLite gives its ``-wal``/``-shm`` files the database's mode), the lock file
  and the log file (rotated files too) are created 0600, as is every other file the bot
  writes there (the paper sim's ``sim_final.json``, the nonce files, the kill file);
- at start, files in it that group or others can read (written by an older version, or by
  hand) are made 0600, with one INFO line naming them: unlike the directory, these files are
  the bot's own.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from loguru import logger

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_state_dir(state_dir: Path) -> bool:
    """Create ``state_dir`` mode 0700 unless it exists; True when it was created here.
    Raises ``OSError``."""
    if state_dir.is_dir():
        return False
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        state_dir.mkdir(mode=DIR_MODE)
    except FileExistsError:
        return False  # made meanwhile by another: judged like any existing one
    os.chmod(state_dir, DIR_MODE)  # exactly 0700, whatever the umask
    return True


def loose_mode_warning(state_dir: Path) -> str | None:
    """The warning for an existing ``state_dir`` that group or others can enter, else None."""
    try:
        mode = stat.S_IMODE(state_dir.stat().st_mode)
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"state directory {state_dir} is mode {mode:04o}: group/others can read the journal "
        f"(positions, fills, orders) and the log; mmtrio leaves an existing directory as it "
        f"is: run `chmod 700 {state_dir}`"
    )


def secure_state_dir(state_dir: Path) -> None:
    """Create ``state_dir`` 0700, or log a WARNING when the existing one is too open, and
    make its files 0600 (module docstring). Raises ``OSError``."""
    if make_state_dir(state_dir):
        return
    warning = loose_mode_warning(state_dir)
    if warning is not None:
        logger.warning("{}", warning)
    tighten_files(state_dir)


def tighten_files(state_dir: Path) -> list[str]:
    """Make every regular file directly in ``state_dir`` that group or others may access
    mode 0600, logging one INFO line naming them; returns their names. Symbolic links and
    sockets are left alone (the control socket is made 0600 when bound); a file that cannot
    be changed (another owner's) is named in a WARNING, never fatal."""
    tightened: list[str] = []
    said: list[str] = []
    refused: list[str] = []
    try:
        entries = sorted(os.scandir(state_dir), key=lambda e: e.name)
    except OSError:
        return tightened
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # gone meanwhile
        mode = stat.S_IMODE(st.st_mode)
        if not stat.S_ISREG(st.st_mode) or not mode & 0o077:
            continue
        try:
            os.chmod(entry.path, FILE_MODE)
        except OSError as exc:
            refused.append(f"{entry.name} ({exc.strerror})")
            continue
        tightened.append(entry.name)
        said.append(f"{entry.name} (was {mode:04o})")
    if said:
        logger.info(
            "state directory {}: group/others could read {} file(s), now mode 0600: {}",
            state_dir,
            len(said),
            ", ".join(said),
        )
    if refused:
        logger.warning(
            "state directory {}: group/others can read {} file(s) this bot cannot change "
            "(run `chmod 600` on them): {}",
            state_dir,
            len(refused),
            ", ".join(refused),
        )
    return tightened


def private_opener(path: str, flags: int) -> int:
    """``open(..., opener=private_opener)``: a file it creates is mode 0600."""
    return os.open(path, flags, FILE_MODE)


def create_private(path: Path) -> None:
    """Create ``path`` empty and mode 0600 unless it exists (then it is left as it is)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "create_private",
    "loose_mode_warning",
    "make_state_dir",
    "private_opener",
    "secure_state_dir",
    "tighten_files",
]
