"""The CS231n-style assignment's class of 20, graded by this grader and by nbgrader 0.9.6, side by side.

    .venv/bin/python benchmarks/grade_cs231n_style.py [--repeat 3] [--nbgrader-venv DIR] [--no-nbgrader]
    .venv/bin/python benchmarks/grade_cs231n_style.py --only s18_infinite_loop [--repeat 1]

The same 20 notebooks (benchmarks/cs231n_style/make_submissions.py), the same reference notebook (its
nbgrader source), the same 30 s cell limit. Per notebook: a batch of the 19 without the infinite loop,
one process at a time (this grader with --jobs 1, nbgrader's autograde, which grades one at a time),
divided by 19; and this grader's cost per notebook when each student is graded alone, in a `grade`
process of its own (as Gradescope or a CI job per student runs it). With --jobs 2 here: the 19, and
the class of all 20. Runs alternate between the tools, and the medians and their ratio come from one
run of this script. Then each student's total from both tools
beside the points a careful TA gives (the script's `points`). With --only NAME, that one student
alone, in turns with both tools: what a single notebook (the looping one, say) costs each.

nbgrader is installed with pip into its own virtual environment (default
~/.cache/nn-grader-benchmarks/nbgrader-0.9.6) the first time; `--no-nbgrader` times this grader only.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "benchmarks" / "cs231n_style"
LOOP = "s18_infinite_loop"
NBGRADER = "nbgrader==0.9.6"
NBGRADER_CONFIG = """\
c = get_config()
c.CourseDirectory.course_id = "bench"
c.Execute.timeout = 30
"""


def _submissions_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_submissions", COURSE / "make_submissions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _run(cmd: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def _nbgrader(venv: Path) -> Path:
    exe = venv / "bin" / "nbgrader"
    if not exe.exists():
        print(f"installing {NBGRADER} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", NBGRADER, "numpy"], check=True)
    return exe


class Ours:
    def __init__(self, work: Path) -> None:
        self.course = work / "course"
        shutil.copytree(COURSE / "reference", self.course / "reference")
        _run([str(ROOT / ".venv" / "bin" / "grade-build"), "--course", str(self.course)])
        (work / "secret").mkdir()
        self.seed = work / "secret" / "hidden-seed"
        self.seed.write_text("benchmark\n")
        self.out = work / "ours"

    def grade(self, folder: Path, jobs: int) -> float:
        cmd = [str(ROOT / ".venv" / "bin" / "grade"), str(folder), "--course", str(self.course), "--reference",
               str(self.course / "reference" / "twolayer"), "--hidden-seed-file", str(self.seed), "--jobs", str(jobs),
               "--out", str(self.out / folder.name), "--force", "--quiet"]  # fmt: skip
        return _run(cmd)

    def grade_alone(self, folder: Path) -> float:
        """Each student of `folder` in a `grade` process of its own, as Gradescope or a CI job per student
        grades: nothing is shared between them, the reference's answers included."""
        wall = 0.0
        for student in sorted(p for p in folder.iterdir() if p.is_dir()):
            cmd = [str(ROOT / ".venv" / "bin" / "grade"), str(student), "--course", str(self.course),
                   "--reference", str(self.course / "reference" / "twolayer"), "--hidden-seed-file", str(self.seed),
                   "--quiet"]  # fmt: skip
            wall += _run(cmd)
        return wall

    def totals(self, folder: Path) -> dict[str, float]:
        reports = json.loads((self.out / folder.name / "reports.json").read_text())
        return {Path(r["submission"]).name: float(r["total"]) for r in reports}


