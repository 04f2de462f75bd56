"""`check(...)` in a student's notebook: the named items of the student's files as saved, graded as
`grade --only` grades them, shown in the notebook.

Grading runs in a `grade` process of its own, in student mode, exactly as on the command line: the
kernel asking is the student's, so what it shows is for the student only, and nothing it does can
change a grade. While the grader itself runs the notebook, check() does nothing.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.project import MARKER, marker_above


class CheckError(RuntimeError):
    """check() could not grade: the message is what `grade` said, and what to do."""


@dataclass(frozen=True)
class Checked:
    """What check() found: the report of the items named. Shown as a table in Jupyter, as text
    elsewhere."""

    report: dict[str, Any]

    @property
    def items(self) -> list[dict[str, Any]]:
        return list(self.report["items"])

    @property
    def passed(self) -> bool:
        """Every item named earned all its points."""
        return all(i["points"] >= i["max_points"] for i in self.items)

    def verdicts(self) -> dict[str, tuple[float, str, str]]:
        """item id -> (points, status, message)."""
        return {i["id"]: (i["points"], i["status"], i["message"]) for i in self.items}

    def __str__(self) -> str:
        from grader.batch import report_from_json
        from grader.terminal import text

        return text(report_from_json(self.report), width=100)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr><td><code>{}</code></td><td>{:g}/{:g}</td><td>{}</td><td style='text-align:left'>{}</td></tr>".format(
                html.escape(i["id"]),
                i["points"],
                i["max_points"],
                html.escape(i["status"].replace("_", " ")),
                html.escape(i["message"]).replace("\n", "<br>"),
            )
            for i in self.items
        )
        total = f"{self.report['total']:g} / {self.report['max_total']:g}"
        return (
            "<table><thead><tr><th>item</th><th>points</th><th>status</th><th>message</th></tr></thead>"
            f"<tbody>{rows}</tbody></table><p><b>total: {total}</b></p>"
        )


def run_by_the_grader() -> bool:
    """Whether this is a kernel (or child) the grader confined to grade the submission. Told by the
    process's own state, not by a variable of its environment, which names nothing of the grader's."""
    from grader import confine

    return confine.applied()


def submission_root(start: Path) -> Path:
    """The submission the notebook is in: the nearest folder at or above start with a grade.toml."""
    if (start / MARKER).is_file():
        return start
    above = marker_above(start)
    if above is None:
        raise CheckError(f"{start} is in no submission (no {MARKER} here or above): open the notebook in your clone")
    return above


def check(*items: str, path: str | os.PathLike[str] | None = None, notebooks: bool = False) -> Checked | None:
    """Grade the items named (ids, short names or globs, as `grade --only` takes them; all of them
    without a name) in the files as they are saved: save the .py files you changed first. The
    notebooks are not run unless `notebooks=True` (their items take minutes); `grade` grades all."""
    if run_by_the_grader():
        print("check(): skipped while the grader runs this notebook")
        return None
    root = submission_root(Path(path) if path is not None else Path.cwd())
    with tempfile.TemporaryDirectory(prefix="grade-check-") as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "grader.cli", str(root), "--student-mode", "--quiet", "--json", str(report)]
        command += ["--only", ",".join(items)] if items else []
        command += [] if notebooks else ["--no-notebooks"]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=root)
        if not report.is_file():
            said = done.stderr.strip().splitlines()
            raise CheckError(said[-1].removeprefix("grade: ") if said else f"grade exited with {done.returncode}")
        data = json.loads(report.read_text())
    return Checked(data)
