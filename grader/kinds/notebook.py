"""`notebook`: a notebook earns its points when every cell runs without an error, within its limits.
Its item also sets the limits of the notebook's run (`cell_timeout_s`, `timeout_s`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from grader import version_hints
from grader.kinds.base import Keys, Kind, item_result

if TYPE_CHECKING:
    from grader.kinds.context import NotebookContext
    from grader.notebooks import NotebookRun
    from grader.results import ItemResult, Status
    from grader.rubric import Item


def run_problem(run: NotebookRun) -> str:
    """What stopped a notebook ('' when every cell ran): the failing cell, its error, its first line."""
    if run.status == "ok":
        return ""
    if run.status != "timeout" and run.errors:
        first = run.errors[0]
        more = f" ({len(run.errors) - 1} more cell(s) failed after it)" if len(run.errors) > 1 else ""
        replaced = version_hints.hint(first.name, first.value)
        because = f" ({replaced})" if replaced else ""
        return f"cell {first.index + 1} ({first.first_line!r}) raised {first.name}: {first.value}{because}{more}"
    return run.message


def score_run(item: Item, run: NotebookRun) -> ItemResult:
    if run.status == "ok":
        return item_result(item, item.points, "pass", "", run.duration_s)
    status: Status = (
        "timeout"
        if run.status == "timeout"
        else "fail"
        if run.errors and run.status not in ("missing", "invalid", "dead")
        else "error"
    )
    return item_result(item, 0.0, status, run_problem(run), run.duration_s)


class NotebookKeys(Keys):
    cell_timeout_s: Annotated[
        float | None,
        "each cell's limit in seconds; the item's `timeout_s` is the whole run's",
        "the assignment's `cell_timeout_s`",
    ] = None


class Notebook(Kind):
    name = "notebook"
    Spec = NotebookKeys
    scored_from = "notebook_run"
    sets_notebook_limits = True

    def score_notebook(self, items: Sequence[Item], context: NotebookContext) -> list[ItemResult]:
        return [score_run(item, context.runs[item.notebook]) for item in items]


KIND = Notebook()
