"""Operator-readable TOML syntax errors: a key or table written twice is named, with both lines.

``tomllib`` reports a duplicate as "Cannot overwrite a value (at line 4, column 4)": the line
of the second write, not the key, and not where the first one is. In a 150-line config with
the same key names in several tables, that sends the operator hunting. This module re-reads
the text around the reported line to name the dotted key and the line that first set it.
It only adds to tomllib's message; any other syntax error passes through unchanged.
"""

from __future__ import annotations

import re

_AT = re.compile(r"\(at line (\d+), column \d+\)")
_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")


def _norm(key: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in key.split("."))


def _tables_and_keys(lines: list[str]) -> list[tuple[str | None, str | None]]:
    """(table, key) per line: the table the line is in (or declares) and the key it sets."""
    out: list[tuple[str | None, str | None]] = []
    table = ""
    for line in lines:
        if m := _TABLE.match(line):
            table = _norm(m.group(1))
            out.append((table, None))
        elif m := _KEY.match(line):
            out.append((table, _norm(m.group(1))))
        else:
            out.append((table, None))
    return out


def describe_duplicate(text: str, message: str) -> str | None:
    """A sentence naming the key (or table) written twice and both lines, or None when the
    error is not a duplicate or the lines cannot be matched up."""
    if "Cannot overwrite a value" not in message and "Cannot declare" not in message:
        return None
    at = _AT.search(message)
    if at is None:
        return None
    lines = text.splitlines()
    index = int(at.group(1)) - 1
    if not 0 <= index < len(lines):
        return None
    parsed = _tables_and_keys(lines)
    table, key = parsed[index]
    if key is None and _TABLE.match(lines[index]):
        first = next(i for i, (t, k) in enumerate(parsed) if t == table and k is None)
        if first == index:
            return None
        return f"table [{table}] is declared twice: at line {first + 1} and line {index + 1}"
    if key is None:
        return None
    first = next(i for i, (t, k) in enumerate(parsed) if (t, k) == (table, key))
    if first == index:
        return None
    name = f"{table}.{key}" if table else repr(key)
    return (
        f"key {name} is set twice: at line {first + 1} and again at line {index + 1}; "
        "keep one of them"
    )
