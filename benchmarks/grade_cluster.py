"""Throughput on a Dask cluster against the local batch, on the same class and machine.

    .venv/bin/python benchmarks/grade_cluster.py [--count 40] [--notebooks]

Grades N submissions (a third correct, the rest carrying the known bugs; module items only unless
--notebooks) in instructor mode: locally with --jobs 1 and 2, then with --scheduler on a local
cluster (a scheduler and worker processes of one thread each, started as the README says) of 1
and 2 workers. Prints each run's wall time, submissions per minute, the cost per submission
(wall time x workers / submissions) and what that cost implies for 10,000 submissions on N
workers. The gradebooks of all runs are compared (grading times aside) and must be identical.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from grade_class import make_class  # noqa: E402 - the benchmarks' shared class maker


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - started


def book(out: Path) -> str:
    return pd.read_csv(out / "gradebook.csv").drop(columns=["seconds"]).to_csv(index=False)


def main() -> None:
    from distributed import LocalCluster

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--notebooks", action="store_true", help="grade the notebooks too")
    args = parser.parse_args()
    grade = str(Path(sys.executable).parent / "grade")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        seed = tmp_path / "seed"
        seed.write_text("benchmark\n")
        make_class(tmp_path / "class", args.count, notebooks=args.notebooks)
        common = [
            str(tmp_path / "class"),
            "--reference",
            str(ROOT / "reference" / "nndl"),
            "--fixtures",
            str(ROOT / "fixtures" / "nndl"),
            "--hidden-seed-file",
            str(seed),
            "--quiet",
            "--timeout",
            "2",
            *([] if args.notebooks else ["--no-notebooks"]),
        ]
        runs: list[tuple[str, int, float, Path]] = []
        for jobs in (1, 2):
            out = tmp_path / f"local{jobs}"
            seconds = timed([grade, *common, "--jobs", str(jobs), "--out", str(out)])
            runs.append((f"local, --jobs {jobs}", jobs, seconds, out))
        for workers in (1, 2):
            out = tmp_path / f"dask{workers}"
            with LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
            ) as cluster:
                seconds = timed([grade, *common, "--scheduler", cluster.scheduler_address, "--out", str(out)])
            runs.append((f"Dask, {workers} worker(s)", workers, seconds, out))
        what = "with notebooks" if args.notebooks else "module items only"
        print(f"{args.count} submissions ({what}), instructor mode, one run each:")
        for label, width, seconds, _ in runs:
            cost = seconds * width / args.count
            print(
                f"  {label:<22} {seconds:7.1f} s  {args.count / seconds * 60:6.0f} per minute  "
                f"{cost:5.2f} s per submission per process"
            )
        dask2 = runs[-1]
        cost = dask2[2] * dask2[1] / args.count
        for workers in (2, 16, 64, 256):
            minutes = 10_000 * cost / workers / 60
            print(f"  10,000 such submissions on {workers} worker processes: about {minutes:.0f} min")
        books = {label: book(out) for label, _, _, out in runs}
        same = len(set(books.values())) == 1
        print(f"gradebooks identical (grading times aside): {'yes' if same else 'NO'}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
