"""Authoring that cannot leak: a reference marked for nbgrader or otter builds a template without its
solutions, a marker of no known dialect is refused at its line, and a template that would still hold a
graded function's reference code is never written (nor passes `--check`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from bugs import TEST_SEED

from grader.authoring import cli as build_cli
from grader.authoring import template
from grader.engine import grade, load_assignment
from grader.options import GradeOptions
from grader.project import Layout

OPS = '''\
import numpy as np


def relu(x):
    """Elementwise max(x, 0)."""
    ### BEGIN SOLUTION
    out = np.maximum(x, 0.0)
    ### END SOLUTION
    return out


def scaled_tanh(x):
    """2 * tanh(x)."""
    scale = 2.0  # SOLUTION
    return scale * np.tanh(x)  # SOLUTION
'''

SOFTPLUS = 'def softplus(x):\n    """log(1 + e^x), stable for large x."""\n    return np.logaddexp(0.0, x)'
TESTS = (
    "assert np.isclose(softplus(np.zeros(1))[0], np.log(2.0))\n"
    "### BEGIN HIDDEN TESTS\nassert softplus(1e3) > 999\n### END HIDDEN TESTS"
)
ANSWER = (
    "Why does `softplus` use `logaddexp`?\n\n### BEGIN SOLUTION\nIt never overflows for large inputs.\n### END SOLUTION"
)
NOTEBOOK_CELLS = [
    ("import numpy as np\n%matplotlib inline", {}),
    (SOFTPLUS, {"solution": True}),
    (TESTS, {"grade": True}),
    (ANSWER, {"solution": True}),
]

RUBRIC = """
[assignment]
name = "toy"
instructor_only = ["rubric.toml"]

[[item]]
id = "toy.ops:relu"
kind = "compare"
points = 2
params = ["x"]
returns = ["out"]
compare = ["out"]
tolerance = 1e-9
dims = {N = 4, D = 3}
[[item.case]]
x = {randn = ["N", "D"]}

[[item]]
id = "toy.ops:scaled_tanh"
kind = "compare"
points = 1
params = ["x"]
returns = ["out"]
compare = ["out"]
tolerance = 1e-9
dims = {N = 4, D = 3}
[[item.case]]
x = {randn = ["N", "D"]}

