"""`--only`: the items a student or a TA asked for, out of an assignment's rubric.

A pattern names an item by its id (`nndl.layers:affine_forward`) or by its short name, the part after
the first colon (`affine_forward`, `TwoLayerNet.loss`, `fc_solver_model`), and may be a shell-style
glob (`*_backward`, `nndl.optim:*`). The items named are graded with the items they depend on, so
that their verdicts are the ones the whole grade gives them; only the items named are reported.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import replace

from grader.results import Report
from grader.rubric import Item, Rubric


class SelectionError(ValueError):
    """A pattern matches no item; the message says what was meant and how to see the names."""


def short_name(item_id: str) -> str:
    """The part of an id a student types: after the first colon (the whole id if it has none)."""
    return item_id.split(":", 1)[-1]


def patterns(given: Iterable[str]) -> tuple[str, ...]:
    """The patterns of repeated or comma-separated `--only` values, in order, each once."""
    return tuple(dict.fromkeys(p.strip() for value in given for p in value.split(",") if p.strip()))


def select(rubric: Rubric, wanted: Sequence[str]) -> tuple[str, ...]:
    """The ids of rubric's items that the patterns match, in the rubric's order.

    Raises SelectionError naming the first pattern that matches nothing, with the nearest names."""
    ids = [i.id for i in rubric.items]
    chosen: set[str] = set()
    for pattern in wanted:
        hits = {i for i in ids if fnmatch.fnmatchcase(i, pattern) or fnmatch.fnmatchcase(short_name(i), pattern)}
        if not hits:
            names = sorted({short_name(i) for i in ids} | set(ids))
            near = difflib.get_close_matches(pattern, names, n=3)
            meant = f"; did you mean {' or '.join(near)}?" if near else ""
            raise SelectionError(
                f"--only {pattern}: no item of {rubric.name} is called that{meant} "
                f"The items: {', '.join(short_name(i) for i in ids)}"
            )
        chosen |= hits
    return tuple(i for i in ids if i in chosen)


def with_dependencies(rubric: Rubric, ids: Iterable[str]) -> Rubric:
    """rubric with only the items ids name and, transitively, the items they depend on."""
    keep: set[str] = set()
    todo = list(ids)
    while todo:
        item = rubric.item(todo.pop())
        if item.id not in keep:
            keep.add(item.id)
            todo.extend(item.depends)
    items: tuple[Item, ...] = tuple(i for i in rubric.items if i.id in keep)
    return replace(rubric, items=items)


def reported(report: Report, ids: Sequence[str], rubric: Rubric) -> Report:
    """report with the items ids name only, saying that the rest were left out."""
    wanted = set(ids)
    items = tuple(r for r in report.items if r.id in wanted)
    if len(items) == len(rubric.items):
        return replace(report, items=items)
    note = (
        f"only {len(items)} of the {len(rubric.items)} items graded (--only): the total is out of "
        f"{sum(r.max_points for r in items):g}, not {rubric.max_total:g}"
    )
    return replace(report, items=items, notes=(*report.notes, note))
