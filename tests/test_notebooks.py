"""Notebooks: executed headlessly in a sandboxed kernel; thresholds and answers scored by the grader."""

from __future__ import annotations

import base64
import csv
import pickle
import shutil
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from bugs import TEST_SEED
from conftest import ROOT, submission_on_path

from grader import cli
from grader.engine import grade, load_assignment
from grader.notebooks import execute
from grader.options import GradeOptions
from grader.project import Layout

LAYOUT = Layout(ROOT, "nndl")


def write_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


def test_error_cell_is_reported_with_its_cell_and_error(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "e.ipynb", "x = 1", "y = undefined_name + 1", "z = 3")
    run = execute(path, tmp_path, cell_timeout_s=30, timeout_s=60)
    assert run.status == "error"
    assert [(e.index, e.name, e.first_line) for e in run.errors] == [(1, "NameError", "y = undefined_name + 1")]
    assert "undefined_name" in run.errors[0].value


def test_infinite_loop_is_stopped_within_two_seconds_of_the_limit(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "loop.ipynb", "while True:\n    pass")
    started = time.monotonic()
    run = execute(path, tmp_path, cell_timeout_s=3, timeout_s=60)
    elapsed = time.monotonic() - started
    assert run.status == "timeout" and "ran longer than 3 s and was interrupted" in run.message
    assert elapsed < 3 + 2 + 1.5, elapsed  # the limit, the 2 s allowed, and the kernel's own start


def test_whole_notebook_limit(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "slow.ipynb", *["import time; time.sleep(1)"] * 10)
    started = time.monotonic()
    run = execute(path, tmp_path, cell_timeout_s=30, timeout_s=3)
    assert run.status == "timeout" and "within its 3 s limit" in run.message
    assert time.monotonic() - started < 3 + 2 + 1.5


def test_a_kernel_that_dies_is_reported_and_does_not_hang(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "die.ipynb", "import os\nos._exit(1)", "x = 1")
    run = execute(path, tmp_path, cell_timeout_s=30, timeout_s=60)
    assert run.status == "dead" and "died" in run.message


