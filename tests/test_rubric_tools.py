"""The rubric tools that let one engine grade every course: adapters, variants, speedups,
self-checked networks and training judged by its progress."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.compare import compare_history, compare_speedup
from grader.rubric import RubricError, load

HEAD = '[assignment]\nname = "t"\n\n'
GRADIENT = """[[item]]
id = "m:f{variant}"
kind = "model"
probe = "loss"
points = 1
{extra}
[[item.case]]
X = {{randn = [2, 3]}}
"""


def _rubric(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rubric.toml"
    path.write_text(HEAD + text)
    return path


def test_a_variant_id_grades_the_function_before_the_brackets(tmp_path: Path) -> None:
    rubric = load(_rubric(tmp_path, GRADIENT.format(variant="[relu]", extra="")))
    item = rubric.items[0]
    assert (item.module, item.qualname, item.slug) == ("m", "f", "m__f.relu")


@pytest.mark.parametrize("adapter", ["no_colon", "a:b:c", 3])
def test_an_adapter_must_name_module_and_function(tmp_path: Path, adapter: object) -> None:
    value = f'"{adapter}"' if isinstance(adapter, str) else str(adapter)
    with pytest.raises(RubricError, match=r"adapter must be 'package\.module:function'"):
        load(_rubric(tmp_path, GRADIENT.format(variant="", extra=f"adapter = {value}")))


def test_a_self_checked_model_compares_gradients_only(tmp_path: Path) -> None:
    """Scores and loss have no numerical counterpart: a self-check on them could never fail."""
    with pytest.raises(RubricError, match="compares grads only"):
        load(_rubric(tmp_path, GRADIENT.format(variant="", extra="self_check = true")))
    rubric = load(_rubric(tmp_path, GRADIENT.format(variant="", extra='self_check = true\ncompare = ["grads"]')))
    assert rubric.items[0].self_check


def test_speedup_below_the_factor_names_both_functions() -> None:
    problem = compare_speedup("fast", "slow", 3.2, 10)
    assert problem is not None and problem.message.startswith("fast is only 3.2 times faster than slow")
    assert compare_speedup("fast", "slow", 10.0, 10) is None
    assert compare_speedup("fast", "slow", float("nan"), 10).code == "type"


def test_a_history_must_end_within_the_reference_s_spread_over_seeds() -> None:
    runs = np.stack([np.linspace(2.3, end, 20) for end in (0.30, 0.34, 0.28, 0.32, 0.36)])
    # Tails (the mean of the last two entries, end + (2.3 - end) / 38) from 0.3332 to 0.4111, mean
    # 0.3721, sample standard deviation 0.03079: at most 0.3721 + 7.173 * 0.03079 * sqrt(1.2) + 0.001
    # = 0.6150 (the 99.9% prediction bound for five runs).
    assert compare_history("h", np.linspace(2.3, 0.40, 20), runs) is None  # tail 0.45
    assert compare_history("h", np.linspace(2.3, 0.56, 20), runs) is None  # tail 0.6058
    assert compare_history("h", np.linspace(2.3, 0.58, 20), runs) is not None  # tail 0.6253
    flat = compare_history("h", np.full(20, 2.3), runs)  # never stepped
    assert flat is not None and flat.code == "value"
    assert "ours reaches 0.3332 to 0.4111 under 5 seeds, and yours must reach at most 0.615" in flat.message
    assert compare_history("h", np.full(19, 0.1), runs).code == "shape"
    assert compare_history("h", np.r_[np.full(19, 1.0), np.nan], runs).code == "nonfinite"


def test_a_history_is_judged_on_the_last_tenth_not_one_noisy_minibatch() -> None:
    reference = np.r_[np.linspace(2.3, 0.5, 90), np.full(10, 0.5)]
    noisy = np.r_[np.linspace(2.3, 0.5, 90), [0.5] * 9, [0.505]]  # one bad last batch, mean of the tail 0.5005
    assert compare_history("h", noisy, [reference]) is None
    assert compare_history("h", np.r_[np.linspace(2.3, 0.5, 90), [0.6] * 10], [reference]) is not None
