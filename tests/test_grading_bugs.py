"""Each known student bug loses exactly the items it should, with the right status and message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from bugs import (
    TEST_SEED,
    assignment_of,
    bug_names,
    check_golden,
    golden_path,
    load_bug,
    materialize,
    touches_notebooks,
)
from conftest import ROOT

from grader.engine import Assignment, ReferenceAnswers, grade, load_assignment
from grader.options import GradeOptions
from grader.project import Layout


@pytest.fixture(scope="module")
def instructor() -> Callable[[str], Assignment]:
    """Instructor-mode assignments, loaded once per module."""
    loaded: dict[str, Assignment] = {}

    def get(name: str) -> Assignment:
        if name not in loaded:
            layout = Layout(ROOT, name)
            loaded[name] = load_assignment(layout.fixtures, layout.reference)
        return loaded[name]

    return get


@pytest.mark.parametrize("name", bug_names())
def test_bug_loses_exactly_its_items(
    name: str,
    tmp_path: Path,
    instructor: Callable[[str], Assignment],
    request: pytest.FixtureRequest,
    shared_answers: ReferenceAnswers,
) -> None:
    bug = load_bug(name)
    assignment = instructor(assignment_of(bug))
    submission = materialize(name, tmp_path / name)
    report = grade(
        submission,
        assignment,
        GradeOptions(hidden_seed=TEST_SEED, timeout_override=bug.get("timeout"), notebooks=touches_notebooks(bug)),
        answers=shared_answers,
    )
    # A written answer waits for a person: not a point lost to the bug.
    losers = {i.id for i in report.items if i.points < i.max_points and i.status != "manual"}
    assert losers == set(bug["loses"]), f"{name}: lost {sorted(losers)}"
    for item in report.items:
        if item.status == "manual":
            continue
        if item.id in losers:
            assert item.message, f"{item.id} lost points without a message"
        else:
            assert item.status == "pass", item
    # What the message must say of an item: a diagnosis, an accepted alternative, a carried-forward note.
    messages = {i.id: i.message for i in report.items}
    for item_id, text in bug.get("says", {}).items():
        assert text in messages[item_id], f"{name}: {item_id} does not say {text!r}: {messages[item_id]!r}"
    # What it must not say: a hint whose condition does not hold.
    for item_id, text in bug.get("never_says", {}).items():
        assert text not in messages[item_id], f"{name}: {item_id} says {text!r}: {messages[item_id]!r}"
    check_golden(golden_path(name), report.to_dict(), request.config.getoption("--regen-golden"))


@pytest.mark.parametrize("name", bug_names())
def test_bug_loses_exactly_its_items_in_student_mode(name: str, tmp_path: Path) -> None:
    """Student mode has no reference to run: its self-checks judge gradients against the student's
    own code. Every bug costs the same items there (`loses`, unless `student_loses` says otherwise
    and why), and never a right gradient's points."""
    bug = load_bug(name)
    if touches_notebooks(bug):
        pytest.skip("a bug in a notebook is graded in instructor mode only (its notebook's run is the cost)")
    layout = Layout(ROOT, assignment_of(bug))
    options = GradeOptions(notebooks=False, timeout_override=bug.get("timeout"))
    report = grade(materialize(name, tmp_path / name), load_assignment(layout.fixtures, None), options)
    assert report.mode == "student"
    losers = {i.id for i in report.items if i.points < i.max_points and i.status != "manual"}
    assert losers == set(bug.get("student_loses", bug["loses"])), f"{name}: lost {sorted(losers)} in student mode"
    messages = {i.id: i.message for i in report.items}
    for item_id, text in bug.get("student_never_says", {}).items():
        assert text not in messages[item_id], f"{name}: {item_id} says {text!r}: {messages[item_id]!r}"
