"""`python -m grader.github_summary REPORT.json`: a grade report in GitHub Actions' terms.

- The score table goes to the job summary (the file `$GITHUB_STEP_SUMMARY` names).
- Each item that lost points becomes a workflow annotation on the student's own file (at the line
  of the graded function when it can be found), the most points lost first. A step shows at most
  10 errors and 10 warnings, so no more are printed; the summary says how many more there are.
- With `--classroom`, the step's output `result` is the score in the form GitHub Classroom's
  autograding grading reporter reads (`classroom-resources/autograding-grading-reporter`): the
  base64 of `{"version": 1, "status", "max_score", "tests": [{"name", "status", "score", ...}]}`,
  passed to it as `<RUNNER ID>_RESULTS`. The reporter adds up the tests' scores and writes
  "Points X/Y" on the check run named "Autograding Tests", which Classroom reads.
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from grader import inert
from grader.parsing import parse
from grader.project import source_file

# What a step shows of each level (GitHub's limit per step); the rest is in the summary.
ANNOTATIONS_PER_LEVEL = 10


def _points(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _automatic(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The items scored by the grader: a person's questions are not a failure to mark."""
    return [i for i in report["items"] if i["status"] != "manual"]


def _target(item_id: str) -> tuple[str, str] | None:
    """The file an item is about, relative to the submission, and the name of its object there."""
    if item_id.startswith("notebook:"):
        return item_id.split(":")[1], ""
    if ":" not in item_id or item_id.startswith(("threshold:", "manual:")):
        return None
    where, name = item_id.split(":", 1)
    return source_file(where), name.split("[")[0]


def _line(path: Path, qualname: str) -> int | None:
    """The line of `def`/`class` qualname in a Python file, if it parses and has one."""
    if path.suffix != ".py" or not qualname:
        return None
    try:
        tree = parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    body: list[ast.stmt] = tree.body
    found: ast.stmt | None = None
    for part in qualname.split("."):
        found = next(
            (
                n
                for n in body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n.name == part
            ),
            None,
        )
        if found is None:
            return None
        body = getattr(found, "body", [])
    return found.lineno if found is not None else None


def _lost(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Items that lost points, the most lost first (then in rubric order)."""
    lost = [i for i in _automatic(report) if i["points"] < i["max_points"]]
    return sorted(lost, key=lambda i: -(i["max_points"] - i["points"]))


def _level(item: dict[str, Any]) -> str:
    return "warning" if item["status"] == "not_attempted" else "error"


def annotation_lines(report: dict[str, Any], prefix: str = "", root: Path | None = None) -> list[str]:
    """The workflow commands for the items that lost points, within the per-step limit of each level.
    `prefix` is the submission's folder in the repository, `root` where it is on disk (for lines)."""
    out = []
    shown = {"error": 0, "warning": 0}
    for i in _lost(report):
        level = _level(i)
        if shown[level] == ANNOTATIONS_PER_LEVEL:
            continue
        shown[level] += 1
        properties = []
        target = _target(i["id"])
        if target is not None:
            path, qualname = target
            properties.append(f"file={inert.workflow_property((prefix + '/' if prefix else '') + path)}")
            line = _line(root / path, qualname) if root is not None else None
            if line is not None:
                properties.append(f"line={line}")
        title = f"{i['id']} ({_points(i['points'])}/{_points(i['max_points'])}, {i['status']})"
        properties.append(f"title={inert.workflow_property(title)}")
        out.append(f"::{level} {','.join(properties)}::{inert.workflow_data(i['message'] or i['status'])}")
    return out


def summary_markdown(report: dict[str, Any]) -> str:
    manual = [i for i in report["items"] if i["status"] == "manual"]
    automatic = _automatic(report)
    total = sum(i["points"] for i in automatic)
    most = sum(i["max_points"] for i in automatic)
    lines = [
        f"## {inert.markdown_inline(str(report['assignment']))}: {_points(total)} / {_points(most)}",
        "",
        (f"Graded in {inert.markdown_inline(str(report['mode']))} mode: this is feedback, not the final grade."),
    ]
    if manual:
        lines.append(
            f"The {len(manual)} question(s) graded by a person ({_points(sum(i['max_points'] for i in manual))} "
            "points) are not in this score."
        )
    lost = _lost(report)
    hidden = sum(max(0, sum(1 for i in lost if _level(i) == lv) - ANNOTATIONS_PER_LEVEL) for lv in ("error", "warning"))
    if hidden:
        lines.append(f"{hidden} more item(s) lost points than the run can mark on your files: see the table.")
    lines += ["", "| item | points | status | message |", "|---|---:|---|---|"]
    for i in automatic:
        message = inert.markdown_inline(str(i["message"]).split("\n")[0][:200])
        # Ids and statuses come from the rubric and the grader, not from students.
        lines.append(
            f"| `{i['id']}` | {_points(i['points'])} / {_points(i['max_points'])} | {i['status']} | {message} |"
        )
    return "\n".join(lines) + "\n"


def classroom_result(report: dict[str, Any]) -> dict[str, Any]:
    """The score in the runner-result form GitHub Classroom's grading reporter reads: one test per
    automatic item, worth its points; manual items are a person's to grade and are left out."""
    tests = []
    for i in _automatic(report):
        status = "pass" if i["points"] >= i["max_points"] else ("error" if i["status"] == "grader_error" else "fail")
        tests.append(
            {
                "name": f"{i['id']}: {i['title']}",
                "status": status,
                "score": i["points"],
                "message": "" if status == "pass" else (i["message"] or i["status"]),
                "test_code": "",
                "filename": (_target(i["id"]) or ("", ""))[0],
                "line_no": 0,
                "duration": round(float(i.get("duration_s") or 0) * 1000),
            }
        )
    statuses = {t["status"] for t in tests}
    overall = "error" if "error" in statuses else ("fail" if "fail" in statuses else "pass")
    return {
        "version": 1,
        "status": overall,
        "max_score": sum(i["max_points"] for i in _automatic(report)),
        "tests": tests,
    }


def _encode(result: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(result).encode("utf-8")).decode("ascii")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.github_summary", description=__doc__)
    parser.add_argument("report", type=Path)
    parser.add_argument("--prefix", default="", help="folder of the submission in the repository (default: its root)")
    parser.add_argument("--root", type=Path, default=Path("."), help="where the submission is, to find lines")
    parser.add_argument(
        "--classroom", action="store_true", help="set the step output `result` for GitHub Classroom's reporter"
    )
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"::error::no grade report at {args.report}: the grading step failed before writing it")
        return 1
    data = json.loads(args.report.read_text())
    reports = data if isinstance(data, list) else [data]
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    for report in reports:
        if summary:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(summary_markdown(report))
        else:
            sys.stdout.write(summary_markdown(report))
        for line in annotation_lines(report, args.prefix, args.root):
            print(line)
    if args.classroom:
        if len(reports) != 1:
            print("::error::the Classroom score is one submission's; this report holds several")
            return 1
        output = os.environ.get("GITHUB_OUTPUT")
        line = f"result={_encode(classroom_result(reports[0]))}\n"
        if output:
            with open(output, "a", encoding="utf-8") as f:
                f.write(line)
        else:
            sys.stdout.write(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
