"""The result model every check produces and every report writer reads."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

# What one rubric item came to. `manual` waits for a person; `grader_error` is the grader's fault.
Status = Literal["pass", "fail", "partial", "error", "timeout", "not_attempted", "manual", "grader_error"]
STATUSES: tuple[Status, ...] = get_args(Status)
# Student mode grades the public cases and self-checks; instructor mode adds the hidden cases.
Mode = Literal["student", "instructor"]
# Where a case comes from: the published fixtures, the hidden seed (instructor mode), or a self-check
# (judged only against the numerical gradient of the student's own code).
Origin = Literal["public", "hidden", "self-check"]
# What one request to a child came to: ok | exception | not_implemented | bad_return | timeout | crashed.
ChildStatus = Literal["ok", "exception", "not_implemented", "bad_return", "timeout", "crashed"]
# An item the grader could not grade through a fault of its own (a child or kernel that could not
# start, a reference that failed): never a student's loss, so the report as a whole is not a grade.
GRADER_ERROR: Status = "grader_error"
MANUAL: Status = "manual"  # an answer a person grades (the status of the `manual` kind's items)
FLAG_PREFIX = "flag: "  # a note that a TA should look at: integrity, not points
# The integrity flags, by kind (a column of the gradebook each): what the note says, `{}` for what
# it is about.
FLAGS = {
    "provided_modified": "provided file(s) modified in the submission, graded with the originals: {}",
    "locked_cells_changed": "locked notebook cell(s) changed in the submission, run as the course wrote them: {}",
    "public_only": "{} is right on every public case and on no hidden case (answers fitted to the public fixtures?)",
    "sandbox_refused": "the submission's code {} (refused where the sandbox runs)",
}
_FLAG_PATTERNS = {
    kind: re.compile("^" + re.escape(text).replace(re.escape("{}"), ".*") + "$", re.DOTALL)
    for kind, text in FLAGS.items()
}


def flag_note(kind: str, about: str) -> str:
    """The note of a flag of that kind (one of FLAGS) about something (files, cells, an item)."""
    return FLAG_PREFIX + FLAGS[kind].format(about)


def flag_kind(flag: str) -> str:
    """The kind of a flag's text (a report's `flags`): one of FLAGS, or "other"."""
    return next((kind for kind, pattern in _FLAG_PATTERNS.items() if pattern.match(flag)), "other")


@dataclass(frozen=True)
class ChildResult:
    """What came back from one request: status, decoded outputs and the child's metadata."""

    status: str  # a ChildStatus, or whatever an untrusted child wrote, which the scorer treats as an error
    outputs: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0


@dataclass(frozen=True)
class CaseRun:
    """One case as graded: where it came from, what came back, and what was expected.

    `expected` is None for a self-check case, which only compares the student's
    analytic gradients with the numerical gradients of the student's own code.
    """

    label: str
    result: ChildResult
    expected: dict[str, Any] | None
    origin: Origin
    # The outputs of each variant of the reference the item names (`grader.variants`), by name.
    variants: Mapping[str, Any] = field(default_factory=dict)
    number: int = 0  # the public case (from 1) this case was drawn after; 0 when unknown
    inputs: Mapping[str, Any] = field(default_factory=dict)  # what the case was called with
    # What the reference gives on this case fed the student's own recorded upstream calls
    # (`grader.replay`), and the functions replayed; None where nothing was replayed.
    upstream: Mapping[str, Any] | None = None
    upstream_of: str = ""


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one rubric item for one submission."""

    id: str
    title: str
    points: float
    max_points: float
    status: Status
    message: str
    duration_s: float

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if not 0 <= self.points <= self.max_points:
            raise ValueError(f"{self.id}: points {self.points} outside [0, {self.max_points}]")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    """One submission's grade: the JSON report of DESIGN.md, plus notes for the terminal."""

    assignment: str
    mode: Mode | Literal["none"]  # "none": a submission that could not be opened at all
    grader_version: str
    submission: str
    items: tuple[ItemResult, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    # PNG files the notebooks drew, as (file name, bytes); written beside the report, not in it.
    figures: tuple[tuple[str, bytes], ...] = field(default_factory=tuple, repr=False)
    # Which isolation the children had, and how their processes were capped (isolation.summary()).
    isolation: str = ""

    @property
    def total(self) -> float:
        return round(sum(i.points for i in self.items), 6)

    @property
    def flags(self) -> tuple[str, ...]:
        """Integrity flags for the course staff (a provided file modified, files opened outside the
        scratch copy, answers right on public cases only)."""
        return tuple(n[len(FLAG_PREFIX) :] for n in self.notes if n.startswith(FLAG_PREFIX))

    @property
    def grader_faults(self) -> tuple[ItemResult, ...]:
        """Items the grader failed to grade; a report with any is not a grade and must be rerun."""
        return tuple(i for i in self.items if i.status == GRADER_ERROR)

    @property
    def max_total(self) -> float:
        return round(sum(i.max_points for i in self.items), 6)

    def to_dict(self) -> dict[str, Any]:
        """Exactly the stable JSON format other tools read."""
        return {
            "assignment": self.assignment,
            "mode": self.mode,
            "grader_version": self.grader_version,
            "submission": self.submission,
            "total": self.total,
            "max_total": self.max_total,
            "items": [i.to_dict() for i in self.items],
            "flags": list(self.flags),
            "isolation": self.isolation,
        }


def figure_file(name: str) -> str:
    """The file a notebook's figure is written to: its name made safe (`file_stem`), its suffix
    (.png) kept, so that a link to it is the file's own name."""
    import re

    stem, dot, suffix = name.rsplit("/", 1)[-1].rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,8}", suffix):
        return file_stem(name)
    return f"{file_stem(stem)}.{suffix}"


def file_stem(name: str) -> str:
    """A file name for a submission's own outputs (feedback, cache entry, figures): only safe
    characters, at most 100 of them, and a short hash of the name whenever it had to be changed, so
    that two names never share a file."""
    import hashlib  # here, not above: a child imports this module, and needs neither
    import re

    base = name.rsplit("/", 1)[-1]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")[:100]
    if safe == base and safe:
        return safe
    return f"{safe or 'submission'}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
