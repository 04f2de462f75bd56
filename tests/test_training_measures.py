"""A training run is judged by what it must achieve, measured by the probe: the sizes of the
minibatches its loss saw and the loss of the parameters it leaves behind, not the history alone."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from grader import kinds, rubric
from grader.compare import compare_best_val_accuracy, compare_minibatches, compare_trained_loss, spread_ceiling


def test_minibatches_of_another_size_or_number_fail_saying_which() -> None:
    assert compare_minibatches("minibatch_sizes", np.full(10, 200), np.full(10, 200)) is None
    wrong = compare_minibatches("minibatch_sizes", np.array([200, 4, 4]), np.full(3, 200))
    assert wrong is not None and wrong.message.startswith("minibatch 2 has 4 examples; expected 200 (batch_size)")
    fewer = compare_minibatches("minibatch_sizes", np.full(5, 200), np.full(10, 200))
    assert (
        fewer is not None and fewer.code == "shape" and "on 5 minibatches; expected one per update, 10" in fewer.message
    )


# The reference's [before, after] under five seeds from the same start (cs260's public case).
RUNS = [[2.3023, 2.0452], [2.3023, 2.0510], [2.3023, 2.0404], [2.3023, 2.0376], [2.3023, 2.0533]]


def test_the_trained_parameters_must_reach_within_the_reference_s_spread_over_seeds() -> None:
    """Mean 2.0455, sample standard deviation 0.00657: at most 2.0455 + 7.173 * 0.00657 * sqrt(1.2)
    + 0.001 = 2.0992, the 99.9% prediction bound for five runs."""
    assert compare_trained_loss("trained_loss", [2.3023, 2.0533], RUNS) is None  # like our worst seed
    assert compare_trained_loss("trained_loss", [2.3023, 2.0990], RUNS) is None
    slow = compare_trained_loss("trained_loss", [2.3023, 2.1010], RUNS)
    assert slow is not None and slow.message.startswith(
        "training brings the loss on the training set from 2.302 to 2.101; from the same start ours reaches "
        "2.038 to 2.053 under 5 seeds, and yours must reach at most 2.099"
    )
    assert compare_trained_loss("trained_loss", [2.3023, float("nan")], RUNS) is not None


def test_a_correct_run_from_the_same_spread_fails_once_in_a_thousand() -> None:
    """Another run of the reference's distribution (normal here), judged against five: the bound is
    meant to fail it with probability 0.001. 50,000 seeded trials; the worst run plus the range,
    the rule before, failed 1.5% of them."""
    rng = np.random.default_rng(3)
    runs, new = rng.standard_normal((50_000, 5)), rng.standard_normal(50_000)
    failed = sum(value > spread_ceiling(five) for five, value in zip(runs, new))
    assert 25 <= failed <= 90  # 50 expected; 25 and 90 are about 3.5 standard deviations of a count


def test_a_model_that_never_trains_fails_where_training_barely_improves() -> None:
    """On random labels training moves the loss by a tenth: a 50% slack let a model that never
    updated pass; the reference's own spread does not."""
    still = compare_trained_loss("trained_loss", [2.3023, 2.3023], RUNS)
    assert still is not None and "are the updates applied to the model's own parameters?" in still.message


def test_one_reference_run_allows_only_rounding() -> None:
    assert compare_trained_loss("trained_loss", [1.1, 0.0205], [[1.1, 0.02]]) is None
    assert compare_trained_loss("trained_loss", [1.1, 0.0215], [[1.1, 0.02]]) is not None


def _toy(tmp_path: Path, probe: str, compare: list[str], seeds: int = 1) -> Path:
    """A one-item rubric of the model kind."""
    path = tmp_path / "rubric.toml"
    path.write_text(
        f"""
[assignment]
name = "toy"
[[item]]
id = "toy.net:Net.{probe}"
points = 1
kind = "model"
probe = "{probe}"
compare = {compare!r}
seeds = {seeds}
[[item.case]]
X = {{randn = [2, 3]}}
""".replace("'", '"')
    )
    return path


def test_training_measures_belong_to_training_items(tmp_path: Path) -> None:
    path = _toy(tmp_path, "loss", ["loss", "minibatch_sizes"])
    with pytest.raises(rubric.RubricError, match=re.escape("minibatch_sizes, trained_loss are measures of a training")):
        rubric.load(path)


def test_seeds_are_training_runs_of_the_reference(tmp_path: Path) -> None:
    path = _toy(tmp_path, "loss", ["loss"], seeds=3)
    with pytest.raises(rubric.RubricError, match="seeds is the number of training runs of the reference"):
        rubric.load(path)


def test_the_build_refuses_training_too_noisy_to_tell_from_none(tmp_path: Path) -> None:
    """A reference whose runs over seeds spread so far that staying at the start would pass."""
    item = rubric.load(_toy(tmp_path, "train", ["loss_history", "trained_loss"], seeds=5)).items[0]
    model = kinds.get("model")
    # Bounds 2.095 and 4.84 (mean + 7.173 * s * sqrt(1.2) + 0.001) against a start of 2.3.
    steady = {"trained_loss": [2.3, 2.0], "trained_loss@seeds": [[2.3, v] for v in (2.02, 1.99, 2.01, 2.0)]}
    assert model.reference_problems(item, steady) == []
    noisy = {"trained_loss": [2.3, 1.5], "trained_loss@seeds": [[2.3, v] for v in (2.25, 1.2, 1.9, 1.6)]}
    (problem,) = model.reference_problems(item, noisy)
    assert problem.startswith("trained_loss: the reference's runs under 5 seeds end between 1.2 and 2.25")
    history = np.stack([np.linspace(2.3, 0.3, 20)] * 5)
    assert model.reference_problems(item, {"loss_history": history[0], "loss_history@seeds": history[1:]}) == []


def test_the_best_parameters_returned_must_give_the_best_validation_accuracy() -> None:
    """[accuracy of the parameters returned as the best, best accuracy in the history]."""
    assert compare_best_val_accuracy("best_val_accuracy", [0.3, 0.3]) is None
    final = compare_best_val_accuracy("best_val_accuracy", [0.1, 0.3])
    assert final is not None and final.message.startswith(
        "the parameters training returned as the best give 10.0% on the validation set; the best validation "
        "accuracy in its history is 30.0%: keep a copy (.copy())"
    )
    none = compare_best_val_accuracy("best_val_accuracy", [float("nan"), 0.3])
    assert none is not None and "not a copy of every parameter of the network" in none.message
    # A run whose validation accuracy never rose above 0 kept nothing, as the course's loop does.
    assert compare_best_val_accuracy("best_val_accuracy", [float("nan"), 0.0]) is None
    assert compare_best_val_accuracy("best_val_accuracy", []) is not None


def test_the_build_refuses_a_reference_whose_best_parameters_are_not_its_best(tmp_path: Path) -> None:
    item = rubric.load(_toy(tmp_path, "train", ["loss_history", "best_val_accuracy"], seeds=3)).items[0]
    history = np.stack([np.linspace(2.3, 0.3, 20)] * 3)
    runs = {"loss_history": history[0], "loss_history@seeds": history[1:]}
    assert kinds.get("model").reference_problems(item, {**runs, "best_val_accuracy": [0.4, 0.4]}) == []
    (problem,) = kinds.get("model").reference_problems(item, {**runs, "best_val_accuracy": [0.2, 0.4]})
    assert problem.startswith("best_val_accuracy: the parameters training returned as the best give 20.0%")
