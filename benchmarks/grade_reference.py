"""Time and memory to grade the reference nndl submission, every module item, in both modes.

    .venv/bin/python benchmarks/grade_reference.py [--runs 5] [--no-notebooks]

With --no-notebooks, the module items only (the canary child and the first child's start are
then a visible share of the time).

Target (issue: the grading engine): at most 2 s median wall time and 300 MB peak
memory (all processes together) on a 2-core machine, for each mode.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import run, summary

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-notebooks", action="store_true", help="grade the module items only")
    args = parser.parse_args()
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed"
        seed.write_text("benchmark-seed\n")
        modes = {
            "student mode": ["--student-mode"],
            "instructor mode": ["--reference", str(ROOT / "reference" / "nndl"), "--hidden-seed-file", str(seed)],
        }
        for label, extra in modes.items():
            cmd = [
                grade,
                str(ROOT / "reference" / "nndl"),
                "--quiet",
                *extra,
                *(["--no-notebooks"] if args.no_notebooks else []),
            ]
            run(cmd)  # warm the file cache once; not counted
            walls, peaks = zip(*(run(cmd) for _ in range(args.runs)))
            print(summary(f"grade reference/nndl, {label}", list(walls), list(peaks)))


if __name__ == "__main__":
    main()
