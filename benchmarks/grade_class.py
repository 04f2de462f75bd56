"""Batch grading speed: N submissions (module items), --jobs 1 and 2, the cached rerun, and notebooks.

    .venv/bin/python benchmarks/grade_class.py [--count 100] [--notebook-count 4]

Targets (issue: a whole class at once): 100 module-only submissions in under 2 minutes on
a 2-core machine; a cached rerun of 100 in under 5 s. For notebook submissions, with --jobs 1
and 2, it prints the time per submission beside the notebooks' own execution time (kernel start
included), with each submission's kernels forked by its kernel server and, in turns, each booted
in full (GRADER_KERNEL_SERVER=off), and the ratio of the two. --notebooks-only skips the module part.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader import kernels

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def make_class(folder: Path, count: int, notebooks: bool) -> None:
    from bugs import apply_spec, bug_names, load_bug

    bugs = bug_names("nndl")  # the class is graded as nndl: other courses' bugs would be other homework
    for k in range(count):
        spec = {} if k % 3 == 0 else load_bug(bugs[k % len(bugs)])
        apply_spec(spec, folder / f"student_{k:03d}", "benchmark")
        if not notebooks:
            for nb in (folder / f"student_{k:03d}").glob("*.ipynb"):
                nb.unlink()


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--notebook-count", type=int, default=4)
    parser.add_argument("--notebooks-only", action="store_true")
    args = parser.parse_args()
    grade = str(Path(sys.executable).parent / "grade")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        seed = tmp_path / "seed"
        seed.write_text("benchmark\n")
        common = [
            "--reference",
            str(ROOT / "reference" / "nndl"),
            "--fixtures",
            str(ROOT / "fixtures" / "nndl"),
            "--hidden-seed-file",
            str(seed),
            "--quiet",
            "--timeout",
            "2",
        ]
        if not args.notebooks_only:
            module_only(tmp_path, args.count, grade, common)
        notebooks(tmp_path, args.notebook_count, grade, common)


def module_only(tmp_path: Path, count: int, grade: str, common: list[str]) -> None:
    make_class(tmp_path / "modules", count, notebooks=False)
    rates = {}
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        seconds, _ = timed(
            [grade, str(tmp_path / "modules"), "--no-notebooks", "--jobs", str(jobs), "--out", str(out), *common]
        )
        rates[jobs] = count / seconds * 60
        print(
            f"{count} module-only submissions, --jobs {jobs}: {seconds:.1f} s "
            f"({rates[jobs]:.0f} submissions per minute)"
        )
    print(f"speed-up from --jobs 2: {rates[2] / rates[1]:.2f}x")
    reruns = []
    for _ in range(3):
        seconds, _ = timed(
            [
                grade,
                str(tmp_path / "modules"),
                "--no-notebooks",
                "--jobs",
                "2",
                "--out",
                str(tmp_path / "out2"),
                *common,
            ]
        )
        reruns.append(seconds)
    print(
        f"cached rerun of {count}: median {sorted(reruns)[1]:.2f} s (min {min(reruns):.2f}, "
        f"max {max(reruns):.2f}) over 3 runs"
    )

    shutil.rmtree(tmp_path / "modules", ignore_errors=True)


def notebooks(tmp_path: Path, count: int, grade: str, common: list[str]) -> None:
    make_class(tmp_path / "notebooks", count, notebooks=True)
    totals: dict[tuple[str, int], float] = {}
    for jobs in (1, 2):
        for server in ("on", "off"):  # in turns, the same class
            out = tmp_path / f"outnb{jobs}-{server}"
            env = {**os.environ, kernels.SERVER_ENV: server}
            seconds, _ = timed(
                [grade, str(tmp_path / "notebooks"), "--jobs", str(jobs), "--out", str(out), *common], env
            )
            totals[server, jobs] = seconds
            reports = json.loads((out / "reports.json").read_text())
            per_sub = [json.loads((out / "cache" / f"{r['submission']}.json").read_text())["seconds"] for r in reports]
            nb_time = [sum(i["duration_s"] for i in r["items"] if i["id"].startswith("notebook:")) for r in reports]
            how = "forked by a kernel server" if server == "on" else "each booted in full"
            print(
                f"{count} submissions with notebooks, --jobs {jobs}, kernels {how}: {seconds:.1f} s in all "
                f"({seconds * jobs / count:.1f} s per submission per process); each submission "
                f"{sum(per_sub) / len(per_sub):.1f} s, of which its five notebooks took "
                f"{sum(nb_time) / len(nb_time):.1f} s (kernel start and shutdown included)"
            )
        print(f"--jobs {jobs}: kernel server / full boots = {totals['on', jobs] / totals['off', jobs]:.2f} (wall time)")


if __name__ == "__main__":
    main()
