"""A class in parts: `grade submissions/ --shard K/N --out part-K` grades one share, and
`grade merge part-*/` checks that the parts make the whole class, once, graded alike.

A part is a folder holding `part.json`: the whole class's submission names, the settings that
decide a grade (the cache key's, so parts graded with another rubric, reference, seed or grader
version never merge), this share's reports and grading times, and each submission's last commit
(read where the files are: the merge may run where they are not).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from grader import __version__
from grader.atomic import atomic_write
from grader.results import Report

PART_FILE = "part.json"
FORMAT = 1

T = TypeVar("T")


class ShardError(Exception):
    """Parts that do not make one class: the message names them and says what to run."""


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as the user writes it
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse(text: str) -> Shard:
    """'K/N' with 1 <= K <= N, as job arrays number their tasks from 1."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found:
        raise ValueError(f"--shard {text!r}: write K/N, e.g. --shard 2/3 for the second of three parts")
    index, count = int(found.group(1)), int(found.group(2))
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text}: K must be between 1 and N (job arrays counting from 0: pass K+1)")
    return Shard(index, count)


def share(items: Sequence[T], shard: Shard) -> list[T]:
    """Shard K of N takes every N-th item from the K-th on: parts differ in size by one at most, and
    the same class always splits the same way."""
    return list(items[shard.index - 1 :: shard.count])


@dataclass(frozen=True)
class Part:
    """What one shard's run graded, as the merge needs it."""

    folder: Path
    shard: Shard
    assignment: str
    grader_version: str
    names: tuple[str, ...]  # the whole class, in grading order
    settings: dict[str, Any]
    reports: tuple[Report, ...]
    seconds: dict[str, float]
    commits: dict[str, dict[str, object]]


def write_part(
    out: Path,
    shard: Shard,
    assignment: str,
    names: Sequence[str],
    settings: dict[str, Any],
    reports: Sequence[Report],
    seconds: dict[str, float],
    commits: dict[str, dict[str, object]],
) -> Path:
    from grader.batch import report_to_json

    data = {
        "format": FORMAT,
        "grader_version": __version__,
        "assignment": assignment,
        "shard": shard.index,
        "of": shard.count,
        "class": list(names),
        "settings": settings,
        "submissions": [
            {
                "name": r.submission,
                "seconds": seconds.get(r.submission, 0.0),
                "commit": commits.get(r.submission, {}),
                "report": report_to_json(r),
            }
            for r in reports
        ],
    }
    atomic_write(out / PART_FILE, (json.dumps(data, indent=1) + "\n").encode())
    return out / PART_FILE


def read_part(folder: Path) -> Part:
    from grader.batch import report_from_json

    where = folder / PART_FILE
    if not where.is_file():
        raise ShardError(f"{folder} holds no {PART_FILE}: it is not the --out folder of a `grade --shard K/N` run")
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ShardError(
                f"{where} was written by another version of the grader (format {data.get('format')}); "
                "grade that shard again with this one"
            )
        subs = data["submissions"]
        return Part(
            folder=folder,
            shard=Shard(int(data["shard"]), int(data["of"])),
            assignment=str(data["assignment"]),
            grader_version=str(data["grader_version"]),
            names=tuple(str(n) for n in data["class"]),
            settings=dict(data["settings"]),
            reports=tuple(report_from_json(s["report"]) for s in subs),
            seconds={str(s["name"]): float(s["seconds"]) for s in subs},
            commits={str(s["name"]): dict(s["commit"]) for s in subs},
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ShardError(f"{where} cannot be read ({type(exc).__name__}: {exc}); grade that shard again") from exc


def _differences(a: Part, b: Part) -> list[str]:
    said = []
    if a.assignment != b.assignment:
        said.append(f"assignment {a.assignment!r} against {b.assignment!r}")
    if a.grader_version != b.grader_version:
        said.append(f"grader {a.grader_version} against {b.grader_version}")
    if a.shard.count != b.shard.count:
        said.append(f"{a.shard.count} shards against {b.shard.count}")
    if a.names != b.names:
        only_a = sorted(set(a.names) - set(b.names))
        only_b = sorted(set(b.names) - set(a.names))
        said.append(
            f"another class ({len(a.names)} submissions against {len(b.names)}"
            + (f"; only in {a.folder}: {', '.join(only_a[:5])}" if only_a else "")
            + (f"; only in {b.folder}: {', '.join(only_b[:5])}" if only_b else "")
            + ")"
        )
    for key in sorted(set(a.settings) | set(b.settings)):
        if a.settings.get(key) != b.settings.get(key):
            said.append(f"another {key} setting")
    return said


@dataclass(frozen=True)
class Merged:
    assignment: str
    reports: list[Report]  # the whole class, in the order one run grades it
    seconds: dict[str, float]
    commits: dict[str, dict[str, object]]
    parts: int


def merge(folders: Sequence[Path]) -> Merged:
    """The class the parts make, or a ShardError naming the parts that overlap, disagree or are missing."""
    if not folders:
        raise ShardError("no parts given: `grade merge part-1 part-2 ... --out grade-output`")
    parts = [read_part(f) for f in folders]
    first = parts[0]
    for part in parts[1:]:
        said = _differences(first, part)
        if said:
            raise ShardError(
                f"{part.folder} and {first.folder} are not parts of one class run: {'; '.join(said)}. "
                "Grade every shard with the same command, changing only K in --shard K/N"
            )
    by_index: dict[int, Part] = {}
    for part in parts:
        if part.shard.index in by_index:
            raise ShardError(
                f"overlapping parts: {by_index[part.shard.index].folder} and {part.folder} are both shard "
                f"{part.shard}; give each shard once"
            )
        by_index[part.shard.index] = part
    count = first.shard.count
    missing = [k for k in range(1, count + 1) if k not in by_index]
    if missing:
        names = [n for k in missing for n in share(first.names, Shard(k, count))]
        raise ShardError(
            f"missing shard(s) {', '.join(f'{k}/{count}' for k in missing)}: no part holds {len(names)} "
            f"submission(s) ({', '.join(names[:5])}{' ...' if len(names) > 5 else ''}); grade them with "
            f"`grade SUBMISSIONS --shard {missing[0]}/{count} --out part-{missing[0]}` and merge again"
        )
    reports: dict[str, Report] = {}
    seconds: dict[str, float] = {}
    commits: dict[str, dict[str, object]] = {}
    for k, part in sorted(by_index.items()):
        expected = share(first.names, part.shard)
        graded = [r.submission for r in part.reports]
        if graded != expected:
            raise ShardError(
                f"{part.folder} does not hold shard {part.shard}'s submissions ({len(graded)} graded, "
                f"{len(expected)} expected); grade shard {k} again into an empty folder"
            )
        reports.update((r.submission, r) for r in part.reports)
        seconds.update(part.seconds)
        commits.update(part.commits)
    return Merged(first.assignment, [reports[n] for n in first.names], seconds, commits, count)
