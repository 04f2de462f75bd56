"""`grade-build new NAME`: an assignment that builds and grades at once, which an instructor then grows:
here two items are added to it, it is rebuilt, and the reference earns every automatic point while the
template earns none; the test submission it ships loses exactly the item its bug is in."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import nbformat
import pytest
from bugs import TEST_SEED

from grader.authoring import cli as build_cli
from grader.authoring import scaffold
from grader.engine import grade, load_assignment
from grader.options import GradeOptions
from grader.project import Layout

ADDED_CODE = '''

def sigmoid(x):
    """The logistic function, elementwise."""
    out = None
    # BEGIN SOLUTION
    out = 1.0 / (1.0 + np.exp(-x))
    # END SOLUTION
    return out


def leaky_relu_forward(x, slope):
    """max(x, slope * x) for 0 < slope < 1: returns (out, cache)."""
    out = None
    # BEGIN SOLUTION
    out = np.where(x > 0, x, slope * x)
    # END SOLUTION
    return out, (x, slope)
'''

ADDED_ITEMS = """
[[item]]
id = "course.layers:sigmoid"
points = 1
kind = "compare"
params = ["x"]
returns = ["out"]
compare = ["out"]
tolerance = 1e-9
dims = {N = 3, D = 4}
[[item.case]]
x = {randn = ["N", "D"], scale = 4.0}

