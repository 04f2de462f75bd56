"""Gradescope's autograder `results.json`, so a course can run `grade` inside Gradescope.

Format (Gradescope's autograder specification): a top-level `score`, `execution_time` (seconds),
`output`, `visibility`, and `tests` with `name`, `score`, `max_score`, `status` ("passed"/"failed"),
`output` and `visibility`. The score is given explicitly: the automatic items' points.

- Items a person grades (inline questions, derivations) are not tests here: they are left to
  Gradescope's manual grading (a question of the assignment's outline), and not reported as failed.
- In instructor mode an item's score includes its hidden cases; `visibility` (e.g.
  `after_published`) keeps those tests, and so the score, from students until grades are
  published. A notebook that fails to run says nothing about hidden cases and stays visible, as a
  pre-submission check.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from grader.reports import one_report, write_json_data
from grader.results import ItemResult, Report

Visibility = Literal["visible", "after_due_date", "after_published", "hidden"]
VISIBILITIES: tuple[Visibility, ...] = ("visible", "after_due_date", "after_published", "hidden")


def _always_visible(item: ItemResult) -> bool:
    """Items whose result needs no hidden case: whether a notebook runs at all."""
    return item.id.startswith("notebook:")


def results_json(report: Report, visibility: Visibility = "visible", seconds: float | None = None) -> dict[str, Any]:
    automatic = [i for i in report.items if i.status != "manual"]
    held = visibility if report.mode == "instructor" else "visible"
    tests = []
    for number, item in enumerate(automatic, start=1):
        tests.append(
            {
                "name": f"{item.id}: {item.title}",
                "number": str(number),
                "score": item.points,
                "max_score": item.max_points,
                "status": "passed" if item.status == "pass" else "failed",
                "output": item.message or "passed",
                "visibility": "visible" if _always_visible(item) else held,
                "tags": [item.status],
            }
        )
    score = round(sum(i.points for i in automatic), 6)
    most = sum(i.max_points for i in automatic)
    lines = [f"{report.assignment}: {score:g} / {most:g} from the automatic checks, graded in {report.mode} mode."]
    manual = len(report.items) - len(automatic)
    if manual:
        lines.append(f"{manual} question(s) are graded by a person, in Gradescope.")
    if held != "visible":
        lines.append(
            "The results include hidden cases and are shown when grades are "
            + {"after_due_date": "due.", "after_published": "published.", "hidden": "released by the staff."}[held]
        )
    data: dict[str, Any] = {
        "score": score,
        "output": " ".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    if seconds is not None:
        data["execution_time"] = round(seconds)
    return data


def write_results_json(
    reports: Sequence[Report], path: Path, visibility: Visibility = "visible", seconds: float | None = None
) -> None:
    """The `results.json` Gradescope reads: one submission's."""
    write_json_data(results_json(one_report(reports, "Gradescope's results.json"), visibility, seconds), path)