[[item]]
id = "nb.ipynb:softplus"
notebook = "nb.ipynb"
kind = "compare"
points = 2
params = ["x"]
returns = ["out"]
compare = ["out"]
tolerance = 1e-9
dims = {N = 4, D = 3}
[[item.case]]
x = {randn = ["N", "D"], scale = 3.0}
"""


def _course(root: Path, ops: str = OPS, cells: list[tuple[str, dict]] = NOTEBOOK_CELLS) -> Path:
    ref = root / "reference" / "toy"
    (ref / "toy").mkdir(parents=True)
    (ref / "grade.toml").write_text('assignment = "toy"\n')
    (ref / "rubric.toml").write_text(RUBRIC)
    (ref / "toy" / "__init__.py").write_text("")
    (ref / "toy" / "ops.py").write_text(ops)
    nb = nbformat.v4.new_notebook()
    for source, nbgrader in cells:
        kind = nbformat.v4.new_markdown_cell if source.startswith("Why") else nbformat.v4.new_code_cell
        nb.cells.append(kind(source, metadata={"nbgrader": nbgrader} if nbgrader else {}))
    nbformat.write(nb, ref / "nb.ipynb")
    return root


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _course(tmp_path_factory.mktemp("course"))
    assert build_cli.main(["--course", str(root)]) == 0
    assert build_cli.main(["--course", str(root), "--check"]) == 0
    return root


def test_a_reference_marked_for_nbgrader_and_otter_builds_a_template_without_its_solutions(course: Path) -> None:
    layout = Layout(course, "toy")
    ops = (layout.template / "toy" / "ops.py").read_text()
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()\n    return out" in ops
    assert "    scale = ...\n    ...\n" in ops
    cells = nbformat.read(layout.template / "nb.ipynb", as_version=4).cells
    assert cells[0].source == NOTEBOOK_CELLS[0][0]
    assert cells[1].source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert cells[2].source == "assert np.isclose(softplus(np.zeros(1))[0], np.log(2.0))"
    assert cells[3].source == "Why does `softplus` use `logaddexp`?\n\nYOUR ANSWER HERE\n"
    secrets, _ = template.reference_secrets(layout.reference, {"rubric.toml"})
    assert {"out = np.maximum(x, 0.0)", "return np.logaddexp(0.0, x)", "assert softplus(1e3) > 999"} <= secrets
    written = "\n".join(p.read_text() for p in layout.template.rglob("*") if p.is_file())
    assert not [line for line in secrets if line in written]


@pytest.mark.parametrize("instructor", [True, False])
def test_the_reference_earns_full_marks_and_the_template_none(course: Path, instructor: bool) -> None:
    layout = Layout(course, "toy")
    assignment = load_assignment(layout.fixtures, layout.reference if instructor else None)
    options = GradeOptions(hidden_seed=TEST_SEED)
    reference = grade(layout.reference, assignment, options)
    assert [(i.id, i.status) for i in reference.items if i.status != "pass"] == []
    untouched = {i.id: (i.points, i.status, i.message) for i in grade(layout.template, assignment, options).items}
    assert untouched["toy.ops:relu"][:2] == untouched["toy.ops:scaled_tanh"][:2] == (0, "not_attempted")
    # nbgrader's solution cell without a region leaves its stub only: the student writes the whole
    # function, and until then the notebook does not define it, which is not attempted, not an error.
    message = "not attempted: softplus is still the template's stub"
    assert untouched["nb.ipynb:softplus"] == (0, "not_attempted", message)


def test_a_function_written_where_the_template_had_none_is_graded(course: Path, tmp_path: Path) -> None:
    """Defined in a cell of the student's own (and wrong): attempted, and graded as any attempt is."""
    layout = Layout(course, "toy")
    submission = tmp_path / "student"
    shutil.copytree(layout.template, submission)
    nb = nbformat.read(submission / "nb.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("def softplus(x):\n    return np.maximum(x, 0.0)"))
    nbformat.write(nb, submission / "nb.ipynb")
    assignment = load_assignment(layout.fixtures, layout.reference)
    report = grade(submission, assignment, GradeOptions(hidden_seed=TEST_SEED))
    assert {i.id: i.status for i in report.items}["nb.ipynb:softplus"] == "fail"


@pytest.mark.parametrize(
    "marker",
    ["# <SOLUTION>", "# START ANSWER", "## Solution begins", "#### solution ####", "# ---- begin solution ----"],
)
def test_a_marker_of_no_known_dialect_is_refused_at_its_line(marker: str) -> None:
    source = f"def f(x):\n    {marker}\n    return x\n"
    with pytest.raises(template.TemplateError, match=r"t\.py:2: .* looks like a solution marker .*nbgrader's"):
        template.strip_solutions(source, "t.py")


@pytest.mark.parametrize(
    "line",
    [
        "# TODO: Copy over your solution from cs260/classifiers/softmax.py.",
        'print("# answer")',
        "# *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****",
        "# the hidden layer's output, kept for the backward pass",
    ],
)
def test_comments_that_only_mention_a_solution_are_not_markers(line: str) -> None:
    source = f"def f(x):\n    {line}\n    return x\n"
    assert template.strip_solutions(source, "t.py") == source


def test_otter_prompts_and_no_prompt_regions_leave_the_prompt_only() -> None:
    source = (
        "def f(x):\n"
        '    """ # BEGIN PROMPT\n'
        "    return ...\n"
        '    """ # END PROMPT\n'
        "    # BEGIN SOLUTION NO PROMPT\n"
        "    return 2 * x\n"
        "    # END SOLUTION\n"
        "y = f(1)  # SOLUTION NO PROMPT\n"
    )
    assert template.strip_solutions(source, "t.py") == "def f(x):\n    return ...\n"


def test_a_region_that_leaves_no_statement_is_refused_with_what_to_add() -> None:
    source = "def f(x):\n    # BEGIN SOLUTION NO PROMPT\n    return 2 * x\n    # END SOLUTION\n"
    message = r"t\.py: the template would not parse \(expected an indented block.*, at its line 1\).*# STUB: <code>"
    with pytest.raises(template.TemplateError, match=message):
        template.strip_solutions(source, "t.py")


@pytest.mark.parametrize(
    "source, message",
    [
        (
            "### BEGIN SOLUTION\nx = 1\n### END HIDDEN TESTS\n",
            r"t\.py:3: ### END HIDDEN TESTS without a ### BEGIN HIDDEN TESTS before it",
        ),
        ("### BEGIN HIDDEN TESTS\nassert x\n", r"t\.py:1: ### BEGIN HIDDEN TESTS is never closed"),
    ],
)
def test_malformed_nbgrader_regions_are_named(source: str, message: str) -> None:
    with pytest.raises(template.TemplateError, match=message):
        template.strip_solutions(source, "t.py")


def test_a_markdown_region_never_closed_is_named() -> None:
    cell = nbformat.v4.new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause.")
    with pytest.raises(template.TemplateError, match=r"nb\.ipynb cell 3:3: BEGIN SOLUTION is never closed"):
        template.template_cell(cell, "nb.ipynb cell 3")


def test_a_graded_function_left_unmarked_is_never_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The instructor forgot the markers of one function: the build refuses, naming it, writes nothing,
    and `--check` of a course built before the change fails the same way."""
    root = _course(tmp_path)
    assert build_cli.main(["--course", str(root)]) == 0
    ops = root / "reference" / "toy" / "toy" / "ops.py"
    ops.write_text(OPS.replace("    ### BEGIN SOLUTION\n", "").replace("    ### END SOLUTION\n", ""))
    before = {p: p.read_bytes() for p in (root / "student_template").rglob("*") if p.is_file()}
    capsys.readouterr()
    for check in ([], ["--check"]):
        assert build_cli.main(["--course", str(root), *check]) == 2
        err = capsys.readouterr().err
        assert "toy/ops.py: relu (graded by toy.ops:relu) is the reference's code in the template" in err
        assert "scaled_tanh" not in err and "softplus" not in err
    assert {p: p.read_bytes() for p in (root / "student_template").rglob("*") if p.is_file()} == before


def test_a_graded_notebook_function_left_unmarked_is_never_written(tmp_path: Path) -> None:
    cells = [NOTEBOOK_CELLS[0], (SOFTPLUS, {}), *NOTEBOOK_CELLS[2:]]
    root = _course(tmp_path, cells=cells)
    with pytest.raises(template.TemplateError, match=r"nb\.ipynb: softplus \(graded by nb\.ipynb:softplus\)"):
        build_cli.build(Layout(root, "toy"))


def test_an_unknown_marker_in_a_notebook_cell_names_the_cell(tmp_path: Path) -> None:
    source = "def softplus(x):\n    # >>> SOLUTION <<<\n    return np.logaddexp(0.0, x)"
    root = _course(tmp_path, cells=[NOTEBOOK_CELLS[0], (source, {}), *NOTEBOOK_CELLS[2:]])
    with pytest.raises(template.TemplateError, match=r"nb\.ipynb cell 1:2: .* looks like a solution marker"):
        build_cli.build(Layout(root, "toy"))
