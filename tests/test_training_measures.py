"""A training run is judged by what it must achieve, measured by the probe: the sizes of the
minibatches its loss saw and the loss of the parameters it leaves behind, not the history alone."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from grader import rubric
from grader.compare import compare_minibatches, compare_trained_loss


def test_minibatches_of_another_size_or_number_fail_saying_which() -> None:
    assert compare_minibatches("minibatch_sizes", np.full(10, 200), np.full(10, 200)) is None
    wrong = compare_minibatches("minibatch_sizes", np.array([200, 4, 4]), np.full(3, 200))
    assert wrong is not None and wrong.message.startswith("minibatch 2 has 4 examples; expected 200 (batch_size)")
    fewer = compare_minibatches("minibatch_sizes", np.full(5, 200), np.full(10, 200))
    assert (
        fewer is not None and fewer.code == "shape" and "on 5 minibatches; expected one per update, 10" in fewer.message
    )


def test_the_trained_parameters_must_reach_near_the_reference_s_loss() -> None:
    """[loss before training, loss after], the reference's from the same start."""
    assert compare_trained_loss("trained_loss", [1.1, 0.029], [1.1, 0.02], 0.5) is None
    untrained = compare_trained_loss("trained_loss", [1.1, 1.12], [1.1, 0.02], 0.5)
    assert untrained is not None and "have a loss of 1.12 on the training set; ours reach 0.02" in untrained.message
    assert compare_trained_loss("trained_loss", [1.1, float("nan")], [1.1, 0.02], 0.5) is not None


def test_a_loose_slack_does_not_let_a_model_that_never_trains_pass() -> None:
    """On a problem training barely improves (random labels), staying at the start is within 50% of
    the reference's end: it must still come down at least half as far as the reference."""
    still = compare_trained_loss("trained_loss", [2.302, 2.302], [2.302, 2.045], 0.5)
    assert still is not None and "must come down at least half as far" in still.message
    assert compare_trained_loss("trained_loss", [2.302, 2.15], [2.302, 2.045], 0.5) is None
    # Where ours does not come down either, there is nothing to come down from.
    assert compare_trained_loss("trained_loss", [2.302, 2.302], [2.302, 2.3015], 0.5) is None


RUBRIC = """
[assignment]
name = "toy"
[[item]]
id = "toy.net:Net.loss"
points = 1
kind = "model"
probe = "loss"
compare = ["loss", "minibatch_sizes"]
[[item.case]]
X = {randn = [2, 3]}
"""


def test_training_measures_belong_to_training_items(tmp_path: Path) -> None:
    path = tmp_path / "rubric.toml"
    path.write_text(RUBRIC)
    with pytest.raises(rubric.RubricError, match=re.escape("minibatch_sizes, trained_loss are measures of a training")):
        rubric.load(path)
