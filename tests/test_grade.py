"""`grade` end to end: both modes, both directions, determinism, reports and exit status."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from bugs import TEST_SEED, comparable, materialize
from conftest import ROOT

from grader import cli, isolation
from grader.cases import hidden_cases
from grader.engine import Assignment, grade, load_assignment
from grader.options import GradeOptions
from grader.project import Layout

LAYOUT = Layout(ROOT, "nndl")


@pytest.fixture(scope="module")
def instructor() -> Assignment:
    return load_assignment(LAYOUT.fixtures, LAYOUT.reference)


@pytest.fixture(scope="module")
def student() -> Assignment:
    return load_assignment(LAYOUT.fixtures, None)


@pytest.mark.parametrize("mode", ["student", "instructor"])
def test_reference_scores_full_marks(mode: str, instructor: Assignment, student: Assignment) -> None:
    assignment = instructor if mode == "instructor" else student
    report = grade(LAYOUT.reference, assignment, GradeOptions(hidden_seed=TEST_SEED))
    assert report.mode == mode
    manual = {i.id for i in assignment.rubric.items if i.kind == "manual"}
    assert [i for i in report.items if i.status != "pass" and i.id not in manual] == []
    assert all(
        i.status == "manual" and i.message.startswith("answer for a human") for i in report.items if i.id in manual
    )
    manual_points = sum(assignment.rubric.item(i).points for i in manual)
    assert report.total == report.max_total - manual_points


@pytest.mark.parametrize("mode", ["student", "instructor"])
def test_untouched_template_scores_zero_not_attempted(mode: str, instructor: Assignment, student: Assignment) -> None:
    assignment = instructor if mode == "instructor" else student
    report = grade(LAYOUT.template, assignment, GradeOptions(hidden_seed=TEST_SEED))
    assert report.total == 0
    code = {i.id for i in assignment.rubric.code_items}
    assert {i.status for i in report.items if i.id in code} == {"not_attempted"}
    assert all("still the template's stub" in i.message for i in report.items if i.id in code)
    by_kind = {
        kind: {i.status for i in report.items if assignment.rubric.item(i.id).kind == kind}
        for kind in ("notebook", "threshold", "manual")
    }
    assert by_kind == {"notebook": {"fail"}, "threshold": {"fail"}, "manual": {"manual"}}
    assert all(i.message == "unanswered" for i in report.items if i.status == "manual")


def test_two_runs_give_identical_reports_apart_from_durations(instructor: Assignment, tmp_path: Path) -> None:
    submission = materialize("fails_affine_backward_db_shape", tmp_path / "s")
    first = grade(submission, instructor, GradeOptions(hidden_seed=TEST_SEED, notebooks=False)).to_dict()
    second = grade(submission, instructor, GradeOptions(hidden_seed=TEST_SEED, notebooks=False)).to_dict()
    assert comparable(first) == comparable(second)


def test_another_seed_draws_other_hidden_inputs(instructor: Assignment) -> None:
    item = instructor.rubric.item("nndl.layers:affine_forward")
    a = hidden_cases("nndl", item, "seed-a", 2)
    b = hidden_cases("nndl", item, "seed-b", 2)
    again = hidden_cases("nndl", item, "seed-a", 2)
    assert [x["x"].shape for x in a] == [x["x"].shape for x in again]
    assert all((x["x"] == y["x"]).all() for x, y in zip(a, again))
    assert any(x["x"].shape != y["x"].shape or not (x["x"] == y["x"]).all() for x, y in zip(a, b))


def test_hardcoded_public_answers_pass_student_mode_but_fail_instructor_mode(
    instructor: Assignment, student: Assignment, tmp_path: Path
) -> None:
    submission = materialize("fails_affine_forward_hardcoded_for_public_shapes", tmp_path / "s")
    item = "nndl.layers:affine_forward"
    student_result = next(i for i in grade(submission, student, GradeOptions(notebooks=False)).items if i.id == item)
    instructor_result = next(
        i
        for i in grade(submission, instructor, GradeOptions(hidden_seed=TEST_SEED, notebooks=False)).items
        if i.id == item
    )
    assert student_result.status == "pass"
    assert instructor_result.points == 0 and instructor_result.message.startswith("hidden case")


def test_student_mode_self_check_catches_backward_that_only_fits_the_public_case(
    student: Assignment, tmp_path: Path
) -> None:
    """A backward pass that is right on the public shapes only fails the self-check on fresh inputs."""
    submission = tmp_path / "s"
    shutil.copytree(LAYOUT.reference, submission)
    layers = submission / "nndl" / "layers.py"
    layers.write_text(
        layers.read_text().replace(
            "    db = dout.sum(axis=0)\n",
            "    db = dout.sum(axis=0) if dout.shape == (10, 5) else dout.sum(axis=0) * 2\n",
        )
    )
    result = next(
        i
        for i in grade(submission, student, GradeOptions(notebooks=False)).items
        if i.id == "nndl.layers:affine_backward"
    )
    assert result.status == "partial"
    assert "self-check 1: db disagrees with the numerical gradient of your own affine_forward" in result.message


def test_cli_writes_json_in_the_design_format_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed = tmp_path / "seed"
    seed.write_text(TEST_SEED)
    submission = materialize("fails_nesterov_is_plain_momentum", tmp_path / "alice")
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    code = cli.main(
        [
            str(submission),
            "--fixtures",
            str(LAYOUT.fixtures),
            "--reference",
            str(LAYOUT.reference),
            "--hidden-seed-file",
            str(seed),
            "--json",
            str(out_json),
            "--csv",
            str(out_csv),
            "--no-notebooks",
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    assert "graded in instructor mode" in table and re.search(r"^total +57/58$", table, re.MULTILINE)
    report = json.loads(out_json.read_text())
    assert list(report) == [
        "assignment",
        "mode",
        "grader_version",
        "submission",
        "total",
        "max_total",
        "items",
        "flags",
        "isolation",
    ]
    assert report["isolation"] == isolation.summary() and report["isolation"].startswith(isolation.level())
    assert list(report["items"][0]) == ["id", "title", "points", "max_points", "status", "message", "duration_s"]
    assert report["total"] == 57 and report["max_total"] == 58 and report["mode"] == "instructor"
    frame = pd.read_csv(out_csv)
    assert list(frame.columns) == [
        "submission",
        "id",
        "title",
        "points",
        "max_points",
        "status",
        "message",
        "duration_s",
    ]
    assert len(frame) == len(report["items"])
    row = frame[frame["id"] == "nndl.optim:sgd_nesterov_momentum"].iloc[0]
    assert row["status"] == "partial" and row["points"] == 1.0


def test_cli_exit_status(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    seed.write_text(TEST_SEED)
    common = ["--quiet", "--fixtures", str(LAYOUT.fixtures), "--student-mode", "--no-notebooks"]
    assert cli.main([str(LAYOUT.template), *common]) == 0  # grading ran; the score does not matter
    assert cli.main([str(LAYOUT.template), *common, "--fail-under", "1"]) == 1
    assert cli.main([str(LAYOUT.reference), *common, "--fail-under", "58"]) == 0
    (tmp_path / "empty").mkdir()
    assert cli.main([str(tmp_path / "empty"), "--quiet"]) == 2  # no grade.toml: a usage error
    with pytest.raises(SystemExit) as exc:
        cli.main([str(tmp_path / "missing")])
    assert exc.value.code == 2


def test_grade_toml_finds_the_assignment_and_its_fixtures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`grade .` inside a copy of the template, as a student runs it."""
    assert cli.main([str(LAYOUT.template), "--student-mode", "--no-notebooks"]) == 0
    assert "student_template/nndl: nndl graded in student mode" in capsys.readouterr().out
