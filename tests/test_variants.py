"""Variants of the reference a rubric names: an accepted alternative passes only when it matches on
every case, a known mistake is named only when it explains every failing case, and a rubric or a
reference that gets a variant wrong is refused with a message naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bugs import materialize
from conftest import ROOT

from grader import engine, rubric, variants
from grader.engine import grade, load_assignment
from grader.options import GradeOptions
from grader.project import Layout
from grader.results import CaseRun, ChildResult
from grader.scoring import score_item

NNDL = rubric.load(ROOT / "reference" / "nndl" / "rubric.toml")
RMSPROP = next(i for i in NNDL.items if i.id == "nndl.optim:rmsprop")
NESTEROV = next(i for i in NNDL.items if i.id == "nndl.optim:sgd_nesterov_momentum")


def case(item: Any, got: float, want: float, variant: float, label: str = "public case 1") -> CaseRun:
    """One case of a one-part-per-config optimizer item, every output a constant array."""

    def outputs(value: float) -> dict[str, Any]:
        return {part: np.full((2, 2), value) for part in item.parts}

    (name,) = [v.name for v in item.variants]
    returned = ChildResult("ok", {"returned": outputs(got), "modified": []})
    return CaseRun(label, returned, outputs(want), "public", {name: outputs(variant)})


def test_an_accepted_alternative_passes_with_a_note_in_student_mode(tmp_path: Path) -> None:
    # Student mode has no reference: the alternative's outputs come from the fixtures.
    layout = Layout(ROOT, "nndl")
    submission = materialize("passes_rmsprop_epsilon_outside_the_square_root", tmp_path / "s")
    report = grade(submission, load_assignment(layout.fixtures, None), GradeOptions(notebooks=False))
    (item,) = [i for i in report.items if i.id == RMSPROP.id]
    assert (item.points, item.status) == (item.max_points, "pass")
    assert "accepted alternative 'epsilon outside the square root'" in item.message


def test_an_alternative_must_match_on_every_case() -> None:
    # Right by the alternative on one case and by the reference on another, where the two differ.
    runs = [case(RMSPROP, 2.0, 1.0, 2.0), case(RMSPROP, 3.0, 3.0, 4.0, "public case 2")]
    result = score_item(RMSPROP, runs, True, 10)
    assert result.points < result.max_points and "accepted alternative" not in result.message
    assert score_item(RMSPROP, [case(RMSPROP, 2.0, 1.0, 2.0), case(RMSPROP, 4.0, 3.0, 4.0)], True, 10).status == "pass"


def test_a_mistake_is_named_only_when_it_explains_every_failing_case() -> None:
    explained = score_item(NESTEROV, [case(NESTEROV, 2.0, 1.0, 2.0), case(NESTEROV, 5.0, 3.0, 5.0)], True, 10)
    assert "known mistake, plain momentum, no look-ahead" in explained.message
    partly = score_item(NESTEROV, [case(NESTEROV, 2.0, 1.0, 2.0), case(NESTEROV, 6.0, 3.0, 5.0)], True, 10)
    assert partly.points == 0.0 and "known mistake" not in partly.message
    # A right answer is never called a mistake, even where the mistake gives the same output.
    assert score_item(NESTEROV, [case(NESTEROV, 1.0, 1.0, 1.0)], True, 10).message == ""


def _item_with(variant: str) -> str:
    return f"""
[assignment]
name = "toy"
student_packages = ["toy"]
[[item]]
id = "toy.mod:f"
kind = "compare"
points = 1
params = ["x"]
returns = ["out"]
compare = ["out"]
[[item.case]]
x = {{randn = [2]}}
{variant}
"""


@pytest.mark.parametrize(
    ("variant", "error"),
    [
        ('[[item.variant]]\nname = "a"\nsays = "b"\nfile = "m.py"\nold = "x"\nnew = "x"', "old and new are the same"),
        ('[[item.variant]]\nname = "a"\nsays = "b"\nfile = "m.py"\nold = "x"', "new must be a non-empty string"),
        ('[[item.variant]]\nname = "a"\nsays = "b"\nfile = "m.py"\nold = "x"\nnew = "y"\nwhy = 1', "unknown key 'why'"),
        ('[[item.variant]]\nname = "a"\nsays = "b"\nfile = "../m.py"\nold = "x"\nnew = "y"', "inside the reference"),
        (
            '[[item.variant]]\nname = "a"\nsays = "b"\nfile = "m.py"\nold = "x"\nnew = "y"\naccepted = "yes"',
            "accepted must be true or false",
        ),
    ],
)
def test_a_wrong_variant_in_the_rubric_is_refused_by_name(tmp_path: Path, variant: str, error: str) -> None:
    path = tmp_path / "rubric.toml"
    path.write_text(_item_with(variant))
    with pytest.raises(rubric.RubricError, match=error):
        rubric.load(path)


def test_a_variant_whose_text_is_not_in_the_reference_once_is_refused(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "m.py").write_text("a = 1\na = 1\n")
    twice = variants.Variant("v", False, "says", "m.py", "a = 1", "a = 2")
    with pytest.raises(variants.VariantError, match=r"occurs 2 times in m\.py"):
        variants.make(reference, twice, tmp_path / "copy")
    once = variants.Variant("v", False, "says", "m.py", "a = 1\na", "b = 1\na")
    made = variants.make(reference, once, tmp_path / "copy")
    assert (made / "m.py").read_text() == "b = 1\na = 1\n" and (reference / "m.py").read_text() == "a = 1\na = 1\n"


def test_a_variant_that_fails_a_hidden_case_is_a_grader_error_naming_it() -> None:
    """The variants' answers to the hidden cases are reference code: one that fails is the grader's
    fault, which costs the student nothing, and says which variant failed."""
    layout = Layout(ROOT, "nndl")
    assignment = load_assignment(layout.fixtures, layout.reference)
    item = assignment.rubric.item(RMSPROP.id)
    plans, hidden_work = engine._plan(assignment, "a seed", (item,))
    hidden = len(hidden_work[0][1])
    ok = ChildResult("ok", {"returned": {p: np.zeros(2) for p in item.parts}, "modified": []})
    (variant,) = item.variants
    reference = {
        item.id: [ok] * hidden,
        variants.answers_key(item.id, variant): [ok, ChildResult("exception", meta={"message": "NameError: x"})],
    }
    student = {item.id: [ok] * len(plans[item.id])}
    (result,) = engine._score_code(assignment, plans, student, reference, (item,), layout.reference, None, [], {})
    assert result.status == "grader_error" and result.points == 0
    assert f"the rubric's variant {variant.name!r} of the reference solution failed hidden case 2" in result.message
    assert "not your fault" in result.message
