"""A student's loop: checking one function (`grade --only`) against grading everything, in student mode.

    .venv/bin/python benchmarks/student_loop.py [--assignment nndl] [--only affine_forward] [--repeat 5]

Grades the assignment's reference (a finished submission) in turns: `grade --only ITEM
--student-mode`, `grade --only ITEM --student-mode --no-notebooks`, and `grade --student-mode`
(every item, the notebooks run). Prints the median, min and max wall time of each, and the ratio
of each median to the whole grade's.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import run  # noqa: E402 - the benchmarks' own helper, beside this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="nndl")
    parser.add_argument("--only", default="affine_forward")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    common = [grade, str(ROOT / "reference" / args.assignment), "--student-mode", "--quiet"]
    commands = {
        f"grade --only {args.only}": [*common, "--only", args.only],
        f"grade --only {args.only} --no-notebooks": [*common, "--only", args.only, "--no-notebooks"],
        "grade (everything)": common,
    }
    for cmd in commands.values():
        run(cmd)  # warm the file cache once; not counted
    walls: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(args.repeat):
        for label, cmd in commands.items():
            walls[label].append(run(cmd)[0])
    whole = statistics.median(walls["grade (everything)"])
    for label, times in walls.items():
        median = statistics.median(times)
        print(
            f"{label}: median {median:.2f} s (min {min(times):.2f}, max {max(times):.2f}, {len(times)} runs); "
            f"{median / whole:.2f} of the whole grade's"
        )


if __name__ == "__main__":
    main()
