"""The bundled example the README's first command grades: every kind of result at once, and stable."""

from __future__ import annotations

import pytest
from bugs import TEST_SEED, check_golden
from conftest import ROOT

from grader.engine import grade, load_assignment
from grader.options import GradeOptions
from grader.project import Layout


def test_example_submission_shows_every_kind_of_result(request: pytest.FixtureRequest) -> None:
    layout = Layout(ROOT, "nndl")
    report = grade(
        ROOT / "examples" / "nndl_submission",
        load_assignment(layout.fixtures, layout.reference),
        GradeOptions(hidden_seed=TEST_SEED),
    )
    assert not report.grader_faults, report.grader_faults[0].message
    assert {"pass", "partial", "fail", "not_attempted"} <= {i.status for i in report.items}
    assert 0 < report.total < report.max_total
    check_golden(
        ROOT / "tests" / "data" / "example_report.json", report.to_dict(), request.config.getoption("--regen-golden")
    )
