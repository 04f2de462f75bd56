"""Input forms a course's own tests need: its literal expressions (a transposed linspace, a reshaped
literal array) reproduced exactly, and labels of a learnable problem drawn from the case's own inputs,
with every class present in public and hidden cases alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import toy_rubric

from grader import inputs, rubric
from grader.cases import hidden_cases, public_cases


def _draw(case: dict, dims: dict[str, int]) -> dict:
    return inputs.draw_case(case, inputs.rng_for("test"), dims, "case")


def test_a_transposed_linspace_is_the_course_s_own_expression() -> None:
    D, N = 5, 3
    drawn = _draw({"X": {"linspace": [-0.1, 0.5], "shape": ["D", "N"], "transpose": True}}, {"D": D, "N": N})
    assert np.array_equal(drawn["X"], np.linspace(-0.1, 0.5, num=D * N).reshape(D, N).T)


def test_a_literal_array_reshaped_and_its_axes_permuted() -> None:
    drawn = _draw({"x": {"array": list(range(24)), "reshape": [2, 3, 4], "transpose": [2, 0, 1]}}, {})
    assert np.array_equal(drawn["x"], np.transpose(np.arange(24).reshape(2, 3, 4), [2, 0, 1]))
    assert _draw({"y": {"array": [0, 5, 1]}}, {})["y"].tolist() == [0, 5, 1]


def test_a_parameter_may_have_the_name_of_a_form() -> None:
    drawn = _draw({"value": {"randn": [2]}, "array": 3}, {})
    assert drawn["value"].shape == (2,) and drawn["array"] == 3


@pytest.mark.parametrize("classes, rows", [(2, 7), (3, 30), (10, 10)])
def test_labels_from_an_input_give_every_class_and_a_linearly_separable_problem(classes: int, rows: int) -> None:
    case = {"y": {"labels_from": "X", "classes": "C"}, "X": {"randn": ["N", "D"]}}
    drawn = _draw(case, {"N": rows, "D": 4, "C": classes})
    assert list(drawn) == ["y", "X"]  # the case's own order, though the labels were drawn last
    counts = np.bincount(drawn["y"], minlength=classes)
    assert counts.min() >= rows // classes and counts.max() <= -(-rows // classes)
    if classes == 2:  # two classes cut along one direction: a perceptron finds a separating plane
        X = np.hstack([drawn["X"], np.ones((rows, 1))])
        signs, w = 2 * drawn["y"] - 1, np.zeros(X.shape[1])
        for _ in range(100_000):
            wrong = np.flatnonzero(signs * (X @ w) <= 0)
            if not len(wrong):
                break
            w += signs[wrong[0]] * X[wrong[0]]
        assert np.all(signs * (X @ w) > 0)


@pytest.mark.parametrize(
    "case, message",
    [
        ({"y": {"labels_from": "Z"}, "X": {"randn": [4, 2]}}, "labels_from = 'Z' must name an array input"),
        ({"y": {"labels_from": "X", "scale": 2}, "X": {"randn": [4, 2]}}, "labels_from takes only `classes`"),
        ({"x": {"randn": [2], "transpose": "yes"}}, "transpose is true or a list of axes"),
    ],
)
def test_a_wrong_form_is_named(case: dict, message: str) -> None:
    with pytest.raises(inputs.SpecError, match=message):
        _draw(case, {})


def test_an_item_s_public_and_hidden_cases_have_every_class(tmp_path: Path) -> None:
    path = toy_rubric.write(
        tmp_path,
        params=("X", "y"),
        keys="dims = {N = 6, D = 3}\nhidden_dims = {N = [4, 12], D = [2, 5]}",
        cases=('X = {randn = ["N", "D"]}\ny = {labels_from = "X", classes = 2}',),
    )
    item = rubric.load(path).items[0]
    drawn = [*public_cases("toy", item), *hidden_cases("toy", item, "seed", 5)]
    assert len(drawn) == 6
    for case in drawn:
        assert set(case["y"].tolist()) == {0, 1} and case["y"].shape == (case["X"].shape[0],)
