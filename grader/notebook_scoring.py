"""Scoring notebook items: runs, thresholds and manual answers. Pure functions."""

from __future__ import annotations

import math
from typing import Any

import nbformat

from grader.answer_cells import ANSWER_PLACEHOLDER, answer_tag
from grader.notebooks import NotebookRun
from grader.results import ItemResult
from grader.rubric import Item


def _result(item: Item, points: float, status: str, message: str, duration: float = 0.0) -> ItemResult:
    return ItemResult(item.id, item.title, round(points, 6), item.points, status, message, round(duration, 3))


def run_problem(run: NotebookRun) -> str:
    """What stopped a notebook ('' when every cell ran): the failing cell, its error, its first line."""
    if run.status == "ok":
        return ""
    if run.status != "timeout" and run.errors:
        first = run.errors[0]
        more = f" ({len(run.errors) - 1} more cell(s) failed after it)" if len(run.errors) > 1 else ""
        return f"cell {first.index + 1} ({first.first_line!r}) raised {first.name}: {first.value}{more}"
    return run.message


def score_run(item: Item, run: NotebookRun) -> ItemResult:
    """A notebook earns its points when every cell ran without an error, within its limits."""
    if run.status == "ok":
        return _result(item, item.points, "pass", "", run.duration_s)
    status = (
        "timeout"
        if run.status == "timeout"
        else "fail"
        if run.errors and run.status not in ("missing", "invalid", "dead")
        else "error"
    )
    return _result(item, 0.0, status, run_problem(run), run.duration_s)


def credit(curve: dict[str, Any], accuracy: float) -> float:
    """The fraction of the points an accuracy earns on the rubric's curve."""
    if curve["kind"] == "step":
        return 1.0 if accuracy >= float(curve["at"]) - 1e-12 else 0.0
    zero, full = float(curve["zero"]), float(curve["full"])
    above = accuracy - zero
    if curve.get("floor_percent"):
        above = math.floor(round(above * 100, 9)) / 100  # seed 001: floor of the percentage points
    return min(max(above / (full - zero), 0.0), 1.0)


def describe_curve(curve: dict[str, Any]) -> str:
    if curve["kind"] == "step":
        return f"full credit from {float(curve['at']):.0%}"
    return f"no credit up to {float(curve['zero']):.0%}, full credit from {float(curve['full']):.0%}"


def score_threshold(
    item: Item, dataset: str, saved: str | None, accuracy: float | None, count: int, where: str, stopped: str = ""
) -> ItemResult:
    """`saved` is None when the notebook saved nothing, else an error message or ''.
    `stopped` says what stopped the notebook, if anything did."""
    curve = item.params["curve"].get(dataset)
    if curve is None:
        return _result(item, 0.0, "error", f"the rubric gives no accuracy target for data set {dataset!r}")
    name = item.params["saved"]
    if saved is None:
        because = f" ({item.notebook}: {stopped})" if stopped else ""
        return _result(
            item,
            0.0,
            "fail",
            f"{name} was not saved: the notebook never reached save_for_grading({name!r}, ...){because}",
        )
    if saved:
        return _result(item, 0.0, "fail", saved)
    assert accuracy is not None
    fraction = credit(curve, accuracy)
    message = (
        f"{name}: accuracy {accuracy:.1%} measured by the grader on {count} {where} examples ({describe_curve(curve)})"
    )
    status = "pass" if fraction >= 1 else "partial" if fraction > 0 else "fail"
    return _result(item, item.points * fraction, status, "" if status == "pass" else message)


def answer_text(notebook_source: str | None, tag: str) -> str | None:
    """The student's answer in the markdown cell tagged `tag`; None when absent or left as the placeholder."""
    if notebook_source is None:
        return None
    try:
        nb = nbformat.reads(notebook_source, as_version=4)
    except Exception:  # noqa: BLE001 - a corrupt notebook has no answers to read
        return None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and answer_tag(cell) == tag:
            text = str(cell.source).strip()
            if not text or text == ANSWER_PLACEHOLDER:
                return None
            return text
    return None


def score_manual(item: Item, answer: str | None) -> ItemResult:
    """Left for a person: the answer goes into the report, the points stay empty until merged."""
    if answer is None:
        return _result(item, 0.0, "manual", "unanswered")
    return _result(item, 0.0, "manual", f"answer for a human to grade:\n{answer[:4000]}")
