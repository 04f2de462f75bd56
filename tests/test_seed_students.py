"""The student code printed in seeds 001 and 002 is graded the way a careful TA would grade it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bugs import TEST_SEED, check_golden
from conftest import ROOT

from grader.engine import grade, load_assignment
from grader.options import GradeOptions
from grader.project import Layout

# item -> (status, why a TA agrees)
EXPECTED = {
    "nndl.layers:affine_backward": ("partial", "db keeps a leading axis: (1, M) instead of (M,)"),
    "nndl.layers:relu_backward": ("fail", "dx = dout; dx[x <= 0] = 0 overwrites the caller's dout"),
    "nndl.layers:dropout_forward": ("fail", "a random mask is applied at test time"),
    # Right in itself: the write into dout is its relu_backward's, which loses its points for it.
    "nndl.layer_utils:affine_relu_backward": ("pass", "dout is written into by its own relu_backward"),
    "nndl.layer_utils:affine_batchnorm_relu_forward": ("not_attempted", "not printed in the seeds"),
    "nndl.layer_utils:affine_batchnorm_relu_backward": ("not_attempted", "not printed in the seeds"),
    "nndl.neural_net:TwoLayerNet.loss": ("partial", "bias gradients include reg * b; scores and loss are right"),
    # Its own code is right: it passes on the (1, M) bias gradients its affine_backward gives, which
    # lose their points there (a bug costs points once).
    "nndl.fc_net:TwoLayerNet.loss": ("pass", "right for what its own affine_backward computed"),
    "nndl.fc_net:FullyConnectedNet.__init__": ("fail", "the HW3 version has no gamma/beta for batch norm"),
    "nndl.fc_net:FullyConnectedNet.loss": ("fail", "the HW3 version has no batch norm or dropout"),
    "nndl.optim:adam": ("not_attempted", "not printed in the seeds"),
}


def test_seed_student_code_is_graded_like_a_careful_ta(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    submission = tmp_path / "seed_students"
    shutil.copytree(ROOT / "tests" / "seed_students", submission, ignore=shutil.ignore_patterns("*.md"))
    shutil.copytree(ROOT / "reference" / "nndl" / "utils", submission / "utils")
    layout = Layout(ROOT, "nndl")
    report = grade(
        submission,
        load_assignment(layout.fixtures, layout.reference),
        GradeOptions(hidden_seed=TEST_SEED, notebooks=False),
    )
    got = {i.id: i.status for i in report.items}
    for item_id, (status, why) in EXPECTED.items():
        assert got[item_id] == status, f"{item_id}: {got[item_id]} ({why})"
    others = {i: s for i, s in got.items() if i not in EXPECTED}
    assert set(others.values()) == {"pass"}, others
    # This network calls affine_backward and relu_backward but none of the sandwich layers (its loops
    # are its own): its note names what it called, not the rubric's list of what a network may call
    # (which reaches relu_backward through the sandwich layers the rubric names).
    network = next(i.message for i in report.items if i.id == "nndl.fc_net:FullyConnectedNet.loss")
    assert "(This calls affine_backward, relu_backward, which lost points too" in network
    assert "affine_relu_backward" not in network and "affine_batchnorm_relu" not in network
    check_golden(
        ROOT / "tests" / "data" / "seed_students_report.json",
        report.to_dict(),
        request.config.getoption("--regen-golden"),
    )
