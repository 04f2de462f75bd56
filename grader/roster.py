"""The class roster (`--roster roster.csv`): who each submission belongs to, for the gradebook and the LMS.

One row per student. The column that names the submission is `submission` (the folder's name) or
`github_username` (as GitHub Classroom's roster export has it: a roster clone's folders are
`<assignment>-<github_username>`); the others are optional: `student_id` (or Classroom's
`identifier`), `name`, `email`, and for a Canvas import `canvas_id`, `sis_login_id`, `section`.
A file saved by Excel (with a byte-order mark) reads as any other.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

KEYS = ("submission", "github_username")
FIELDS = {
    "student_id": ("student_id", "identifier", "sis_user_id"),
    "name": ("name", "full_name"),
    "email": ("email",),
    "canvas_id": ("canvas_id",),
    "sis_login_id": ("sis_login_id", "login_id"),
    "section": ("section",),
}
COLUMNS = ("student_id", "name", "email")  # what the gradebook shows of each student


class RosterError(ValueError):
    """The roster cannot be read; the message names the file and the row."""


@dataclass(frozen=True)
class Student:
    key: str  # the submission folder's name, or the GitHub user name
    student_id: str = ""
    name: str = ""
    email: str = ""
    canvas_id: str = ""
    sis_login_id: str = ""
    section: str = ""


def read(path: Path) -> tuple[Student, ...]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
            key = next((header[k] for k in KEYS if k in header), None)
            if key is None:
                raise RosterError(f"{path}: no column {' or '.join(KEYS)} to match the submissions by")
            students = []
            for line, row in enumerate(reader, start=2):
                name = (row.get(key) or "").strip()
                if not name:
                    raise RosterError(f"{path}:{line}: the {key} column is empty")
                found = {
                    field: next(((row.get(header[c]) or "").strip() for c in names if c in header), "")
                    for field, names in FIELDS.items()
                }
                students.append(Student(name, **found))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RosterError(f"{path}: cannot be read as a CSV file ({exc})") from exc
    keys = [s.key.lower() for s in students]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise RosterError(f"{path}: {twice[0]!r} is on more than one row")
    return tuple(students)


def match(students: Iterable[Student], submissions: Iterable[str]) -> dict[str, Student]:
    """Each submission's student: the row whose key is its folder name, or ends it after a '-' (a
    GitHub Classroom clone), the longest such key winning; GitHub user names ignore case."""
    by_key = sorted(students, key=lambda s: -len(s.key))
    found = {}
    for name in submissions:
        lowered = name.lower()
        for student in by_key:
            key = student.key.lower()
            if lowered == key or lowered.endswith(f"-{key}"):
                found[name] = student
                break
    return found
