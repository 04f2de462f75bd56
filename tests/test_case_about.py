"""A case's `about` is what a student reads of it in every message: "public case 2 (with
regularization)", and for a hidden case the public case it was drawn like."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import toy_rubric

from grader import rubric
from grader.engine import _cases
from grader.results import CaseRun, ChildResult
from grader.scoring import score_item


def _item(tmp_path: Path, about: str = '"with regularization"', compare: tuple[str, ...] = ("out",)) -> rubric.Item:
    cases = ("x = {randn = [2]}\nreg = 0.0", f"about = {about}\nx = {{randn = [2]}}\nreg = 0.5")
    return rubric.load(toy_rubric.write(tmp_path, params=("x", "reg"), compare=compare, cases=cases)).items[0]


def test_about_describes_a_case_and_is_not_one_of_its_inputs(tmp_path: Path) -> None:
    item = _item(tmp_path)
    assert [set(c) for c in item.cases] == [{"x", "reg"}, {"x", "reg"}]
    assert (item.about(1), item.about(2), item.about(3)) == ("", "with regularization", "")


def test_labels_name_the_case_and_the_public_case_a_hidden_one_was_drawn_like(tmp_path: Path) -> None:
    item = _item(tmp_path)
    public = _cases(item, "public", [{}, {}])
    assert [c.label for c in public] == ["public case 1", "public case 2 (with regularization)"]
    hidden = _cases(item, "hidden", [{}, {}, {}, {}], per_case=2)
    assert [c.label for c in hidden] == [
        "hidden case 1 (drawn like public case 1)",
        "hidden case 2 (drawn like public case 1)",
        "hidden case 3 (drawn like public case 2: with regularization)",
        "hidden case 4 (drawn like public case 2: with regularization)",
    ]
    assert [c.number for c in hidden] == [1, 1, 2, 2]


@pytest.mark.parametrize("about", ['"""two\nlines"""', "3", '"' + "x" * 121 + '"'])
def test_an_about_that_is_not_one_short_line_is_refused(tmp_path: Path, about: str) -> None:
    with pytest.raises(rubric.RubricError, match=re.escape("item 'toy.ops:f', case 2: about must be one line of text")):
        _item(tmp_path, about)


def test_every_wrong_part_is_described_not_only_the_first(tmp_path: Path) -> None:
    item = _item(tmp_path, compare=("out", "dx"))
    returned = {"out": np.array([1.0, 2.0]), "dx": np.array([3.0, 5.0])}
    expected = {"out": np.array([1.0, 2.5]), "dx": np.array([-3.0, -5.0])}
    run = CaseRun("public case 2 (with regularization)", ChildResult("ok", {"returned": returned}), expected, "public")
    message = score_item(item, [run], True, 10).message
    first, second = message.split("\n")
    assert first.startswith("public case 2 (with regularization): out is off") and first.endswith("(also wrong: dx)")
    assert second.startswith("public case 2 (with regularization): dx is off") and "opposite sign" in second
