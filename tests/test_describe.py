"""A wrong value's message says where it differs and how: the first wrong entry, how many are
wrong, and the pattern when one explains them all."""

from __future__ import annotations

import numpy as np
import pytest

from grader.compare import compare_gradient, compare_value

W = np.arange(1.0, 13.0).reshape(3, 4)


def message(got: object, want: object = W) -> str:
    problem = compare_value("out", got, want, 1e-8)
    assert problem is not None
    return problem.message


@pytest.mark.parametrize(
    ("got", "says"),
    [
        (2 * W, "out[0, 0]: got 2, expected 1; 12 of 12 entries differ; every entry is 2 times the expected one"),
        (-W, "every entry has the opposite sign"),
        (W + 0.5, "every entry is off by the same +0.5"),
        (np.where(W == 7, 0.3, W), "out[1, 2]: got 0.3, expected 7; 1 of 12 entries differ"),
    ],
)
def test_a_wrong_array_says_where_and_how(got: np.ndarray, says: str) -> None:
    text = message(got)
    assert text.startswith("out is off: relative error ") and says in text


def test_one_wrong_entry_has_no_pattern_and_one_number_none() -> None:
    assert message(np.where(W == 7, 0.3, W)).endswith("1 of 12 entries differ")
    assert message(2.3, 2.1).endswith("; got 2.3, expected 2.1")


def test_a_transposed_array_is_named() -> None:
    problem = compare_value("dW", W.T.copy(), W, 1e-8)
    assert problem is not None and problem.message == (
        "dW has shape (4, 3); expected (3, 4): it is the transpose of the expected array"
    )


def test_values_that_overflow_still_get_a_description() -> None:
    got = W.copy()
    got[0, 1] = 1e308 * 10  # inf: reported as such before any description
    assert "contains inf" in message(got)
    tiny = np.full((2, 2), 1e-20)
    assert "entries differ" in message(tiny + 1, tiny)


def test_a_gradient_of_zero_against_round_off_is_close_and_a_real_difference_is_not() -> None:
    noise = np.array([[1e-11, -3e-12], [0.0, 2e-11]])
    assert compare_gradient("db", np.zeros((2, 2)), noise) is None
    assert compare_gradient("db", np.zeros((2, 2), dtype=int), noise) is None
    wrong = compare_gradient("dW", np.ones((2, 2)), np.full((2, 2), 2.0))
    assert wrong is not None and wrong.code == "value" and "0.5 times the expected" in wrong.message
    nan = compare_gradient("dW", np.array([np.nan, 0.0]), np.zeros(2))
    assert nan is not None and nan.code == "nonfinite"
    # A sampled numerical gradient is NaN where it was not estimated: only the estimated entries count.
    assert compare_gradient("dW", np.array([1.0, 5.0]), np.array([1.0, np.nan])) is None
    shape = compare_gradient("dW", np.zeros(3), np.zeros(2))
    assert shape is not None and shape.code == "shape"
