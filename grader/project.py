"""Where an assignment's parts live: reference/, student_template/ and fixtures/ of a course.

A course is a folder holding those three (any number of assignments in each), wherever it lies: this
project's own checkout is one. A published student template carries a course of its own in
`.nn-grader/`: the public fixtures alone, enough for student mode.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

MARKER = "grade.toml"
COURSE_ENV = "GRADER_COURSE"
# The public course a published template carries (its fixtures), so that a clone of a student's
# repository grades in student mode with nothing but the grader installed.
EMBEDDED = ".nn-grader"


@dataclass(frozen=True)
class Layout:
    """The three folders one assignment name shares."""

    root: Path
    name: str

    @property
    def reference(self) -> Path:
        return self.root / "reference" / self.name

    @property
    def template(self) -> Path:
        return self.root / "student_template" / self.name

    @property
    def fixtures(self) -> Path:
        return self.root / "fixtures" / self.name


class MarkerError(ValueError):
    """A grade.toml that cannot be read or names no assignment; the message says which."""


def marked_assignment(folder: Path) -> str:
    """The assignment folder's grade.toml names; raises MarkerError (FileNotFoundError without one)."""
    marker = folder / MARKER
    try:
        name = tomllib.loads(marker.read_text(encoding="utf-8")).get("assignment")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MarkerError(f"{marker} is not valid TOML ({exc})") from exc
    if not isinstance(name, str) or not name.isidentifier():
        raise MarkerError(f"{marker} names no assignment")
    return name


def source_file(where: str) -> str:
    """The file an item's code lives in, relative to the submission, from the part of its id before
    the colon: a notebook as it is, a dotted module as its `.py` file."""
    return where if where.endswith(".ipynb") else where.replace(".", "/") + ".py"


def is_course(folder: Path) -> bool:
    return (folder / "reference").is_dir() or (folder / "fixtures").is_dir()


def find_project_root(start: Path) -> Path | None:
    """The nearest folder at or above start that holds reference/ or fixtures/."""
    for folder in [start, *start.parents]:
        if is_course(folder):
            return folder
    return None


def embedded_course(submission: Path) -> Path | None:
    """The public course a submission made from a published template carries, if it does."""
    folder = submission / EMBEDDED
    return folder if (folder / "fixtures").is_dir() else None


def installed_project_root() -> Path | None:
    """The project this grader was installed from (an editable install or a checkout)."""
    candidate = Path(__file__).resolve().parent.parent
    if (candidate / "fixtures").is_dir():
        return candidate
    return None


def assignments(root: Path) -> list[str]:
    """Assignment names: the folders of reference/ that have a rubric."""
    ref = root / "reference"
    if not ref.is_dir():
        return []
    return sorted(p.name for p in ref.iterdir() if (p / "rubric.toml").is_file())


def marker_above(folder: Path) -> Path | None:
    """The nearest folder strictly above folder that holds a grade.toml: the submission a student
    who ran `grade` inside one of its packages is in."""
    return next((p for p in folder.resolve().parents if (p / MARKER).is_file()), None)


def marker_below(folder: Path, depth: int = 3, budget: int = 2000) -> Path | None:
    """The shallowest folder below folder (at most depth levels, looking into at most budget folders,
    hidden ones skipped) that holds a grade.toml."""
    level = [folder]
    for _ in range(depth):
        below: list[Path] = []
        for parent in level:
            try:
                children = sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                continue
            for child in children:
                if (child / MARKER).is_file():
                    return child
                below.append(child)
        level = below[:budget]
        budget -= len(level)
        if budget <= 0:
            break
    return None
