"""A CSV that Canvas's gradebook imports (Grades, Import): its own column layout.

Canvas reads the columns `Student`, `ID`, `SIS User ID`, `SIS Login ID` and `Section` to find each
student (any one identifier is enough) and one column per assignment, named as in its gradebook
("HW3 (1234)") or, for a new assignment, by its name; a first row `Points Possible` gives the
assignment's points. A blank cell leaves Canvas's grade alone: a submission with questions no
person has graded yet gets a blank, never a partial total, and so does a grade the grader could not
give. Students come from the roster (`grader.roster`); a submission without a roster row cannot be
matched in Canvas and is left out, said on the terminal.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from grader import inert
from grader.atomic import atomic_write
from grader.manual import graded_by_person
from grader.results import Report
from grader.roster import Student

IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def _score(report: Report) -> str:
    complete = all(graded_by_person(i) for i in report.items if i.status == "manual")
    return f"{report.total:g}" if complete and not report.grader_faults else ""


def rows(reports: list[Report], students: dict[str, Student], column: str) -> list[list[str]]:
    """The file's rows, header first."""
    points = max((r.max_total for r in reports), default=0.0)
    out = [[*IDENTITY, column], ["Points Possible", "", "", "", "", f"{points:g}"]]
    for report in sorted(reports, key=lambda r: r.submission.lower()):
        student = students.get(report.submission)
        if student is None:
            continue
        identity = [student.name, student.canvas_id, student.student_id, student.sis_login_id, student.section]
        out.append([str(inert.csv_cell(v)) for v in identity] + [_score(report)])
    return out


def write(reports: list[Report], students: dict[str, Student], column: str, path: Path) -> list[str]:
    """Writes the import file; returns the submissions left out (no roster row)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows(reports, students, column))
    atomic_write(path, buffer.getvalue().encode("utf-8"))
    return [r.submission for r in reports if r.submission not in students]
