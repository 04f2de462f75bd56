"""Gradescope's autograder `results.json`, so a course can run `grade` inside Gradescope.

Format (Gradescope's autograder specification): a top-level `score` (or per-test
scores), `output`, `tests` with `name`, `score`, `max_score`, `status`
("passed"/"failed"), `output` and `visibility`. Gradescope adds up the tests' scores
when `score` is absent; we give it explicitly, the same total as our report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.reports import one_report, write_json_data
from grader.results import Report


def results_json(report: Report) -> dict[str, Any]:
    tests = []
    for number, item in enumerate(report.items, start=1):
        tests.append(
            {
                "name": f"{item.id}: {item.title}",
                "number": str(number),
                "score": item.points,
                "max_score": item.max_points,
                "status": "passed" if item.status == "pass" else "failed",
                "output": item.message or "passed",
                "visibility": "visible",
                "tags": [item.status],
            }
        )
    return {
        "score": report.total,
        "output": f"{report.assignment}: {report.total:g} / {report.max_total:g}, graded in {report.mode} mode",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_results_json(reports: Sequence[Report], path: Path) -> None:
    """The `results.json` Gradescope reads: one submission's."""
    write_json_data(results_json(one_report(reports, "Gradescope's results.json")), path)
