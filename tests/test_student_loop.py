"""A student's loop on the command line: `grade` in the submission's folder, `--only` the items being
worked on, and a clear word about where to run it from when the folder is not a submission."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bugs import TEST_SEED, comparable, golden_path, materialize
from conftest import ROOT

from grader import cli, selection
from grader.engine import ReferenceAnswers, grade, load_assignment
from grader.options import GradeOptions
from grader.project import Layout

LAYOUT = Layout(ROOT, "nndl")


def test_only_reports_the_items_named_with_the_verdicts_of_the_whole_grade(
    tmp_path: Path, shared_answers: ReferenceAnswers
) -> None:
    """Instructor mode, where an item that only passes on what a buggy upstream function gave it
    keeps its points by replay: `--only` grades the items named with those they depend on, so the
    verdicts are the golden report's (the whole grade's), message for message."""
    name = "fails_affine_backward_db_shape"
    submission = materialize(name, tmp_path / name)
    assignment = load_assignment(LAYOUT.fixtures, LAYOUT.reference)
    wanted = selection.select(assignment.rubric, selection.patterns(["affine_relu_backward,affine_backward"]))
    assert wanted == ("nndl.layers:affine_backward", "nndl.layer_utils:affine_relu_backward")
    options = GradeOptions(hidden_seed=TEST_SEED, notebooks=False, only=wanted)
    report = comparable(grade(submission, assignment, options, answers=shared_answers).to_dict())
    whole = {i["id"]: i for i in json.loads(golden_path(name).read_text())["items"]}
    assert report["items"] == [whole[i] for i in wanted]
    assert [i["points"] for i in report["items"]] == [pytest.approx(4 / 3), 1.0]
    assert (report["total"], report["max_total"]) == (pytest.approx(1 + 4 / 3), 3.0)


def test_grade_with_no_path_grades_this_folder_and_only_takes_globs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`grade` in the clone of the template, as a student runs it: the folder is `.`; `--only`
    takes short names and globs, repeated or comma-separated, and says how many items it left out."""
    student = tmp_path / "hw"
    shutil.copytree(LAYOUT.template, student)
    shutil.copyfile(LAYOUT.reference / "nndl" / "optim.py", student / "nndl" / "optim.py")
    monkeypatch.chdir(student)
    common = ["--student-mode", "--fixtures", str(LAYOUT.fixtures), "--no-notebooks", "--json", "r.json"]
    assert cli.main(["--only", "nndl.optim:*", "--only", "relu_forward", *common]) == 0
    report = json.loads((student / "r.json").read_text())
    optim = ["sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam"]
    assert [i["id"] for i in report["items"]] == ["nndl.layers:relu_forward", *(f"nndl.optim:{o}" for o in optim)]
    assert [i["status"] for i in report["items"]] == ["not_attempted"] + ["pass"] * 5
    out = capsys.readouterr().out
    assert "only 6 of the 41 items graded (--only): the total is out of 11, not 83" in out


def test_only_says_what_was_meant_when_a_name_matches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(LAYOUT.template)
    code = cli.main(["--only", "afine_forward", "--student-mode", "--fixtures", str(LAYOUT.fixtures), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--only afine_forward: no item of nndl is called that; did you mean affine_forward" in err
    assert "The items: affine_forward, affine_backward, relu_forward" in err


def test_a_folder_that_is_no_submission_says_where_to_run_grade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Inside a package of the submission, the way out is the folder above; a folder holding folders
    of all sorts (a home, /tmp) and one submission is not a class: it names that submission; an empty
    one says what a submission folder is."""
    student = tmp_path / "home" / "hw3"
    shutil.copytree(LAYOUT.template, student)
    for other in ("downloads", "music", "photos"):
        (tmp_path / "home" / other / "x").mkdir(parents=True)

    def run(where: Path) -> str:
        monkeypatch.chdir(where)
        assert cli.main(["--student-mode", "--no-notebooks", "--quiet"]) == 2
        return capsys.readouterr().err

    assert f"{student / 'nndl'} is inside the submission {student}: grade that folder instead (`grade ..`" in run(
        student / "nndl"
    )
    assert "holds no submission (grade.toml is not in it); the nearest is hw3: `grade hw3`" in run(tmp_path / "home")
    assert not (tmp_path / "home" / "grade-output").exists()
    (tmp_path / "empty").mkdir()
    assert "holds no submission: no grade.toml in it, above it or below it" in run(tmp_path / "empty")


def test_a_submission_of_another_assignment_in_a_class_folder_is_told_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A class folder is graded as the assignment its submissions name; one that names another (a
    student who handed in the wrong homework) gets an error saying which, not a silent zero."""
    shutil.copytree(LAYOUT.template, tmp_path / "class" / "alice")
    shutil.copytree(LAYOUT.template, tmp_path / "class" / "bob")
    shutil.copytree(Layout(ROOT, "mlp").template, tmp_path / "class" / "carol")
    args = ["--student-mode", "--fixtures", str(LAYOUT.fixtures), "--no-notebooks", "--quiet"]
    out = ["--assignment", "nndl", "--out", str(tmp_path / "out"), "--json", str(tmp_path / "class.json")]
    assert cli.main([str(tmp_path / "class"), *args, *out]) == 0
    reports = {r["submission"]: r for r in json.loads((tmp_path / "class.json").read_text())}
    assert [i["status"] for i in reports["carol"]["items"]] == ["error"]
    assert reports["carol"]["items"][0]["message"] == (
        "this is a submission of 'mlp' (its grade.toml says so), not of 'nndl', which this class folder is "
        "graded as: grade it with the other submissions of 'mlp'"
    )
    assert {i["status"] for i in reports["alice"]["items"]} == {"not_attempted"}


def test_the_command_line_imports_no_plotting_nor_similarity_library() -> None:
    """`grade` starts in every loop a student runs, every CI job and every Gradescope run: what only
    `--similarity` or a notebook's kernel needs (copydetect, which imports matplotlib.pyplot) is not
    imported by the command line itself. Half a second of every `grade` went there."""
    probe = "import sys, grader.cli; print(sorted(m for m in ('matplotlib', 'copydetect') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
