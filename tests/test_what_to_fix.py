""" "What to fix" lists each cause once: the functions not started in one line, and one message that
fails several items the same way (a file that cannot be imported) once, naming them all."""

from __future__ import annotations

from grader.class_reports import feedback
from grader.reports import what_to_fix
from grader.results import ItemResult, Report
from grader.terminal import text as table

IMPORT_ERROR = (
    "nndl/optim.py cannot be imported: SyntaxError: unmatched ')' (optim.py, line 52)\n"
    '  File "nndl/optim.py", line 52'
)


def item(item_id: str, points: float, status: str, message: str) -> ItemResult:
    return ItemResult(item_id, item_id, points, 2.0, status, message, 0.0)  # type: ignore[arg-type]


REPORT = Report(
    "nndl",
    "student",
    "0",
    "alice",
    (
        item("nndl.layers:affine_forward", 2.0, "pass", ""),
        item(
            "nndl.layers:relu_forward", 0.0, "not_attempted", "not attempted: relu_forward is still the template's stub"
        ),
        item("nndl.layers:svm_loss", 0.0, "not_attempted", "not attempted: svm_loss is still the template's stub"),
        item("nndl.optim:sgd", 0.0, "error", IMPORT_ERROR),
        item("nndl.optim:adam", 0.0, "error", IMPORT_ERROR),
        item("nndl.layers:softmax_loss", 1.0, "partial", "public case 2: dx is off"),
    ),
)


def test_stubs_and_one_cause_of_several_failures_are_listed_once() -> None:
    stubs, fixes = what_to_fix(REPORT)
    assert stubs is not None and stubs.names == "nndl.layers: relu_forward, svm_loss" and stubs.points == "0/4"
    assert [(f.names, f.points, f.status) for f in fixes] == [
        ("nndl.optim: sgd, adam", "0/4", "error"),
        ("nndl.layers:softmax_loss", "1/2", "partial"),
    ]


def test_the_terminal_and_the_feedback_show_each_cause_once() -> None:
    text = table(REPORT, width=200)
    fix = text.split("What to fix:\n", 1)[1]
    assert fix.startswith("- not started (2 items, 0/4 points):\n    nndl.layers: relu_forward, svm_loss\n")
    assert fix.count("cannot be imported") == 1 and "- nndl.optim: sgd, adam (0/4, error):" in fix
    assert "template's stub" not in fix
    markdown = feedback(REPORT, "figures")
    assert markdown.count("cannot be imported") == 1 and "### `nndl.optim:sgd`, `nndl.optim:adam` (error)" in markdown
    assert "### Not started (2 item(s), 0/4 points)" in markdown and "- `nndl.layers:svm_loss`" in markdown


def test_nothing_to_fix_prints_no_heading() -> None:
    done = Report("nndl", "student", "0", "bob", (item("nndl.layers:affine_forward", 2.0, "pass", ""),))
    assert what_to_fix(done) == (None, [])
    assert "What to fix" not in table(done, 80) and "What to fix" not in feedback(done, "figures")


def test_the_terminal_report_fits_80_columns_and_tells_a_student_nothing_meant_for_staff() -> None:
    """Long ids and messages wrap or end in an ellipsis within the width; a written answer waiting for
    a grader is for the staff to merge in instructor mode, and only a fact in student mode; a wrapped
    line of a student's text that would start with "::" (a CI runner's command) is made inert again."""
    # Wrapped at a space, each line of the message after its first starts with "::add-mask::".
    long = "public case 1: the gradient is off by a factor of two " + "::add-mask::secret " * 12
    report = Report(
        "nndl",
        "student",
        "0",
        "alice",
        (
            item("nndl.layer_utils:affine_batchnorm_relu_backward", 0.0, "fail", long),
            item("nndl.layers:svm_loss", 0.0, "not_attempted", "not attempted"),
            item("manual:fc_depth", 0.0, "manual", "Deeper nets overfit sooner."),
        ),
    )
    for width in (80, 60):
        lines = table(report, width).splitlines()
        assert max(len(line) for line in lines) <= width
        assert not [line for line in lines if line.lstrip().startswith("::")]
    student = table(report, 80)
    assert "affine_batchnorm_relu_backward" in student and "\n    '::add-mask::secret" in student
    assert "1 written answer(s) wait for a person: the course staff grade them." in student
    assert "--manual-grades" not in student
    staff = table(Report("nndl", "instructor", "0", "alice", report.items), 80)
    assert "merge points with --manual-grades FILE" in staff
