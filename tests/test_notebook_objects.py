"""Functions a student defines in a notebook cell are graded by the same check kinds as module code.

A small assignment is built here from scratch (reference notebook, rubric), through the
same build and the same engine as nndl: nothing in the engine is specific to it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat
import pytest
from bugs import TEST_SEED

from grader.authoring import cli as build_cli
from grader.engine import grade, load_assignment
from grader.options import GradeOptions
from grader.project import Layout

CELLS = [
    "import numpy as np",
    '''def sigmoid(x):
    """Elementwise logistic function of an array x of any shape."""
    out = None
    # BEGIN SOLUTION
    out = 1.0 / (1.0 + np.exp(-x))
    # END SOLUTION
    return out''',
    '''def leaky_relu_forward(x):
    """Leaky ReLU with slope 0.1 below zero: returns (out, cache)."""
    out = None
    # BEGIN SOLUTION
    out = np.where(x > 0, x, 0.1 * x)
    # END SOLUTION
    return out, x''',
    '''def leaky_relu_backward(dout, cache):
    """Gradient of leaky_relu_forward: dx of the shape of dout."""
    dx = None
    # BEGIN SOLUTION
    dx = dout * np.where(cache > 0, 1.0, 0.1)
    # END SOLUTION
    return dx''',
    "print(sigmoid(np.zeros(3)))",
]

RUBRIC = """
[assignment]
name = "acts"
instructor_only = ["rubric.toml"]

[[item]]
id = "acts.ipynb:sigmoid"
notebook = "acts.ipynb"
kind = "compare"
points = 2
params = ["x"]
returns = ["out"]
compare = ["out"]
tolerance = 1e-9
dims = {N = 4, D = 3}
[[item.case]]
x = {randn = ["N", "D"], scale = 3.0}

[[item]]
id = "acts.ipynb:leaky_relu_backward"
notebook = "acts.ipynb"
kind = "gradient"
forward = "leaky_relu_forward"
points = 2
params = ["x"]
wrt = ["x"]
grads = ["dx"]
tolerance = 1e-9
dims = {N = 5, D = 4}
[[item.case]]
x = {randn = ["N", "D"]}

[[item]]
id = "notebook:acts.ipynb:runs"
kind = "notebook"
notebook = "acts.ipynb"
points = 1
cell_timeout_s = 5
timeout_s = 60
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    ref = root / "reference" / "acts"
    ref.mkdir(parents=True)
    (ref / "grade.toml").write_text('assignment = "acts"\n')
    (ref / "rubric.toml").write_text(RUBRIC)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS]), ref / "acts.ipynb")
    assert build_cli.main(["--project", str(root)]) == 0
    assert build_cli.main(["--project", str(root), "--check"]) == 0
    return root


def _grade(project: Path, submission: Path, instructor: bool) -> dict[str, tuple[float, str, str]]:
    layout = Layout(project, "acts")
    assignment = load_assignment(layout.fixtures, layout.reference if instructor else None)
    report = grade(submission, assignment, GradeOptions(hidden_seed=TEST_SEED))
    return {i.id: (i.points, i.status, i.message) for i in report.items}


@pytest.mark.parametrize("instructor", [True, False])
def test_reference_notebook_objects_earn_full_marks(project: Path, instructor: bool) -> None:
    result = _grade(project, Layout(project, "acts").reference, instructor)
    assert {k: v[1] for k, v in result.items()} == {
        "acts.ipynb:sigmoid": "pass",
        "acts.ipynb:leaky_relu_backward": "pass",
        "notebook:acts.ipynb:runs": "pass",
    }


def test_template_notebook_objects_are_not_attempted(project: Path) -> None:
    result = _grade(project, Layout(project, "acts").template, True)
    assert result["acts.ipynb:sigmoid"][1] == "not_attempted"
    assert result["acts.ipynb:leaky_relu_backward"][1] == "not_attempted"


def test_a_wrong_notebook_function_loses_only_its_item(project: Path, tmp_path: Path) -> None:
    sub = tmp_path / "student"
    shutil.copytree(Layout(project, "acts").template, sub)
    nb = nbformat.read(sub / "acts.ipynb", as_version=4)
    nb.cells[1].source = CELLS[1].replace("1.0 / (1.0 + np.exp(-x))", "1.0 / (1.0 + np.exp(x))")
    nb.cells[2].source = CELLS[2]
    nb.cells[3].source = CELLS[3].replace("dout * np.where", "dout.copy() * np.where")
    nbformat.write(nb, sub / "acts.ipynb")
    result = _grade(project, sub, True)
    assert result["acts.ipynb:sigmoid"][:2] == (0.0, "fail")
    assert "out is off" in result["acts.ipynb:sigmoid"][2]
    assert result["acts.ipynb:leaky_relu_backward"][1] == "pass"
    assert result["notebook:acts.ipynb:runs"][1] == "pass"


