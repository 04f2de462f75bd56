"""`python -m grader.github_summary REPORT.json`: a grade report in GitHub Actions' terms.

Writes the score table to the job summary (the file `$GITHUB_STEP_SUMMARY` names) and
prints one workflow annotation (`::error file=...::message`) per item that lost points,
pointing at the student's file when the item is about one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from grader import inert
from grader.project import source_file


def _points(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def summary_markdown(report: dict[str, Any]) -> str:
    lines = [
        (
            f"## {inert.markdown_inline(str(report['assignment']))}: {_points(report['total'])} / "
            f"{_points(report['max_total'])}"
        ),
        "",
        (f"Graded in {inert.markdown_inline(str(report['mode']))} mode: this is feedback, not the final grade."),
        "",
        "| item | points | status | message |",
        "|---|---:|---|---|",
    ]
    for i in report["items"]:
        message = inert.markdown_inline(str(i["message"]).split("\n")[0][:200])
        # Ids and statuses come from the rubric and the grader, not from students.
        lines.append(
            f"| `{i['id']}` | {_points(i['points'])} / {_points(i['max_points'])} | {i['status']} | {message} |"
        )
    return "\n".join(lines) + "\n"


def annotation_lines(report: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for i in report["items"]:
        if i["points"] >= i["max_points"] or i["status"] == "manual":
            continue
        item_id = i["id"]
        target = ""
        if ":" in item_id and not item_id.startswith(("notebook:", "threshold:", "manual:")):
            path = source_file(item_id.split(":", 1)[0])
            target = f"file={inert.workflow_property((prefix + '/' if prefix else '') + path)},"
        level = "warning" if i["status"] == "not_attempted" else "error"
        title = f"{item_id} ({_points(i['points'])}/{_points(i['max_points'])}, {i['status']})"
        out.append(
            f"::{level} {target}title={inert.workflow_property(title)}::"
            f"{inert.workflow_data(i['message'] or i['status'])}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.github_summary", description=__doc__)
    parser.add_argument("report", type=Path)
    parser.add_argument("--prefix", default="", help="folder of the submission in the workspace")
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
        for line in annotation_lines(report, args.prefix):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
