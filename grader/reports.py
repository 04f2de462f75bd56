"""Report writers. Every file format has the same contract (`Writer`): the run's reports in, one
file of one shape out. (The terminal's view of a report is `grader.terminal`'s.)"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from grader import inert
from grader.atomic import atomic_write
from grader.results import ItemResult, Report, figure_file, file_stem

if TYPE_CHECKING:
    import pandas as pd


class Writer(Protocol):
    """A report file format: the reports of one run in, one file of one shape out. A format that
    describes one submission raises ReportCountError for any other number of reports."""

    def __call__(self, reports: Sequence[Report], path: Path) -> None: ...


class ReportCountError(ValueError):
    """A one-submission format was given another number of reports."""


def one_report(reports: Sequence[Report], what: str) -> Report:
    if len(reports) != 1:
        raise ReportCountError(f"{what} describes one submission; this run graded {len(reports)}")
    return reports[0]


CSV_COLUMNS = ["submission", "id", "title", "points", "max_points", "status", "message", "duration_s"]


def points_text(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Fix:
    """One entry of "What to fix": the items one message is about (several when one cause, such
    as a file that cannot be imported, fails each of them the same way)."""

    items: tuple[ItemResult, ...]
    message: str

    @property
    def names(self) -> str:
        """The items' ids, their shared module (or notebook) written once."""
        heads = {i.id.split(":", 1)[0] for i in self.items}
        if len(self.items) > 1 and len(heads) == 1 and all(":" in i.id for i in self.items):
            return f"{heads.pop()}: " + ", ".join(i.id.split(":", 1)[1] for i in self.items)
        return ", ".join(i.id for i in self.items)

    @property
    def status(self) -> str:
        return "/".join(dict.fromkeys(i.status for i in self.items))

    @property
    def points(self) -> str:
        return f"{points_text(sum(i.points for i in self.items))}/{points_text(sum(i.max_points for i in self.items))}"


def what_to_fix(report: Report) -> tuple[Fix | None, list[Fix]]:
    """The items not started, as one entry (None if there are none), and the others that lost points
    or say something, in rubric order, items with the very same message in one entry."""
    not_started = tuple(i for i in report.items if i.status == "not_attempted")
    stubs = Fix(not_started, "") if not_started else None
    grouped: dict[str, list[ItemResult]] = {}
    for i in report.items:
        if i.status not in ("pass", "manual", "not_attempted") and i.message:
            grouped.setdefault(i.message, []).append(i)
    return stubs, [Fix(tuple(items), message) for message, items in grouped.items()]


def write_figures(report: Report, folder: Path) -> list[Path]:
    """The notebooks' figures as PNG files in folder/<submission name>/."""
    written: list[Path] = []
    if not report.figures:
        return written
    target = folder / file_stem(report.submission)
    target.mkdir(parents=True, exist_ok=True)
    for name, data in report.figures:
        path = target / figure_file(name)
        path.write_bytes(data)
        written.append(path)
    return written


def write_json_data(data: object, path: Path) -> None:
    atomic_write(path, (json.dumps(data, indent=2) + "\n").encode())


def write_report_json(reports: Sequence[Report], path: Path) -> None:
    """One submission's report: the object of docs/architecture.md's JSON format."""
    write_json_data(one_report(reports, "a submission's JSON report").to_dict(), path)


def write_class_json(reports: Sequence[Report], path: Path) -> None:
    """Several submissions (a class, or several paths): a list of report objects, however many."""
    write_json_data([r.to_dict() for r in reports], path)


def items_frame(reports: Iterable[Report]) -> pd.DataFrame:
    import pandas as pd  # imported here: it costs more start-up time than a whole grading run's items

    rows = [{"submission": r.submission, **i.to_dict()} for r in reports for i in r.items]
    return inert_frame(pd.DataFrame(rows, columns=CSV_COLUMNS))


def inert_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell of a frame safe to open in a spreadsheet (see grader.inert.csv_cell)."""
    return frame.map(inert.csv_cell)


def write_csv(reports: Sequence[Report], path: Path) -> None:
    """One row per submission and item."""
    atomic_write(path, items_frame(reports).to_csv(index=False).encode())
