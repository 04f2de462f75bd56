"""Every course through the same engine: the reference earns full marks and the untouched template none.

nndl has deeper tests of its own (test_grade.py); this file holds every assignment to the
same two directions, with notebooks, in both modes.
"""

from __future__ import annotations

import pytest
from bugs import TEST_SEED
from conftest import ROOT
from recording import graded_reference, loaded

from grader.engine import grade
from grader.options import GradeOptions
from grader.project import Layout, assignments

COURSES = [name for name in assignments(ROOT) if name != "nndl"]


@pytest.mark.parametrize("mode", ["student", "instructor"])
@pytest.mark.parametrize("name", COURSES)
def test_reference_scores_full_marks(name: str, mode: str) -> None:
    assignment = loaded(name, mode)
    report, _ = graded_reference(name, mode)  # through a recording backend, which changes no grade
    assert report.mode == mode
    manual = {i.id for i in assignment.rubric.items if i.kind == "manual"}
    assert [i for i in report.items if i.status != "pass" and i.id not in manual] == []
    assert all(
        i.status == "manual" and i.message.startswith("answer for a human") for i in report.items if i.id in manual
    )
    assert report.total == report.max_total - sum(assignment.rubric.item(i).points for i in manual)
    assert not [n for n in report.notes if n.startswith("flag:")]


@pytest.mark.parametrize("mode", ["student", "instructor"])
@pytest.mark.parametrize("name", COURSES)
def test_untouched_template_scores_zero_without_errors(name: str, mode: str) -> None:
    """Zero everywhere, and every loss explained as unfinished work, never as a grader error."""
    assignment = loaded(name, mode)
    report = grade(Layout(ROOT, name).template, assignment, GradeOptions(hidden_seed=TEST_SEED))
    assert report.total == 0
    fingerprinted = set(assignment.manifest["template_fingerprints"])
    for item in report.items:
        kind = assignment.rubric.item(item.id).kind
        if item.id in fingerprinted:
            assert (item.status, item.message.split(":")[0]) == ("not_attempted", "not attempted"), item
        elif kind == "manual":
            assert (item.status, item.message) == ("manual", "unanswered"), item
        else:  # notebooks that stop at the first unfinished function, objects they never define
            assert item.status == "fail" and item.message, item
