"""The rubric's tables read the same way: each key documented where it is defined (`Key`, from which
`docs/rubric.md` is written), an unknown key named with the closest known one, and an item's list of
tables (`[[item.hint]]`, `[[item.variant]]`) named in an error by its place ("item X, hint 2")."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Key:
    """What the rubric's documentation says of one key: its TOML type, its default ("required" when it
    has none) and what it means."""

    type: str
    default: str
    about: str


def unknown_key(key: str, allowed: Collection[str], where: str) -> str:
    """The error message for an unknown key: the closest known key when one is close, then them all."""
    import difflib  # here: the kinds' children import this module and never need it

    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{where}: unknown key {key!r}{hint} (allowed: {', '.join(sorted(allowed))})"


def each(
    raw: Any, where: str, noun: str, keys: Collection[str], error: type[ValueError]
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
            raise error(unknown_key(unknown[0], keys, at))
        yield at, table
