"""check() in a student's notebook: the verdicts of `grade --only` on the same files, shown in the
notebook as a table, and nothing at all while the grader itself runs the notebook."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

from grader import cli, confine
from grader.notebook_check import CheckError, check
from grader.project import Layout

LAYOUT = Layout(ROOT, "nndl")
ITEMS = ("nndl.optim:*", "relu_forward", "affine_forward")


def test_check_in_a_notebook_gives_the_verdicts_of_grade_only(tmp_path: Path) -> None:
    """A student half-way: the optimizers done (one of them wrong), the layers not started. The
    notebook, executed by nbclient as Jupyter would, shows the table and holds the same verdicts as
    `grade --only` on the same files."""
    student = tmp_path / "hw3"
    shutil.copytree(LAYOUT.template, student)
    optim = (LAYOUT.reference / "nndl" / "optim.py").read_text()
    wrong = optim.replace("next_w = w - config['learning_rate'] * dw", "next_w = w + config['learning_rate'] * dw")
    assert wrong != optim
    (student / "nndl" / "optim.py").write_text(wrong)
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(f"from utils.grading import check\nresult = check{ITEMS!r}\nresult"),
            nbformat.v4.new_code_cell("import json\nprint(json.dumps(result.verdicts()))"),
        ]
    )
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(student)}}
    ).execute()
    shown = notebook.cells[0].outputs[0]["data"]
    assert "<table>" in shown["text/html"] and "nndl.optim:sgd" in shown["text/html"]
    assert "not started" in shown["text/plain"]
    in_notebook = json.loads(notebook.cells[1].outputs[0]["text"])

    common = ["--student-mode", "--no-notebooks", "--quiet", "--json", str(tmp_path / "r.json")]
    assert cli.main([str(student), "--only", ",".join(ITEMS), *common]) == 0
    graded = json.loads((tmp_path / "r.json").read_text())["items"]
    assert in_notebook == {i["id"]: [i["points"], i["status"], i["message"]] for i in graded}
    statuses = {i["id"]: i["status"] for i in graded}
    assert statuses["nndl.optim:sgd"] == "fail" and statuses["nndl.optim:adam"] == "pass"
    assert statuses["nndl.layers:relu_forward"] == statuses["nndl.layers:affine_forward"] == "not_attempted"


def test_check_does_nothing_in_the_graders_kernel_and_says_what_is_wrong_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """(A notebook the grader runs that calls check() is the scaffold's: tests/test_scaffold.py.)"""
    with monkeypatch.context() as patched:
        patched.setattr(confine, "_applied", True)  # as in a kernel the grader confined
        assert check("affine_forward", path=LAYOUT.template) is None
    assert "skipped while the grader runs this notebook" in capsys.readouterr().out
    with pytest.raises(CheckError, match="is in no submission"):
        check(path=tmp_path)
    with pytest.raises(CheckError, match="--only afine_forward: no item of nndl is called that"):
        check("afine_forward", path=LAYOUT.template)
