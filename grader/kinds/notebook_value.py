"""`notebook_value`: a number the notebook computes itself (`train_acc`), checked against a bound, as a
course's own test cell checks it (`assert train_acc >= 0.85`). The grader reads it in its own run of
the notebook, right after the locked cell that assigns it, never from the outputs handed in; the
student's code still computes it, so prefer `threshold` (the grader measures a saved network itself,
on data of its own) where the points matter, and keep this for the course's own check.

The locked cell is put back as the course wrote it before the run, and the value is read before any
later cell could change it. Like a threshold, it judges the outcome of the whole training: a bug
upstream that keeps the network from learning costs these points too (a `model` item grading `train`
is replayed with the student's own upstream code instead).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np

from grader.kinds.base import Keys, Kind, KindError, Probe, item_result
from grader.probes import ProbeError

if TYPE_CHECKING:
    from grader.kinds.context import NotebookContext
    from grader.notebooks import NotebookRun
    from grader.results import ItemResult
    from grader.rubric import Item


def read(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The variable's value as a float (a number, a numpy scalar, or an array of one element)."""
    if isinstance(target, (bool, int, float, np.number, np.bool_)):
        return {"returned": {"value": float(target)}}
    if isinstance(target, np.ndarray) and target.size == 1 and target.dtype.kind in "biuf":
        return {"returned": {"value": float(target.reshape(-1)[0])}}
    raise ProbeError(f"{params['target']} is a {type(target).__name__}, not a number")


PROBES: dict[str, Probe] = {"read": read}


class NotebookValueKeys(Keys):
    variable: Annotated[
        str,
        "the variable the notebook computes (`train_acc`); a locked cell must assign it, and it is read "
        "right after that cell runs",
    ]
    at_least: Annotated[float | None, "the smallest value that earns the points"] = None
    at_most: Annotated[float | None, "the largest value that earns the points"] = None


def bounds(spec: NotebookValueKeys) -> str:
    if spec.at_least is not None and spec.at_most is not None:
        return f"between {spec.at_least:g} and {spec.at_most:g}"
    return f"at least {spec.at_least:g}" if spec.at_least is not None else f"at most {spec.at_most:g}"


def score_value(item: Item, run: NotebookRun) -> ItemResult:
    spec: NotebookValueKeys = item.params["spec"]
    name = spec.variable
    read = run.values.get(name)
    if read is None:
        from grader.kinds.notebook import run_problem  # the parent's only

        stopped = run_problem(run)
        because = f" ({stopped})" if stopped else ""
        message = f"{item.notebook} never finished the locked cell that computes {name}{because}"
        return item_result(item, 0.0, "fail", message)
    index, first_line = run.value_cells[name]
    cell = f"cell {index + 1} ({first_line!r})"
    if read.status != "ok":
        raised = next((e for e in run.errors if e.index == index), None)
        if index in run.interrupted:
            detail = f"{cell} ran past its time limit and was interrupted"
        elif raised is not None:
            detail = f"{cell} raised {raised.name}" + (f": {raised.value}" if raised.value else "")
        else:
            error = read.meta.get("error_type")
            detail = f"{cell}: " + (
                f"{error}: {read.meta.get('message', '')}" if error else read.meta.get("message", read.status)
            )
        return item_result(item, 0.0, "fail", f"{name} was not computed: {detail}")
    value = read.outputs.get("returned", {}).get("value")
    if not isinstance(value, float) or not math.isfinite(value):
        return item_result(item, 0.0, "fail", f"{name} is {value!r} after {cell}, not a finite number")
    low = spec.at_least if spec.at_least is not None else -math.inf
    high = spec.at_most if spec.at_most is not None else math.inf
    if low <= value <= high:
        return item_result(item, item.points, "pass", "")
    where = f"the grader's run of {item.notebook}, right after {cell}"
    return item_result(item, 0.0, "fail", f"{name} = {value:.6g} in {where}; it must be {bounds(spec)}")


class NotebookValue(Kind):
    name = "notebook_value"
    Spec = NotebookValueKeys
    scored_from = "notebook_run"

    def check(self, spec: NotebookValueKeys, where: str) -> None:
        if not spec.variable.isidentifier():
            raise KindError(f"{where}: variable must be a Python name, got {spec.variable!r}")
        if spec.at_least is None and spec.at_most is None:
            raise KindError(f"{where}: give at_least, at_most, or both")
        if spec.at_least is not None and spec.at_most is not None and spec.at_least > spec.at_most:
            raise KindError(f"{where}: at_least is larger than at_most")

    def probe(self, item: Item) -> str:
        return f"{self.name}:read"

    def reads(self, item: Item) -> tuple[str, ...]:
        return (item.params["variable"],)

    def score_notebook(self, items: Sequence[Item], context: NotebookContext) -> list[ItemResult]:
        return [score_value(item, context.runs[item.notebook]) for item in items]


KIND = NotebookValue()
