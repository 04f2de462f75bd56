"""A CS231n-style notebook assignment written as nbgrader's users write one (benchmarks/cs231n_style):
functions between nbgrader's solution markers in one notebook, each followed by the course's own test
cell, locked. Its rubric states the course's literal inputs as input forms, with no sizes pinned for
the hidden draws, and its training is graded by the accuracy the notebook computes in the grader's run.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import nbformat
import numpy as np
import pytest
from bugs import TEST_SEED
from conftest import cs231n_submissions
from recording import Recording

from grader import cli, codec, cpus, kernels
from grader.authoring import cli as build_cli
from grader.backends import Policy
from grader.backends.local import LocalBackend
from grader.engine import ReferenceAnswers, grade, load_assignment, prepare_answers
from grader.notebooks import GRADER_FAULT, LaterProbes, NotebookBatch, NotebookJob, NotebookRun
from grader.options import GradeOptions
from grader.project import Layout
from grader.results import GRADER_ERROR, Report

SOURCE = Path(__file__).resolve().parent.parent / "benchmarks" / "cs231n_style"
NOTEBOOK = "two_layer.ipynb"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cs231n_style")
    shutil.copytree(SOURCE / "reference", root / "reference")
    assert build_cli.main(["--course", str(root)]) == 0
    assert build_cli.main(["--course", str(root), "--check"]) == 0
    return root


ANSWERS = ReferenceAnswers()  # the reference's hidden answers, computed once for the module's gradings


def _grade(course: Path, submission: Path, instructor: bool = True) -> Report:
    layout = Layout(course, "twolayer")
    assignment = load_assignment(layout.fixtures, layout.reference if instructor else None)
    return grade(submission, assignment, GradeOptions(hidden_seed=TEST_SEED), answers=ANSWERS)


def _fixture(course: Path, item: str, what: str) -> list[dict[str, object]]:
    path = Layout(course, "twolayer").fixtures / "items" / f"{NOTEBOOK}__{item}.{what}.npz"
    cases: list[dict[str, object]] = codec.load(path)["cases"]
    return cases


def test_the_course_literal_inputs_are_its_own_and_reproduce_its_published_numbers(course: Path) -> None:
    """The public cases are the notebook's own expressions, value for value, and the reference's outputs
    on them are the numbers the course publishes in its test cells."""
    affine = _fixture(course, "affine_forward", "inputs")[0]
    assert np.array_equal(affine["x"], np.linspace(-0.1, 0.5, num=240).reshape(2, 4, 5, 6))
    assert np.array_equal(affine["w"], np.linspace(-0.2, 0.3, num=360).reshape(120, 3))
    published = np.array([[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]])
    assert np.allclose(_fixture(course, "affine_forward", "expected")[0]["out"], published, rtol=0, atol=1e-8)

    relu = _fixture(course, "relu_forward", "expected")[0]["out"]
    published = np.array(
        [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.04545455, 0.13636364], [0.22727273, 0.31818182, 0.40909091, 0.5]]
    )
    assert np.allclose(relu, published, rtol=0, atol=1e-8)

    net = _fixture(course, "TwoLayerNet.loss", "inputs")
    assert np.array_equal(net[0]["X"], np.linspace(-5.5, 4.5, num=15).reshape(5, 3).T)
    assert net[0]["y"].tolist() == [0, 5, 1]
    expected = _fixture(course, "TwoLayerNet.loss", "expected")
    published_scores = np.array(
        [
            [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
            [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
            [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319],
        ]
    )
    assert np.abs(expected[0]["scores"] - published_scores).sum() < 1e-6  # the course's own bound
    assert abs(expected[0]["loss"] - 3.4702243556) < 1e-10
    assert abs(expected[1]["loss"] - 26.5948426952) < 1e-10


@pytest.mark.parametrize("instructor", [True, False])
def test_the_reference_earns_all_ten_points_and_the_template_none(course: Path, instructor: bool) -> None:
    layout = Layout(course, "twolayer")
    reference = _grade(course, layout.reference, instructor)
    assert [(i.id, i.status, i.message) for i in reference.items if i.status != "pass"] == []
    assert sum(i.points for i in reference.items) == 10
    template = _grade(course, layout.template, instructor)
    assert sum(i.points for i in template.items) == 0
    statuses = {i.id: i.status for i in template.items}
    assert statuses.pop("notebook_value:two_layer.ipynb:train_acc") == "fail"
    assert set(statuses.values()) == {"not_attempted"}
    message = {i.id: i.message for i in template.items}["notebook_value:two_layer.ipynb:train_acc"]
    assert message == (
        "train_acc was not computed: cell 17 ('# A spiral of three classes, which no linear classifier "
        "separates.') raised NotImplementedError"
    )


def test_a_value_no_locked_cell_computes_is_refused_by_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(SOURCE / "reference", tmp_path / "reference")
    rubric = tmp_path / "reference" / "twolayer" / "rubric.toml"
    rubric.write_text(rubric.read_text().replace('variable = "train_acc"', 'variable = "loss_history"'))
    path = tmp_path / "reference" / "twolayer" / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.id == "test-train":
            cell.metadata["tags"] = []
            cell.metadata["nbgrader"]["locked"] = False
    nbformat.write(nb, path)
    assert build_cli.main(["--course", str(tmp_path)]) == 2
    assert (
        "notebook_value:two_layer.ipynb:train_acc: no locked cell of two_layer.ipynb assigns loss_history; tag the "
        "cell that computes it `locked`" in capsys.readouterr().err
    )


def test_a_class_gets_what_a_careful_ta_gives(course: Path, tmp_path: Path) -> None:
    """The benchmark's class (benchmarks/cs231n_style/make_submissions.py), graded as a batch in
    instructor mode: each student's total is the one the script states, with why. Left out: the
    student whose loop never ends (its cells are interrupted at 30 s each: the benchmark's), and four
    who hand in the reference's code as s01 does."""
    make = cs231n_submissions()
    make.write(tmp_path / "class")
    for name in ("s18_infinite_loop", "s05_correct", "s06_correct", "s07_correct", "s08_correct"):
        shutil.rmtree(tmp_path / "class" / name)
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "hidden").write_text(TEST_SEED)
    layout = Layout(course, "twolayer")
    seed = tmp_path / "seed" / "hidden"
    args = [str(tmp_path / "class"), "--course", str(course), "--reference", str(layout.reference), "--quiet",
            "--hidden-seed-file", str(seed), "--jobs", "2", "--out", str(tmp_path / "out")]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(args) == 0
    reports = {Path(r["submission"]).name: r for r in json.loads((tmp_path / "out" / "reports.json").read_text())}
    students = make.STUDENTS
    assert {name: r["total"] for name, r in reports.items()} == {name: students[name].points for name in reports}
    assert len(reports) == 15

    # A bug costs once: the network defined in the notebook calls the student's affine_forward without
    # its bias; replayed in the reference's notebook with that function's own outputs, it is right.
    results = {i["id"]: (i["points"], i["status"], i["message"]) for i in reports["s09_affine_without_bias"]["items"]}
    assert results["two_layer.ipynb:affine_forward"][2].startswith(
        "public case 1 (the notebook's own test: inputs spaced evenly, x of shape (2, 4, 5, 6)): out is off"
    )
    replayed = (
        "grads, loss, scores are right for what your own affine_forward computed; the difference from the "
        "reference's comes from upstream code that loses its points there: no points lost here"
    )
    assert results["two_layer.ipynb:TwoLayerNet.loss"] == (3, "pass", replayed)

    # The accuracy s14 wrote into the locked training cell, and again in a cell after it, is not what
    # is read: the cell runs as the course wrote it, with the student's train that never steps.
    value = {i["id"]: i["message"] for i in reports["s14_train_never_steps"]["items"]}
    message = value["notebook_value:two_layer.ipynb:train_acc"]
    assert message.startswith("train_acc = 0.") and message.endswith(
        "in the grader's run of two_layer.ipynb, right after cell 17 ('# A spiral of three classes, which no "
        "linear classifier separates.'); it must be at least 0.85"
    )
    flag = "locked notebook cell(s) changed in the submission, run as the course wrote them: two_layer.ipynb: "
    assert {name: r["flags"] for name, r in reports.items() if r["flags"]} == {
        "s14_train_never_steps": [flag + "test-train (edited)"],
        "s20_edits_a_locked_test": [flag + "test-affine-forward (edited)"],
    }


