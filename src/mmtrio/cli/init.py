"""Write a commented config.toml to edit: `mmtrio init [DIR]`.

The file is the packaged default (paper trading on the built-in sim, every key documented with
its unit, range and reload rule), written to DIR/config.toml (DIR defaults to the current
directory, and is created if missing). An existing file is never overwritten unless --force.
Afterwards `mmtrio run` in DIR uses it (./config.toml is found), and `mmtrio config check
DIR/config.toml` validates your edits.

Exit codes: 0 written; 2 the file exists (without --force) or cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "init"
HELP = "write a commented config.toml (the packaged paper-trading default) to edit"
EPILOG = """\
examples:
  mmtrio init                      # ./config.toml
  mmtrio init ~/bots/btc           # ~/bots/btc/config.toml (directory created)
  mmtrio init . --force            # overwrite an existing ./config.toml

exit codes: 0 written; 2 the file exists (use --force) or cannot be written
"""


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR", help="where (default .)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing config.toml")


def run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_OK, EXIT_USAGE
    from mmtrio.packaged import DEFAULT_CONFIG

    target = Path(args.dir).expanduser() / "config.toml"
    if target.exists() and not args.force:
        print(
            f"mmtrio init: {target} exists; edit it, or pass --force to replace it",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(DEFAULT_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    except OSError as exc:
        print(f"mmtrio init: cannot write {target}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {target} (paper trading on the built-in sim)")
    print(f"next: edit it, check it with `mmtrio config check {target}`, then `mmtrio run`")
    print(f"      in {target.parent} (or `mmtrio run --config {target}` from anywhere)")
    return EXIT_OK
