"""Merging a human's points for `manual` items (inline questions, derivations) into reports.

The instructor fills a CSV with the columns `submission,id,points,comment`: one row
per submission folder name and manual item id, as `--csv` lists them with status
`manual`. Rows for other items, or with points outside 0..max, are refused loudly, and so is a row
whose submission or item matches nothing graded (a misspelt name would otherwise be a silent
zero). A file saved by Excel (with a byte-order mark) reads as any other.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from grader.results import ItemResult, Report

COLUMNS = ("submission", "id", "points", "comment")


class ManualGradesError(ValueError):
    """The manual-grades file is malformed; the message names the row."""


def read(path: Path) -> dict[tuple[str, str], tuple[float, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS[:3] if c not in (reader.fieldnames or [])]
        if missing:
            raise ManualGradesError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        grades = {}
        for line, row in enumerate(reader, start=2):
            if not (row.get("points") or "").strip():
                continue  # not graded yet
            try:
                points = float(row["points"])
            except ValueError as exc:
                raise ManualGradesError(f"{path}:{line}: points {row['points']!r} is not a number") from exc
            grades[(row["submission"].strip(), row["id"].strip())] = (points, (row.get("comment") or "").strip())
    return grades


GRADED = "graded by a person"  # how a merged item's message starts; the JSON format has no field for it
# What a manual item's message holds before a person grades it (after the intro), and after, below
# the comment: the student's answer, kept for whoever reads the feedback.
ANSWER_INTRO = "answer for a human to grade:\n"
ANSWERED = "\n\nthe answer:\n"


def graded_by_person(item: ItemResult) -> bool:
    """Whether a TA's points were merged into this item (see merge)."""
    return item.status == "manual" and item.message.startswith(GRADED)


def comment_and_answer(item: ItemResult) -> tuple[str, str]:
    """A manual item's (comment of the person who graded it, the student's answer), each "" where
    there is none."""
    if graded_by_person(item):
        graded, _, answer = item.message.partition(ANSWERED)
        return graded.removeprefix(GRADED).removeprefix(":").strip(), answer
    return "", item.message.removeprefix(ANSWER_INTRO) if item.message.startswith(ANSWER_INTRO) else ""


def merge(report: Report, grades: dict[tuple[str, str], tuple[float, str]]) -> Report:
    """The report with every graded manual item's points and comment filled in."""
    name = Path(report.submission).name
    items = []
    for item in report.items:
        key = (name, item.id)
        if key not in grades:
            items.append(item)
            continue
        if item.status != "manual":
            raise ManualGradesError(f"{item.id} is not a manual item; only manual items take points by hand")
        points, comment = grades[key]
        if not 0 <= points <= item.max_points:
            raise ManualGradesError(f"{name} {item.id}: points {points:g} outside 0..{item.max_points:g}")
        _, answer = comment_and_answer(item)
        graded = f"{GRADED}: {comment}".rstrip(": ") + (f"{ANSWERED}{answer}" if answer else "")
        items.append(replace(item, points=points, message=graded))
    return replace(report, items=tuple(items))


def unmatched(
    grades: dict[tuple[str, str], tuple[float, str]], reports: Sequence[Report], whole_class: bool
) -> list[str]:
    """The rows that match no graded item, and (when a whole class was graded) no submission."""
    names = {Path(r.submission).name for r in reports}
    items = {i.id for r in reports for i in r.items}
    problems = []
    for name, item_id in sorted(grades):
        if item_id not in items:
            problems.append(f"{name} {item_id}: no item has this id")
        elif whole_class and name not in names:
            close = sorted(n for n in names if n.lower() == name.lower() or n.strip() == name.strip())
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{name} {item_id}: no submission is named {name!r}{hint}")
    return problems