class ReferenceKernelFails(LocalBackend):
    """The local backend, but the reference's kernel for a replay never starts."""

    def notebooks_beside(
        self, first: NotebookBatch, second: NotebookBatch, later: LaterProbes | None
    ) -> tuple[list[NotebookRun], list[NotebookRun]]:
        mine, theirs = super().notebooks_beside(first, second, later)
        if later is None:
            return mine, theirs  # the reference's own answers, not a replay
        return mine, [replace(run, status=GRADER_FAULT, message="no kernel", probes={}) for run in theirs]


def test_a_reference_that_cannot_run_its_replay_is_the_graders_fault_not_the_students(
    course: Path, tmp_path: Path
) -> None:
    """s09's network is right for its own affine_forward, which only a replay in the reference's
    notebook shows. When that notebook's kernel cannot start, the student would lose the network's
    points again for the bias: the report is the grader's error instead, costing nothing."""
    cs231n_submissions().write(tmp_path / "class")
    layout = Layout(course, "twolayer")
    assignment = load_assignment(layout.fixtures, layout.reference)
    options = GradeOptions(hidden_seed=TEST_SEED)
    report = grade(tmp_path / "class" / "s09_affine_without_bias", assignment, options, backend=ReferenceKernelFails())
    assert {i.status for i in report.items} == {GRADER_ERROR}
    assert (
        report.total == 0 and "the reference's two_layer.ipynb, run for a replay: no kernel" in report.items[0].message
    )


