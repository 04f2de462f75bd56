"""Similarity's cost as a class grows: generated cs260 classes of N independent submissions with one
planted copy, compared as `grade --similarity` compares them (no grading).

    .venv/bin/python benchmarks/similarity_scale.py [--sizes 50 100 200] [--repeat 3]

Prints, per size, the median seconds of `similarity.run`, the seconds per submission, and the pairs
flagged (the planted copy only, when the threshold holds at that size).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    from similarity_class import plant_copy, write_class

    from grader import similarity
    from grader.project import Layout
    from grader.rubric import load

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    layout = Layout(ROOT, "cs260")
    rubric = load(layout.fixtures / "rubric.toml")
    manifest = json.loads((layout.fixtures / "manifest.json").read_text())
    print(f"{'submissions':>11}  {'median s':>8}  {'ms each':>7}  flagged")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_class(root, size, seed=11)
            names = sorted(p.name for p in root.iterdir())
            plant_copy(root / names[4], root / "zz_copy", seed=3)
            subs = [(p.name, p) for p in sorted(root.iterdir())]
            times, result = [], None
            for _ in range(args.repeat):
                started = time.perf_counter()
                result = similarity.run(subs, rubric, manifest, layout.template)
                times.append(time.perf_counter() - started)
            assert result is not None
            median = statistics.median(times)
            flagged = ", ".join(f"{p.a}~{p.b} {100 * p.similarity:.0f}%" for p in result.pairs) or "none"
            print(f"{len(subs):>11}  {median:>8.1f}  {1000 * median / len(subs):>7.0f}  {flagged}")


if __name__ == "__main__":
    main()
