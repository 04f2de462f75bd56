"""Time to grade an assignment's reference with its notebooks, on the embedded data (nndl: five notebooks).

    .venv/bin/python benchmarks/grade_with_notebooks.py [--runs 3] [--assignment nndl]

Target (issue: notebooks and thresholds): under 60 s median on a 2-core machine.
Prints the median, min and max wall time of instructor-mode grading (module items,
hidden cases, five notebooks in fresh kernels, five accuracy thresholds), the peak
memory of all processes together, and how long the notebooks alone took.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import run, summary

ROOT = Path(__file__).resolve().parent.parent


def notebook_seconds(name: str) -> list[float]:
    """Each notebook's own execution time in one grading run, from the grader's report."""
    from grader.engine import grade, load_assignment
    from grader.options import GradeOptions
    from grader.project import Layout

    layout = Layout(ROOT, name)
    report = grade(
        layout.reference, load_assignment(layout.fixtures, layout.reference), GradeOptions(hidden_seed="benchmark")
    )
    return [i.duration_s for i in report.items if i.id.startswith("notebook:")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--assignment", default="nndl")
    args = parser.parse_args()
    reference = ROOT / "reference" / args.assignment
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed"
        seed.write_text("benchmark-seed\n")
        cmd = [
            grade,
            str(reference),
            "--quiet",
            "--reference",
            str(reference),
            "--hidden-seed-file",
            str(seed),
            "--figures",
            str(Path(tmp) / "figures"),
        ]
        walls, peaks = zip(*(run(cmd) for _ in range(args.runs)))
        print(summary(f"grade reference/{args.assignment} with notebooks, instructor mode", list(walls), list(peaks)))
    started = time.perf_counter()
    per_notebook = notebook_seconds(args.assignment)
    if not per_notebook:
        print("(the rubric has no notebook-runs item to time the notebooks by)")
        return
    print(
        f"notebooks alone: {sum(per_notebook):.1f} s of one {time.perf_counter() - started:.1f} s run "
        f"(each, kernel start included: {', '.join(f'{s:.1f}' for s in per_notebook)}); "
        f"median per notebook {statistics.median(per_notebook):.1f} s"
    )


if __name__ == "__main__":
    main()