def _items(report: Report) -> list[tuple[str, float, str, str]]:
    return [(i.id, i.points, i.status, i.message) for i in report.items]


def test_a_one_off_grade_runs_the_reference_notebooks_beside_the_students_and_gives_the_same_report(
    course: Path, tmp_path: Path
) -> None:
    """A one-off grade (Gradescope, a CI job per student) has no answers yet: the reference's notebook
    answers the hidden cases while the student's runs. Its reports are those of a grade whose answers
    were computed first, as a batch's are: a right student, one replayed, one whose value is read."""
    cs231n_submissions().write(tmp_path / "class")
    layout = Layout(course, "twolayer")
    assignment = load_assignment(layout.fixtures, layout.reference)
    options = GradeOptions(hidden_seed=TEST_SEED)
    names = ("s01_correct", "s09_affine_without_bias", "s14_train_never_steps")
    prepared = prepare_answers(assignment, options, tuple(tmp_path / "class" / n for n in names))
    for name in names:
        backend = Recording(LocalBackend())
        one_off = grade(tmp_path / "class" / name, assignment, options, backend=backend)
        runs = [r for r in backend.records if r.what == "notebooks"]
        assert runs[0].beside and runs[1].beside and runs[1].root.name == "reference", name
        assert {probe for _, _, probe in runs[1].requests} == {i.probe() for i in assignment.rubric.code_items}
        after = grade(tmp_path / "class" / name, assignment, options, answers=prepared)
        assert _items(one_off) == _items(after), name
        assert one_off.total == cs231n_submissions().STUDENTS[name].points, name


