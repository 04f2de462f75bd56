"""An item's list of tables in the rubric (`[[item.hint]]`, `[[item.variant]]`), read the same way:
each one a table of known keys, named in an error by its place ("item X, hint 2")."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def each(
    raw: Any, where: str, noun: str, keys: frozenset[str] | set[str], error: type[ValueError]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(its place, the table) for each table of `raw`; raises `error` for anything else or an
    unknown key, naming the allowed ones."""
    if not isinstance(raw, list):
        raise error(f"{where}: {noun} must be a list of tables ([[item.{noun}]])")
    for index, table in enumerate(raw):
        at = f"{where}, {noun} {index + 1}"
        if not isinstance(table, Mapping):
            raise error(f"{at}: must be a table")
        unknown = sorted(set(table) - set(keys))
        if unknown:
            raise error(f"{at}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(keys))})")
        yield at, table
