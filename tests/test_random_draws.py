"""Outputs decided by random draws are judged by what the draws must do, not by which numbers were
drawn: a dropout mask by its scale and kept fraction; a network's dropout case by the student's own
network, as the course's notebook judges it. A correct draw of another kind loses nothing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import toy_rubric

from grader import rubric
from grader.compare import compare_mask

P = 0.7
X = np.random.default_rng(0).normal(5.0, 1.0, size=(50, 40))


def dropout(keep: np.ndarray, scale: float = 1 / P) -> np.ndarray:
    return X * keep * scale


REFERENCE = dropout(np.random.default_rng(1).random(X.shape) < P)


def test_any_mask_with_the_reference_s_scale_and_rate_passes() -> None:
    assert compare_mask("out", REFERENCE, X, REFERENCE, 1e-7) is None
    other = dropout(np.random.default_rng(2).random(X.shape) > 1 - P)
    assert not np.allclose(other, REFERENCE)
    assert compare_mask("out", other, X, REFERENCE, 1e-7) is None


def test_a_mask_keeping_the_wrong_fraction_fails_with_both_rates() -> None:
    problem = compare_mask("out", dropout(np.random.default_rng(2).random(X.shape) < 1 - P), X, REFERENCE, 1e-7)
    assert problem is not None and problem.code == "value"
    assert re.match(r"out keeps 3\d\.\d% of the entries; the reference keeps 7\d\.\d%", problem.message)


def test_kept_entries_scaled_wrong_fail_with_the_factor() -> None:
    keep = np.random.default_rng(2).random(X.shape) < P
    problem = compare_mask("out", dropout(keep, 1 / (1 - P)), X, REFERENCE, 1e-7)
    assert problem is not None and problem.pattern == "factor"
    assert "should be the input times 1.42857" in problem.message and "the input times 3.33333" in problem.message
    # no dropout at all: every entry kept, none scaled
    assert compare_mask("out", X, X, REFERENCE, 1e-7) is not None


def test_one_mask_for_every_row_fails() -> None:
    row = np.random.default_rng(2).random(X.shape[1]) < P
    problem = compare_mask("out", dropout(np.broadcast_to(row, X.shape)), X, REFERENCE, 1e-7)
    assert problem is not None and "drops the same entries for every example" in problem.message


def test_where_the_reference_drops_nothing_the_output_must_equal_it() -> None:
    assert compare_mask("out", X, X, X, 1e-7) is None
    problem = compare_mask("out", dropout(np.random.default_rng(2).random(X.shape) < P), X, X, 1e-7)
    assert problem is not None and problem.message.startswith("out is off: relative error")


def test_a_wrong_shape_is_reported_as_such() -> None:
    problem = compare_mask("out", REFERENCE[:, :3], X, REFERENCE, 1e-7)
    assert problem is not None and problem.code == "shape"


@pytest.mark.parametrize(
    ("keys", "case", "error"),
    [
        ('random_mask = {out = "y"}', "", "random_mask maps a compared output to a parameter, not 'out' to 'y'"),
        ('random_mask = {dx = "x"}', "", "random_mask maps a compared output to a parameter, not 'dx' to 'x'"),
        ("", 'self_check = ["dx"]', "item 'toy.ops:f', case 1: self_check must be a list of the item's parts (out)"),
    ],
)
def test_the_rubric_refuses_keys_that_name_nothing(tmp_path: Path, keys: str, case: str, error: str) -> None:
    path = toy_rubric.write(tmp_path, params=("x", "p"), keys=keys, cases=(f"x = {{randn = [2]}}\np = 0.5\n{case}",))
    with pytest.raises(rubric.RubricError, match=re.escape(error)):
        rubric.load(path)


def test_a_case_s_self_check_key_is_not_an_input(tmp_path: Path) -> None:
    case = 'x = {randn = [2]}\np = 0.5\nself_check = ["out"]'
    item = rubric.load(toy_rubric.write(tmp_path, params=("x", "p"), cases=(case,))).items[0]
    assert set(item.cases[0]) == {"x", "p"}
    assert item.own_parts(1) == ("out",) and item.own_parts(2) == () and item.own_parts(0) == ()