def test_on_one_cpu_a_one_off_grade_runs_the_reference_notebooks_first_with_the_same_report(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the grade may use one CPU (a container's quota), running the reference beside the student
    gains nothing and the student's timed cells would share that CPU: its notebooks answer first, and
    s09's replay runs the reference's notebook after the student's recording run."""
    cs231n_submissions().write(tmp_path / "class")
    layout = Layout(course, "twolayer")
    assignment = load_assignment(layout.fixtures, layout.reference)
    options = GradeOptions(hidden_seed=TEST_SEED)
    submission = tmp_path / "class" / "s09_affine_without_bias"
    beside = grade(submission, assignment, options)
    monkeypatch.setattr(cpus, "usable", lambda: 1)
    backend = Recording(LocalBackend())
    alone = grade(submission, assignment, options, backend=backend)
    runs = [r for r in backend.records if r.what == "notebooks"]
    assert [r.root.name for r in runs] == ["reference", kernels.SCRATCH, kernels.SCRATCH, "reference-replay"]
    assert not any(r.beside for r in runs)
    assert _items(alone) == _items(beside) and alone.total == cs231n_submissions().STUDENTS[submission.name].points


class ReplayKernelFails(LocalBackend):
    """The local backend, but the reference's kernel for a replay run on its own (one CPU) never starts."""

    def notebooks(self, jobs: list[NotebookJob], cwd: Path, workdir: Path, policy: Policy) -> list[NotebookRun]:
        runs = super().notebooks(jobs, cwd, workdir, policy)
        if cwd.name != "reference-replay":
            return runs
        return [replace(run, status=GRADER_FAULT, message="no kernel", probes={}) for run in runs]


def test_on_one_cpu_a_reference_that_cannot_run_its_replay_is_still_the_graders_fault(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As beside the recording run: judged without its replay, s09 would lose the network's points
    again for the bias, so the report is the grader's error, costing nothing."""
    cs231n_submissions().write(tmp_path / "class")
    layout = Layout(course, "twolayer")
    assignment = load_assignment(layout.fixtures, layout.reference)
    monkeypatch.setattr(cpus, "usable", lambda: 1)
    options = GradeOptions(hidden_seed=TEST_SEED)
    report = grade(tmp_path / "class" / "s09_affine_without_bias", assignment, options, backend=ReplayKernelFails())
    assert {i.status for i in report.items} == {GRADER_ERROR}
    assert report.total == 0
    assert "the reference's two_layer.ipynb, run for a replay: no kernel" in report.items[0].message


class ReferenceAnswersFail(LocalBackend):
    """The local backend, but the reference's kernel for the hidden cases of a one-off grade never starts."""

    def notebooks_beside(
        self, first: NotebookBatch, second: NotebookBatch, later: LaterProbes | None
    ) -> tuple[list[NotebookRun], list[NotebookRun]]:
        mine, theirs = super().notebooks_beside(first, second, later)
        if later is not None:
            return mine, theirs
        return mine, [replace(run, status=GRADER_FAULT, message="no kernel", probes={}) for run in theirs]


def test_a_reference_that_cannot_answer_beside_a_one_off_grade_costs_the_student_nothing(
    course: Path, tmp_path: Path
) -> None:
    """The reference's notebook runs beside s01's and its kernel never starts: each item judged on
    the hidden cases is the grader's error, saying that the reference failed, not a loss of points;
    what needs no reference (the value the notebook computes) is graded as usual."""
    cs231n_submissions().write(tmp_path / "class")
    layout = Layout(course, "twolayer")
    assignment = load_assignment(layout.fixtures, layout.reference)
    report = grade(
        tmp_path / "class" / "s01_correct",
        assignment,
        GradeOptions(hidden_seed=TEST_SEED),
        backend=ReferenceAnswersFail(),
    )
    code = {i.id for i in assignment.rubric.code_items}
    assert code and {i.status for i in report.items if i.id in code} == {GRADER_ERROR}
    assert all("reference" in i.message for i in report.items if i.id in code)
    assert [(i.id, i.status) for i in report.items if i.id not in code] == [
        (i.id, "pass") for i in assignment.rubric.items if i.id not in code
    ]
