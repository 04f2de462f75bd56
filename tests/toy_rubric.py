"""A rubric of one `compare` item, written for tests of what a rubric may say about an item (its
hints, its keys) or about its cases (`about`, `self_check`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def write(
    folder: Path,
    *,
    params: Sequence[str] = ("x",),
    compare: Sequence[str] = ("out",),
    keys: str = "",
    cases: Sequence[str] = ("x = {randn = [2]}",),
) -> Path:
    """rubric.toml in folder: item `toy.ops:f`, with `keys` among its own keys and one
    `[[item.case]]` per entry of `cases` (the case's lines as TOML)."""
    quoted = ", ".join(f'"{p}"' for p in params)
    lines = [
        "[assignment]",
        'name = "toy"',
        "[[item]]",
        'id = "toy.ops:f"',
        "points = 1",
        'kind = "compare"',
        f"params = [{quoted}]",
        'returns = ["out"]',
        f"compare = [{', '.join(f'{c!r}' for c in compare)}]".replace("'", '"'),
        keys,
    ]
    for case in cases:
        lines += ["[[item.case]]", case]
    path = folder / "rubric.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