[[item]]
id = "course.layers:leaky_relu_forward"
points = 2
kind = "compare"
params = ["x", "slope"]
returns = ["out", "cache"]
compare = ["out"]
tolerance = 1e-9
dims = {N = 3, D = 4}
[[item.case]]
about = "slope 0.1"
x = {randn = ["N", "D"]}
slope = 0.1
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course started with `grade-build new`, then grown by two items and rebuilt."""
    root = tmp_path_factory.mktemp("course")
    assert build_cli.main(["new", "course", "--course", str(root)]) == 0
    assert build_cli.main(["--course", str(root), "--check"]) == 0
    reference = Layout(root, "course").reference
    with (reference / "course" / "layers.py").open("a") as f:
        f.write(ADDED_CODE)
    with (reference / "rubric.toml").open("a") as f:
        f.write(ADDED_ITEMS)
    assert build_cli.main(["--course", str(root)]) == 0
    assert build_cli.main(["--course", str(root), "--check"]) == 0
    return root


def _grade(root: Path, submission: Path, notebooks: bool = True) -> dict[str, tuple[float, str]]:
    layout = Layout(root, "course")
    assignment = load_assignment(layout.fixtures, layout.reference)
    report = grade(submission, assignment, GradeOptions(hidden_seed=TEST_SEED, notebooks=notebooks))
    return {i.id: (i.points, i.status) for i in report.items}


def test_the_reference_earns_every_automatic_point_and_the_template_none(course: Path) -> None:
    layout = Layout(course, "course")
    rubric = tomllib.loads((layout.reference / "rubric.toml").read_text())
    kinds = {item["kind"] for item in rubric["item"]}
    assert kinds == {
        "compare", "gradient", "optimizer", "speedup", "model", "notebook", "threshold", "notebook_value", "manual"
    }  # fmt: skip
    reference = _grade(course, layout.reference)
    assert "course.layers:sigmoid" in reference and "course.layers:leaky_relu_forward" in reference
    assert {k: v for k, v in reference.items() if v[1] != "pass"} == {"manual:why_subtract_max": (0, "manual")}
    template = _grade(course, layout.template)
    assert sum(points for points, _ in template.values()) == 0
    assert template["course.layers:sigmoid"][1] == template["course.net:LinearSoftmax.loss"][1] == "not_attempted"


def test_the_shipped_test_submission_loses_exactly_its_bug(course: Path, tmp_path: Path) -> None:
    bug = tomllib.loads((course / "tests" / "submissions" / "course_fails_relu_backward" / "bug.toml").read_text())
    submission = tmp_path / "student"
    shutil.copytree(Layout(course, "course").reference, submission, ignore=shutil.ignore_patterns("instructor"))
    for edit in bug["replace"]:
        path = submission / edit["file"]
        assert path.read_text().count(edit["old"]) == 1
        path.write_text(path.read_text().replace(edit["old"], edit["new"]))
    result = _grade(course, submission, notebooks=False)
    assert sorted(k for k, (_, status) in result.items() if status != "pass") == bug["loses"]


def test_locked_cells_edited_or_deleted_are_run_as_the_course_wrote_them(course: Path, tmp_path: Path) -> None:
    """The student deletes the training run's imports and the line that saves the model: both locked
    cells are put back by their ids, the model is trained and measured, and the report flags both."""
    submission = tmp_path / "student"
    shutil.copytree(Layout(course, "course").reference, submission, ignore=shutil.ignore_patterns("instructor"))
    path = submission / "train.ipynb"
    nb = nbformat.read(path, as_version=4)
    # The student's own check() comes first (cell-1), then the two locked cells.
    assert [c.id for c in nb.cells if "locked" in c.metadata.get("tags", [])] == ["cell-2", "cell-3"]
    nb.cells[3].source = nb.cells[3].source.replace('save_for_grading("trained", model)', "pass")
    del nb.cells[2]
    nb.cells.insert(2, nbformat.v4.new_code_cell("import numpy as np\nfrom course.net import LinearSoftmax"))
    nbformat.write(nb, path)
    layout = Layout(course, "course")
    report = grade(submission, load_assignment(layout.fixtures, layout.reference), GradeOptions(hidden_seed=TEST_SEED))
    assert {i.id: i.status for i in report.items}["threshold:trained"] == "pass"
    flag = "locked notebook cell(s) changed in the submission, run as the course wrote them: "
    assert report.flags == (f"{flag}train.ipynb: cell-2 (deleted), train.ipynb: cell-3 (edited)",)
    assert nbformat.read(path, as_version=4).cells[3].source.endswith("pass")  # the submission itself is kept


def test_a_locked_cell_without_an_id_is_refused_by_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scaffold.write(tmp_path, "course")
    path = tmp_path / "reference" / "course" / "train.ipynb"
    nb = json.loads(path.read_text())
    nb["nbformat_minor"] = 4
    for cell in nb["cells"]:
        del cell["id"]
    path.write_text(json.dumps(nb))
    assert build_cli.main(["--course", str(tmp_path)]) == 2
    assert "train.ipynb cell 2 is locked but has no id" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["Course", "1st", "my-course", "a" * 41])
def test_a_name_that_cannot_be_a_package_is_refused_and_nothing_written(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert build_cli.main(["new", name, "--course", str(tmp_path)]) == 2
    assert "cannot name an assignment" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_assignment_is_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scaffold.write(tmp_path, "course")
    rubric = tmp_path / "reference" / "course" / "rubric.toml"
    rubric.write_text("# the instructor's own\n")
    assert build_cli.main(["new", "course", "--course", str(tmp_path)]) == 2
    assert "exists; choose another name" in capsys.readouterr().err
    assert rubric.read_text() == "# the instructor's own\n"


@pytest.mark.parametrize(
    "content", [b"{" * 100_000 + b"}" * 100_000, b"\xff\xfe not utf-8", b'{"cells": 3, "nbformat": 4}']
)
def test_a_notebook_that_does_not_read_is_left_to_its_run(course: Path, tmp_path: Path, content: bytes) -> None:
    """Deeply nested, undecodable or malformed JSON: nothing restored, no fault of the grader; the
    notebook's run says why it cannot run, and the module items are graded as ever."""
    submission = tmp_path / "student"
    shutil.copytree(Layout(course, "course").reference, submission, ignore=shutil.ignore_patterns("instructor"))
    (submission / "train.ipynb").write_bytes(content)
    result = _grade(course, submission)
    assert result["course.layers:relu_forward"] == (1, "pass")
    assert result["notebook:train.ipynb:runs"][0] == 0 and result["threshold:trained"][0] == 0
    assert "grader_error" not in {status for _, status in result.values()}


def test_a_provided_helper_s_frames_are_cut_from_the_student_s_traceback(course: Path, tmp_path: Path) -> None:
    """The student's relu_forward calls the course's provided data helper wrongly: the traceback shows
    the student's own line, not the helper's inside."""
    submission = tmp_path / "student"
    shutil.copytree(Layout(course, "course").reference, submission, ignore=shutil.ignore_patterns("instructor"))
    layers = submission / "course" / "layers.py"
    wrong = "    from course.data import points\n    out = points(-1, 0)\n"
    layers.write_text(layers.read_text().replace("    out = np.maximum(x, 0.0)\n", wrong))
    layout = Layout(course, "course")
    report = grade(submission, load_assignment(layout.fixtures, layout.reference), GradeOptions(hidden_seed=TEST_SEED))
    message = {i.id: i.message for i in report.items}["course.layers:relu_forward"]
    assert message.startswith("public case 1 (values on both sides of zero): ValueError: ")
    assert 'File "course/layers.py", line ' in message and "out = points(-1, 0)" in message
    assert "course/data.py" not in message and "rng.integers" not in message
