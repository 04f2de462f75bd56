"""Variants of the reference: small edits of its code that a rubric item names.

A variant is either an *accepted alternative* (a convention the course leaves open, such as
epsilon inside or outside RMSProp's square root: a part that matches it on every case passes,
with a note naming it) or a *known mistake* (a bug students make: a wrong part that matches it
on every failing case is told what the mistake is and how to fix it, instead of a generic hint).

Each is one replacement in one file of the reference. `grade-build` runs every variant on the
public cases and keeps its outputs in the fixtures (student mode has no reference); instructor
mode runs it on the hidden cases beside the reference. A variant is reference code: it runs in a
reference child, never beside a student's code.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import tables


class VariantError(ValueError):
    """A variant that cannot be read from the rubric or applied to the reference."""


@dataclass(frozen=True)
class Variant:
    name: str  # what a student reads: "epsilon outside the square root"
    accepted: bool  # an alternative the course accepts; otherwise a known mistake
    says: str  # for a mistake, what is wrong and how to fix it; for an alternative, why it is accepted
    file: str  # relative to the reference folder
    old: str  # text that occurs exactly once in that file...
    new: str  # ...and what the variant has instead

    @property
    def label(self) -> str:
        return f"{'accepted alternative' if self.accepted else 'known mistake'} {self.name!r}"


KEYS = {
    "name": tables.Key("string", "required", 'what a student reads: `"epsilon outside the square root"`'),
    "accepted": tables.Key("boolean", "false", "an alternative the course accepts; otherwise a known mistake"),
    "says": tables.Key(
        "string", "required", "for a mistake, what is wrong and how to fix it; for an alternative, why it is accepted"
    ),
    "file": tables.Key("string", "required", "the reference file the edit is in, relative to its folder"),
    "old": tables.Key("string", "required", "text that occurs exactly once in that file (kept out of the fixtures)"),
    "new": tables.Key("string", "required", "what the variant has instead"),
}


def read(raw: Any, where: str, public: bool = False) -> tuple[Variant, ...]:
    """An item's `[[item.variant]]` tables; raises VariantError naming the item and the key. In a
    public rubric (the fixtures' copy) a variant has no `old` and `new`: only the reference's has."""
    if raw is None:
        return ()
    found: list[Variant] = []
    for at, table in tables.each(raw, where, "variant", KEYS, VariantError):
        edits = ("old", "new")
        if public and any(key in table for key in edits):
            raise VariantError(f"{at}: a public rubric's variant has no old or new (they are the reference's code)")
        for key in ("name", "file", "says", *(() if public else edits)):
            if not isinstance(table.get(key), str) or not table[key]:
                raise VariantError(f"{at}: {key} must be a non-empty string")
        if not isinstance(table.get("accepted", False), bool):
            raise VariantError(f"{at}: accepted must be true or false")
        if not public and table["old"] == table["new"]:
            raise VariantError(f"{at}: old and new are the same text")
        if Path(table["file"]).is_absolute() or ".." in Path(table["file"]).parts:
            raise VariantError(f"{at}: file must be a path inside the reference folder")
        found.append(
            Variant(
                table["name"],
                bool(table.get("accepted", False)),
                table["says"],
                table["file"],
                table.get("old", ""),
                table.get("new", ""),
            )
        )
    names = [v.name for v in found]
    if len(set(names)) != len(names):
        raise VariantError(f"{where}: two variants have the same name")
    return tuple(found)


def make(reference: Path, variant: Variant, dest: Path) -> Path:
    """A copy of the reference at `dest` with the variant's edit made; raises VariantError when its
    text does not occur exactly once (the reference changed under the rubric)."""
    if not variant.old:
        raise VariantError(
            f"{variant.label}: the rubric is the public copy, without the edit; grade with the reference's"
        )
    target = reference / variant.file
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise VariantError(f"{variant.label}: cannot read {variant.file} in the reference: {exc}") from exc
    count = text.count(variant.old)
    if count != 1:
        raise VariantError(
            f"{variant.label}: its old text occurs {count} times in {variant.file}, not once; "
            "make it match exactly one place in the reference"
        )
    shutil.copytree(reference, dest, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    (dest / variant.file).write_text(text.replace(variant.old, variant.new), encoding="utf-8")
    return dest


def answers_key(item_id: str, variant: Variant) -> str:
    """Where a variant's outputs on an item's hidden cases are kept beside the reference's own."""
    return f"{item_id}\0variant\0{variant.name}"
