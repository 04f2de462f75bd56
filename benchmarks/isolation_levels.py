"""What each isolation level costs: the reference nndl graded in instructor mode under every level this
host offers, and in containers (`--backend container`) where the image `grade-build --image` builds is
there, the runs of the levels interleaved, with medians and each level's ratio to the first.

    .venv/bin/python benchmarks/isolation_levels.py [--runs 5] [--notebooks]

The course is copied into a folder only its owner can open, as the "user" level needs; that level
is measured only where the grader runs as root from a Python every user can read (a virtual
environment made from the system's python3, not one under /root), and says so otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import run

from grader import containers, isolation, users

ROOT = Path(__file__).resolve().parent.parent


def available() -> dict[str, str | None]:
    """Each level's GRADER_ISOLATION value (None: the host's own choice), or a reason to skip it."""
    levels: dict[str, str | None] = {}
    skipped = {}
    if isolation.bwrap_path():
        levels["bubblewrap"] = None
    else:
        skipped["bubblewrap"] = "bwrap is missing or cannot create namespaces here"
    problem = users.unavailable() or next(
        (f"{p} is not readable by every user" for p in isolation.runtime_paths() if not users.others_can_read(p)), None
    )
    if problem is None:
        levels["user"] = "user"
    else:
        skipped["user"] = problem
    if isolation.namespaces_problem() is None:
        levels["namespaces"] = "namespaces"
    else:
        skipped["namespaces"] = str(isolation.namespaces_problem())
    levels["none"] = "none"
    try:
        problem = containers.Container(containers.default_image(), containers.runtime()).problem()
    except containers.ContainerError as exc:
        problem = str(exc)
    if problem is None:
        levels["container"] = None
    else:
        skipped["container"] = problem
    for name, why in skipped.items():
        print(f"{name}: not measured ({why})")
    return levels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--notebooks", action="store_true", help="run the notebooks too")
    args = parser.parse_args()
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    levels = available()
    with tempfile.TemporaryDirectory() as tmp:  # 0700: out of a dedicated user's reach
        course = Path(tmp) / "course"
        for part in ("reference", "fixtures"):
            shutil.copytree(ROOT / part / "nndl", course / part / "nndl")
        secret = Path(tmp) / "secret"
        secret.mkdir()
        (secret / "seed").write_text("benchmark-seed\n")
        cmd = [
            grade,
            str(course / "reference" / "nndl"),
            "--quiet",
            "--fixtures",
            str(course / "fixtures" / "nndl"),
            "--reference",
            str(course / "reference" / "nndl"),
            "--hidden-seed-file",
            str(secret / "seed"),
            "--allow-unisolated",
            *([] if args.notebooks else ["--no-notebooks"]),
        ]
        walls: dict[str, list[float]] = {name: [] for name in levels}
        peaks: dict[str, list[int]] = {name: [] for name in levels}
        for index in range(args.runs + 1):
            for name, value in levels.items():
                os.environ.pop(isolation.ISOLATION_ENV, None)
                if value is not None:
                    os.environ[isolation.ISOLATION_ENV] = value
                wall, peak = run([*cmd, "--backend", "container"] if name == "container" else cmd)
                if index:  # the first round warms the file cache
                    walls[name].append(wall)
                    peaks[name].append(peak)
    first = statistics.median(next(iter(walls.values())))
    what = "with notebooks" if args.notebooks else "module items"
    for name in levels:
        median = statistics.median(walls[name])
        print(
            f"{name}: grade reference/nndl ({what}), median {median:.2f} s (min {min(walls[name]):.2f}, "
            f"max {max(walls[name]):.2f}, {args.runs} runs), {median / first:.2f}x the first level; "
            f"peak memory {max(peaks[name]) / 2**20:.0f} MB"
            + (" (the grader's own: containers run under the runtime's monitor)" if name == "container" else "")
        )


if __name__ == "__main__":
    main()