def test_a_notebook_that_does_not_define_the_object_says_so(project: Path, tmp_path: Path) -> None:
    sub = tmp_path / "student"
    shutil.copytree(Layout(project, "acts").reference, sub)
    nb = nbformat.read(sub / "acts.ipynb", as_version=4)
    nb.cells[1].source = "def sigmoid_renamed(x):\n    return 1.0 / (1.0 + np.exp(-x))"
    nb.cells[4].source = "print('done')"
    nbformat.write(nb, sub / "acts.ipynb")
    result = _grade(project, sub, False)
    assert result["acts.ipynb:sigmoid"][1] == "error"
    assert "the notebook defines no 'sigmoid'" in result["acts.ipynb:sigmoid"][2]


def test_a_loop_costs_the_cells_it_stops_not_the_functions_defined_after_it(project: Path, tmp_path: Path) -> None:
    """The cell that loops is interrupted at its limit and the notebook goes on (nbgrader's policy): the
    looping function times out, the notebook loses its point, and a function defined after the loop
    is still graded."""
    sub = tmp_path / "student"
    shutil.copytree(Layout(project, "acts").reference, sub)
    nb = nbformat.read(sub / "acts.ipynb", as_version=4)
    looping = nbformat.v4.new_code_cell("def sigmoid(x):\n    while True:\n        pass")
    nb.cells = [nb.cells[0], looping, nb.cells[4], nb.cells[2], nb.cells[3]]
    nbformat.write(nb, sub / "acts.ipynb")
    result = _grade(project, sub, True)
    assert result["acts.ipynb:sigmoid"] == (0.0, "timeout", "public case 1: no answer within 5 s, the notebook's limit")
    assert result["acts.ipynb:leaky_relu_backward"][:2] == (2.0, "pass")
    assert result["notebook:acts.ipynb:runs"][:2] == (0.0, "timeout")
    assert result["notebook:acts.ipynb:runs"][2].startswith(
        "cell 3 of acts.ipynb ('print(sigmoid(np.zeros(3)))') ran longer than 5 s and was interrupted"
    )


def _looping_student(tmp_path: Path, rubric: str, keep_call: bool = True) -> tuple[Path, Path]:
    """A project built from `rubric` (the module's rubric without its notebook item, changed) and a
    student whose sigmoid never returns; with `keep_call` False, the notebook's own call is gone."""
    root = tmp_path / "project"
    ref = root / "reference" / "acts"
    ref.mkdir(parents=True)
    (ref / "grade.toml").write_text('assignment = "acts"\n')
    (ref / "rubric.toml").write_text(rubric)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS]), ref / "acts.ipynb")
    assert build_cli.main(["--project", str(root)]) == 0
    sub = tmp_path / "student"
    shutil.copytree(ref, sub)
    nb = nbformat.read(sub / "acts.ipynb", as_version=4)
    nb.cells[1] = nbformat.v4.new_code_cell("def sigmoid(x):\n    while True:\n        pass")
    if not keep_call:
        del nb.cells[4]
    nbformat.write(nb, sub / "acts.ipynb")
    return root, sub


WITHOUT_RUN_ITEM = RUBRIC[: RUBRIC.index('[[item]]\nid = "notebook:')]
LIMITED = 'instructor_only = ["rubric.toml"]'


def test_the_assignment_sets_the_cell_limit_without_a_notebook_item(tmp_path: Path) -> None:
    """No 0-point "notebook runs" item is needed to set a notebook's limits: the assignment's
    cell_timeout_s is every cell's, and a function that loops is stopped at it."""
    root, sub = _looping_student(tmp_path, WITHOUT_RUN_ITEM.replace(LIMITED, f"{LIMITED}\ncell_timeout_s = 2"))
    result = _grade(root, sub, True)
    assert result["acts.ipynb:sigmoid"] == (0.0, "timeout", "public case 1: no answer within 2 s, the notebook's limit")
    assert result["acts.ipynb:leaky_relu_backward"][:2] == (2.0, "pass")
    assert "notebook:acts.ipynb:runs" not in result


def test_a_probe_in_the_kernel_is_stopped_at_its_item_s_limit_not_the_cell_s(tmp_path: Path) -> None:
    """A function that loops only when the grader calls it: its case is stopped at the item's 1 s, not
    at the notebook's 30 s cell limit (the limit of the cell the probe runs in was the cell's)."""
    rubric = WITHOUT_RUN_ITEM.replace(LIMITED, f"{LIMITED}\ncell_timeout_s = 30")
    rubric = rubric.replace('kind = "compare"\n', 'kind = "compare"\ntimeout_s = 1\n', 1)
    root, sub = _looping_student(tmp_path, rubric, keep_call=False)  # only the grader's calls loop
    started = time.monotonic()
    result = _grade(root, sub, False)
    assert time.monotonic() - started < 20  # a 30 s wait would be the cell's limit
    assert result["acts.ipynb:sigmoid"][:2] == (0.0, "timeout")
    assert result["acts.ipynb:sigmoid"][2].startswith("public case 1: no answer within 1 s")
