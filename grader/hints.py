"""A rubric item's hints, each shown only when the failure it explains is the one in front of it.

A hint appended to any wrong value misleads: "subtract each row's maximum" reaches a student who
does subtract it, "add the regularization" a network whose scores are already wrong. So a hint
says what it is about, and is shown only when the evidence fits:

- `when`: what the wrong value looks like. "wrong" (any wrong value, the default), "nonfinite"
  (inf or nan where the reference is finite), "factor" (every entry a constant factor of the
  expected one), "shape" (a wrong shape, type or a missing entry);
- `parts`: the outputs it is about; shown when one of them is wrong (default: any);
- `cases`: the public cases (numbered from 1, as students read them) whose failing, and no other's,
  points at the cause; a hidden case counts as the public case it was drawn after.

A known mistake (`grader.variants`) that explains the failure replaces every hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grader import tables
from grader.compare import Mismatch

WHEN: Mapping[str, frozenset[str]] = {  # a condition -> the mismatch codes (or patterns) it accepts
    "wrong": frozenset({"value", "nonfinite"}),
    "nonfinite": frozenset({"nonfinite"}),
    "factor": frozenset({"factor"}),
    "shape": frozenset({"shape", "type", "missing", "none", "dtype"}),
}
KEYS = {
    "text": tables.Key("string", "required", "what the student reads when the failure it explains is seen"),
    "when": tables.Key(
        "string", '"wrong"', f"the failure it explains: {', '.join(f'`{w}`' for w in WHEN)} (see `grader/hints.py`)"
    ),
    "parts": tables.Key("array of strings", "[] (any)", "the item's parts it is about"),
    "cases": tables.Key("array of integers", "[] (any)", "the public case numbers (from 1) it is about"),
}


class HintError(ValueError):
    """A hint the rubric spells wrong; the message names the item and the key."""


@dataclass(frozen=True)
class Hint:
    text: str
    when: str = "wrong"
    parts: tuple[str, ...] = ()
    cases: tuple[int, ...] = ()


@dataclass(frozen=True)
class Wrong:
    """One wrong output of one case: the evidence a hint is judged against."""

    part: str
    case: int  # the public case number (from 1) the case was drawn after
    mismatch: Mismatch


def read(raw: Any, where: str, parts: tuple[str, ...], cases: int) -> tuple[Hint, ...]:
    """`hint = "text"` (shown on any wrong value) or `[[item.hint]]` tables; raises HintError."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (Hint(raw),) if raw else ()
    if not isinstance(raw, list):
        raise HintError(f"{where}: hint must be a string or a list of tables ([[item.hint]])")
    found = []
    for at, table in tables.each(raw, where, "hint", KEYS, HintError):
        text, when = table.get("text"), table.get("when", "wrong")
        if not isinstance(text, str) or not text:
            raise HintError(f"{at}: text must be a non-empty string")
        if when not in WHEN:
            raise HintError(f"{at}: when must be one of {', '.join(WHEN)}, not {when!r}")
        about = table.get("parts", [])
        if not isinstance(about, list) or any(p not in parts for p in about):
            raise HintError(f"{at}: parts must be a list of the item's parts ({', '.join(parts)})")
        numbers = table.get("cases", [])
        if not isinstance(numbers, list) or any(type(n) is not int or not 1 <= n <= cases for n in numbers):
            raise HintError(f"{at}: cases must be a list of public case numbers, 1 to {cases}")
        found.append(Hint(text, when, tuple(about), tuple(sorted(set(numbers)))))
    return tuple(found)


def holding(hints: tuple[Hint, ...], wrong: list[Wrong], failing: set[int]) -> list[Hint]:
    """The hints whose condition the evidence meets, in the rubric's order. `failing` holds every
    case number on which some part failed in any way (so that a crash on another case is no fit)."""
    return [hint for hint in hints if _holds(hint, wrong, failing)]


def _holds(hint: Hint, wrong: list[Wrong], failing: set[int]) -> bool:
    if hint.cases and failing != set(hint.cases):
        return False
    accepted = WHEN[hint.when]
    return any(
        (w.mismatch.code in accepted or w.mismatch.pattern in accepted) and (not hint.parts or w.part in hint.parts)
        for w in wrong
    )