class Nbgrader:
    def __init__(self, work: Path, exe: Path) -> None:
        self.exe, self.work = exe, work
        self.env = {**os.environ, "PATH": f"{exe.parent}{os.pathsep}{os.environ['PATH']}"}

    def _course(self, folder: Path) -> Path:
        """A fresh nbgrader course: the source notebook, the generated assignment, the submissions."""
        course = self.work / f"nbgrader-{folder.name}"
        shutil.rmtree(course, ignore_errors=True)
        (course / "source" / "twolayer").mkdir(parents=True)
        shutil.copy(COURSE / "reference" / "twolayer" / "two_layer.ipynb", course / "source" / "twolayer")
        (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
        self._call(course, "generate_assignment", "twolayer", "--force")
        for student in sorted(p for p in folder.iterdir() if p.is_dir()):
            target = course / "submitted" / student.name / "twolayer"
            target.mkdir(parents=True)
            shutil.copy(student / "two_layer.ipynb", target)
        return course

    def _call(self, course: Path, *args: str) -> float:
        started = time.perf_counter()
        cmd = [str(self.exe), *args]
        done = subprocess.run(cmd, check=False, cwd=course, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"nbgrader {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return time.perf_counter() - started

    def grade(self, folder: Path) -> float:
        self.last = self._course(folder)
        return self._call(self.last, "autograde", "twolayer", "--force")

    def totals(self) -> dict[str, float]:
        self._call(self.last, "export", "--to", str(self.last / "grades.csv"))
        with (self.last / "grades.csv").open() as f:
            return {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--nbgrader-venv", type=Path, default=Path.home() / ".cache/nn-grader-benchmarks/nbgrader-0.9.6"
    )
    parser.add_argument("--no-nbgrader", action="store_true")
    parser.add_argument("--only", metavar="NAME", help="time this student alone (e.g. s18_infinite_loop)")
    args = parser.parse_args()
    make = _submissions_module()
    with tempfile.TemporaryDirectory(prefix="bench-cs231n-") as tmp:
        work = Path(tmp)
        everyone, without_loop = work / "class20", work / "class19"
        make.write(everyone)
        shutil.copytree(everyone, without_loop, ignore=shutil.ignore_patterns(LOOP))
        ours = Ours(work)
        peer = None if args.no_nbgrader else Nbgrader(work, _nbgrader(args.nbgrader_venv))
        if args.only is not None:
            _one_student(make, everyone, args.only, ours, peer, args.repeat)
            return
        times: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            times.setdefault("ours 19, --jobs 1", []).append(ours.grade(without_loop, 1))
            if peer is not None:
                times.setdefault("nbgrader 19", []).append(peer.grade(without_loop))
            times.setdefault("ours 19, --jobs 2", []).append(ours.grade(without_loop, 2))
            times.setdefault("ours 20, --jobs 2", []).append(ours.grade(everyone, 2))
            times.setdefault("ours 19, each graded alone", []).append(ours.grade_alone(without_loop))
            if peer is not None:
                times.setdefault("nbgrader 20", []).append(peer.grade(everyone))
        medians = {label: statistics.median(walls) for label, walls in times.items()}
        for label, walls in times.items():
            print(f"{label}: median {medians[label]:.1f} s ({', '.join(f'{w:.1f}' for w in walls)})")
        print(f"per notebook, one at a time: ours {medians['ours 19, --jobs 1'] / 19:.2f} s", end="")
        if peer is not None:
            print(
                f", nbgrader {medians['nbgrader 19'] / 19:.2f} s "
                f"(ratio ours/nbgrader {medians['ours 19, --jobs 1'] / medians['nbgrader 19']:.2f}); "
                f"nbgrader / ours with --jobs 2: the 19 {medians['nbgrader 19'] / medians['ours 19, --jobs 2']:.2f}, "
                f"the class of 20 {medians['nbgrader 20'] / medians['ours 20, --jobs 2']:.2f}"
            )
        else:
            print()
        print(
            "per notebook, each student graded alone (a grade process each): "
            f"{medians['ours 19, each graded alone'] / 19:.2f} s"
        )
        ours_totals = ours.totals(everyone)
        peer_totals = peer.totals() if peer is not None else {}
        print(f"\n{'student':<28} {'TA':>4} {'ours':>5} {'nbgrader':>9}  why")
        for name, student in make.STUDENTS.items():
            theirs = f"{peer_totals[name]:g}" if name in peer_totals else "-"
            print(f"{name:<28} {student.points:>4g} {ours_totals[name]:>5g} {theirs:>9}  {student.why}")


def _one_student(make: ModuleType, everyone: Path, name: str, ours: Ours, peer: Nbgrader | None, repeat: int) -> None:
    if name not in make.STUDENTS:
        raise SystemExit(f"no student {name!r}: one of {', '.join(make.STUDENTS)}")
    alone = everyone.parent / f"only-{name}"
    shutil.copytree(everyone / name, alone / name)
    times: dict[str, list[float]] = {}
    for _ in range(repeat):
        times.setdefault("ours", []).append(ours.grade(alone, 1))
        if peer is not None:
            times.setdefault("nbgrader", []).append(peer.grade(alone))
    for label, walls in times.items():
        spread = ", ".join(f"{w:.1f}" for w in walls)
        print(f"{name} alone, {label}: median {statistics.median(walls):.1f} s ({spread})")
    theirs = f", nbgrader {peer.totals()[name]:g}" if peer is not None else ""
    print(f"points: TA {make.STUDENTS[name].points:g}, ours {ours.totals(alone)[name]:g}{theirs}")


if __name__ == "__main__":
    main()
