"""Two versions of the grader, each installed from its commit with `pip install .`, grading the same
reference submission in turns (A B A B ...): the median ratio new/old of wall time, pair by pair.

    .venv/bin/python benchmarks/compare_versions.py OLD_REV [NEW_REV] [--runs 20] [--instructor] [--no-notebooks]
        [--class N] [--cs231n NAME,NAME [--one-off]]

NEW_REV defaults to HEAD. With --class N, each run grades a class of N copies of the reference with
`--jobs 2` into a fresh output folder (nothing cached): a batch's pace, where two processes share the
machine, rather than one grade's. With --cs231n, each run grades those students of the CS231n-style
class (benchmarks/cs231n_style, e.g. s09_affine_without_bias) as a class, --jobs 1, in instructor mode:
each version builds that course with its own grade-build and writes the students with its own script;
with --one-off as well, one named student graded alone, as Gradescope or a CI job per student grades.
Each version grades its own `reference/<assignment>` with its own
fixtures, as a course that pins a grader version would. Pairing keeps the ratio meaningful when the
machine's speed drifts; quote the median ratio and its spread, not a single time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _install(rev: str, where: Path) -> Path:
    """A worktree of rev at where/src with its own virtual environment; returns the worktree."""
    src = where / "src"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(src), rev], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], check=True)
    subprocess.run([str(where / "venv" / "bin" / "pip"), "install", "-q", str(src)], check=True)
    return src


def _cs231n(where: Path, src: Path, names: list[str], seed_file: Path, one_off: bool) -> list[str]:
    """The command grading the named CS231n-style students, with this version's course and students."""
    style = src / "benchmarks" / "cs231n_style"
    course = where / "cs231n"
    shutil.copytree(style / "reference", course / "reference")
    bin_dir = where / "venv" / "bin"
    subprocess.run([str(bin_dir / "grade-build"), "--course", str(course)], check=True, capture_output=True)
    write = [str(bin_dir / "python"), str(style / "make_submissions.py"), str(where / "all")]
    subprocess.run(write, check=True, capture_output=True)
    for name in names:
        shutil.copytree(where / "all" / name, where / "class" / name)
    graded = [str(where / "class" / names[0])] if one_off else [str(where / "class"), "--jobs", "1", "--out",
                                                                 str(where / "out")]  # fmt: skip
    return [str(bin_dir / "grade"), *graded, "--quiet", "--course", str(course), "--reference",
            str(course / "reference" / "twolayer"), "--hidden-seed-file", str(seed_file)]  # fmt: skip


def _command(where: Path, src: Path, args: argparse.Namespace, seed_file: Path) -> list[str]:
    if args.cs231n:
        return _cs231n(where, src, args.cs231n.split(","), seed_file, args.one_off)
    graded = src / "reference" / args.assignment
    if args.class_size:
        for k in range(args.class_size):
            shutil.copytree(graded, where / "class" / f"student_{k:03d}")
        graded = where / "class"
    cmd = [str(where / "venv" / "bin" / "grade"), str(graded), "--quiet"]
    cmd += ["--fixtures", str(src / "fixtures" / args.assignment)]
    if args.class_size:
        cmd += ["--jobs", "2", "--out", str(where / "out")]
    if args.instructor:
        cmd += ["--reference", str(src / "reference" / args.assignment), "--hidden-seed-file", str(seed_file)]
    else:
        cmd += ["--student-mode"]
    return cmd + (["--no-notebooks"] if args.no_notebooks else [])


def _wall(cmd: list[str]) -> float:
    if "--out" in cmd:  # a class: graded afresh, not from the last run's cache
        shutil.rmtree(cmd[cmd.index("--out") + 1], ignore_errors=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default="HEAD")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--assignment", default="nndl")
    parser.add_argument("--instructor", action="store_true", help="instructor mode (hidden cases); else student mode")
    parser.add_argument("--no-notebooks", action="store_true")
    parser.add_argument("--class", dest="class_size", type=int, default=0, help="a class of N copies, --jobs 2")
    parser.add_argument("--cs231n", default="", help="these CS231n-style students (comma-separated), --jobs 1")
    parser.add_argument("--one-off", action="store_true", help="with --cs231n: its one student, graded alone")
    args = parser.parse_args()
    if args.one_off and (not args.cs231n or "," in args.cs231n):
        parser.error("--one-off grades one student alone: name one with --cs231n")
    with tempfile.TemporaryDirectory(prefix="compare-versions-") as tmp:
        base = Path(tmp)
        seed_dir = base / "seed"  # a folder of its own: the grader refuses a seed beside its environment
        seed_dir.mkdir()
        seed_file = seed_dir / "hidden-seed"
        seed_file.write_text("benchmark-seed\n")
        commands = []
        try:
            for label, rev in (("old", args.old), ("new", args.new)):
                src = _install(rev, base / label)
                commands.append(_command(base / label, src, args, seed_file))
            old_cmd, new_cmd = commands
            _wall(old_cmd), _wall(new_cmd)  # warm the file cache once; not counted
            pairs = [(_wall(new_cmd), _wall(old_cmd)) for _ in range(args.runs)]
        finally:
            for label in ("old", "new"):
                if (base / label / "src").exists():
                    remove = ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base / label / "src")]
                    subprocess.run(remove, check=False)
    ratios = sorted(new / old for new, old in pairs)
    new_wall, old_wall = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
    mode = "instructor" if args.instructor or args.cs231n else "student"
    graded = f"a class of {args.class_size} with --jobs 2, " if args.class_size else ""
    how = "graded alone" if args.one_off else "with --jobs 1"
    what = f"cs231n_style's {args.cs231n} {how}" if args.cs231n else args.assignment
    print(
        f"{what}, {graded}{mode} mode{', no notebooks' if args.no_notebooks else ''}, {args.runs} pairs: "
        f"wall new/old median {statistics.median(ratios):.3f} (min {ratios[0]:.3f}, max {ratios[-1]:.3f}); "
        f"median wall new {new_wall:.2f} s, old {old_wall:.2f} s"
    )


if __name__ == "__main__":
    main()