def test_corrupt_notebook_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [ this is not json')
    run = execute(path, tmp_path, cell_timeout_s=30, timeout_s=60)
    assert run.status == "invalid" and "not a readable notebook" in run.message


def test_figures_come_back_as_png(tmp_path: Path) -> None:
    path = write_notebook(
        tmp_path / "plot.ipynb", "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"
    )
    run = execute(path, tmp_path, cell_timeout_s=60, timeout_s=60)
    assert run.status == "ok"
    assert len(run.figures) == 1 and run.figures[0][1].startswith(b"\x89PNG\r\n\x1a\n")


def _edit_cell(
    path: Path, contains: str, new_source: str | None = None, tag_text: tuple[str, str] | None = None
) -> None:
    nb = nbformat.read(path, as_version=4)
    hits = [c for c in nb.cells if contains in c.source]
    assert len(hits) == 1, contains
    if new_source is not None:
        hits[0].source = new_source
    if tag_text is not None:
        hits[0].source = tag_text[1]
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def tricky_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One submission, graded once: a notebook that prints a high accuracy but saved poor weights,
    one that saved nothing, one answered and one unanswered question."""
    sub = tmp_path_factory.mktemp("tricky") / "tricky"
    shutil.copytree(LAYOUT.reference, sub, ignore=shutil.ignore_patterns("rubric.toml", "instructor"))
    _edit_cell(
        sub / "two_layer_nn.ipynb",
        "best_net = None",
        "best_net = TwoLayerNet(X_train.shape[1], 10, 10)\n"
        "print('Validation accuracy of best_net:  0.60')\nsave_for_grading('best_net', best_net)",
    )
    _edit_cell(sub / "FC_nets.ipynb", "save_for_grading('solver_model'", "solver_model = None  # trained, not saved")
    _edit_cell(sub / "BatchNormalization.ipynb", "**Answer:**", tag_text=("", "**Answer:** _Write your answer here._"))
    report = grade(sub, load_assignment(LAYOUT.fixtures, LAYOUT.reference), GradeOptions(hidden_seed=TEST_SEED))
    return {"report": report, "path": sub}


def _item(report: object, item_id: str):  # type: ignore[no-untyped-def]
    return next(i for i in report.items if i.id == item_id)  # type: ignore[attr-defined]


def test_printed_accuracy_is_not_evidence_saved_weights_are(tricky_report: dict[str, object]) -> None:
    item = _item(tricky_report["report"], "threshold:two_layer_best_net")
    assert item.points == 0 and item.status == "fail"
    assert "measured by the grader on 297 held-out examples" in item.message


def test_a_notebook_that_saved_nothing_gets_nothing(tricky_report: dict[str, object]) -> None:
    item = _item(tricky_report["report"], "threshold:fc_solver_model")
    assert item.points == 0 and "solver_model was not saved" in item.message
    assert _item(tricky_report["report"], "notebook:FC_nets.ipynb:runs").status == "pass"


def test_answered_and_unanswered_questions(tricky_report: dict[str, object]) -> None:
    report = tricky_report["report"]
    assert _item(report, "manual:batchnorm_effect").message == "unanswered"
    answered = _item(report, "manual:dropout_scaling")
    assert answered.status == "manual" and answered.points == 0
    assert "expected value of every activation" in answered.message


def test_manual_grades_csv_is_merged_into_totals(
    tricky_report: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = tricky_report["path"]
    grades = tmp_path / "manual.csv"
    with grades.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["submission", "id", "points", "comment"])
        w.writerow(["tricky", "manual:dropout_scaling", "1.5", "right idea, no mention of expectation"])
        w.writerow(["tricky", "manual:fc_depth", "", ""])  # not graded yet: left alone
    seed = tmp_path / "seed"
    seed.write_text(TEST_SEED)
    out = tmp_path / "r.json"
    args = [
        str(sub),
        "--reference",
        str(LAYOUT.reference),
        "--fixtures",
        str(LAYOUT.fixtures),
        "--hidden-seed-file",
        str(seed),
        "--json",
        str(out),
        "--quiet",
    ]
    assert cli.main([*args, "--manual-grades", str(grades)]) == 0
    import json

    merged = json.loads(out.read_text())
    item = next(i for i in merged["items"] if i["id"] == "manual:dropout_scaling")
    # The answer stays below the comment, for whoever reads the feedback.
    answer = next(i for i in tricky_report["report"].items if i.id == "manual:dropout_scaling").message  # type: ignore[attr-defined]
    assert answer.startswith("answer for a human to grade:\n")
    assert item["points"] == 1.5 and item["message"] == (
        "graded by a person: right idea, no mention of expectation\n\nthe answer:\n"
        + answer.removeprefix("answer for a human to grade:\n")
    )
    before = tricky_report["report"].total  # type: ignore[attr-defined]
    assert merged["total"] == pytest.approx(before + 1.5)
    assert (tmp_path / "figures" / "tricky").is_dir()  # the figures sit beside the report

    bad = tmp_path / "bad.csv"
    bad.write_text("submission,id,points\ntricky,manual:dropout_scaling,5\n")
    assert cli.main([*args, "--manual-grades", str(bad)]) == 2
    assert "outside 0..2" in capsys.readouterr().err


def test_cifar10_loader_reads_batches_in_the_official_format(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in [(f"data_batch_{i}", 20) for i in range(1, 6)] + [("test_batch", 20)]:
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": list(rng.integers(0, 10, n))}
        with (folder / name).open("wb") as f:
            pickle.dump(batch, f)
    with submission_on_path(LAYOUT.reference, "nndl", "utils"):
        from utils.data_utils import get_CIFAR10_data, load_CIFAR10

        Xtr, Ytr, Xte, _Yte = load_CIFAR10(str(folder))
        assert Xtr.shape == (100, 32, 32, 3) and Ytr.shape == (100,) and Xte.shape == (20, 32, 32, 3)
        data = get_CIFAR10_data(num_training=80, num_validation=20, num_test=10, cifar10_dir=str(folder))
        assert data["X_train"].shape == (80, 3, 32, 32) and data["X_val"].shape == (20, 3, 32, 32)
        assert abs(float(data["X_train"].mean())) < 1e-9  # the mean image is subtracted
        with (folder / "data_batch_1").open("rb") as f:
            raw = pickle.load(f, encoding="latin1")
        assert np.array_equal(Xtr[0], raw["data"][0].reshape(3, 32, 32).transpose(1, 2, 0))


def test_embedded_digits_split_is_deterministic_and_disjoint() -> None:
    with submission_on_path(LAYOUT.reference, "nndl", "utils", "instructor"):
        from instructor.heldout import heldout
        from utils.data_utils import get_data

        a, b = get_data(), get_data()
        assert all(np.array_equal(a[k], b[k]) for k in a)
        assert {k: v.shape[0] for k, v in a.items()} == {
            "X_train": 1000,
            "y_train": 1000,
            "X_val": 250,
            "y_val": 250,
            "X_test": 250,
            "y_test": 250,
        }
        X_held, _ = heldout()
        seen = {row.tobytes() for part in ("X_train", "X_val", "X_test") for row in a[part].reshape(-1, 64)}
        assert X_held.shape == (297, 1, 8, 8)
        assert sum(row.tobytes() in seen for row in X_held.reshape(-1, 64)) < 5  # a few digits repeat exactly
    assert "sklearn" not in sys.modules  # the data are read without importing scikit-learn


def test_figures_are_named_alike_whenever_the_printed_text_arrives() -> None:
    """A kernel flushes printed text on its own clock, before or after a figure of the same cell: the
    figures' names (and so the feedback that links them) do not depend on it."""
    from grader.notebooks import _figures

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()

    def ran(*outputs: object) -> object:
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("train(); plot()", outputs=list(outputs))])

    def stream() -> object:
        return nbformat.v4.new_output("stream", name="stdout", text="epoch 1: loss 0.5\n")

    def image() -> object:
        return nbformat.v4.new_output("display_data", data={"image/png": png})

    orders = [(stream(), image(), image()), (image(), stream(), image()), (image(), image(), stream())]
    names = [[name for name, _ in _figures(ran(*outputs), "pset3")] for outputs in orders]
    assert names == [["pset3-cell0-1.png", "pset3-cell0-2.png"]] * 3
