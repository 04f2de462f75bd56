"""What the temp folder's file system costs a batch: one module-only nndl class graded with `--jobs 2`,
in turns with the grader's temp folder where it is by default and on a tmpfs (TMPDIR), each run
from scratch (no cache). Prints the file system under each, the medians and the ratio.

    .venv/bin/python benchmarks/temp_filesystem.py [--count 30] [--rounds 3] [--tmpfs /dev/shm]

A grade creates and deletes a few thousand files and folders (scratch copies, requests, replies).
On ext4 without a journal, as on many virtual machines, each new inode skips every inode deleted
in the last half minute (`dirty_expire_centisecs`), reading its inode table block to find out: a
cost that grows with the rate of deletions, that is with the grader's own pace. Elsewhere (a
journal, tmpfs, most laptops) the ratio is about 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grade_class import ROOT, make_class, timed


def describe(folder: str) -> str:
    """The file system folder lies on: its type, and for ext4 whether it has a journal."""
    real = os.path.realpath(folder)
    best = ("", "?", "?")
    with open("/proc/mounts") as mounts:
        for line in mounts:
            device, point, kind = line.split()[:3]
            if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best[1]):
                best = (device, point, kind)
    device, point, kind = best
    if kind != "ext4":
        return f"{kind} ({point})"
    name = os.path.basename(os.path.realpath(device))
    journal = os.path.isdir("/proc/fs/jbd2") and any(j.startswith(f"{name}-") for j in os.listdir("/proc/fs/jbd2"))
    return f"ext4 ({point}), {'with' if journal else 'without'} a journal"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tmpfs", default="/dev/shm", help="a folder on a tmpfs (default: /dev/shm)")
    args = parser.parse_args()
    if not describe(args.tmpfs).startswith("tmpfs"):
        sys.exit(f"{args.tmpfs} is not on a tmpfs ({describe(args.tmpfs)}): pass --tmpfs with a folder that is")
    grade = str(Path(sys.executable).parent / "grade")
    default = tempfile.gettempdir()
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(dir=args.tmpfs) as fast:
        tmp_path = Path(tmp)
        make_class(tmp_path / "class", args.count, notebooks=False)
        seed = tmp_path / "seed"
        seed.write_text("benchmark\n")
        common = ["--reference", str(ROOT / "reference" / "nndl"), "--fixtures", str(ROOT / "fixtures" / "nndl")]
        common += ["--hidden-seed-file", str(seed), "--quiet", "--timeout", "2", "--no-notebooks", "--jobs", "2"]
        places = {default: describe(default), fast: describe(fast)}
        times: dict[str, list[float]] = {place: [] for place in places}
        for k in range(args.rounds):
            for place in places:
                out = tmp_path / f"out-{k}-{Path(place).name}"
                env = {**os.environ, "TMPDIR": place}
                seconds, _ = timed([grade, str(tmp_path / "class"), "--out", str(out), *common], env)
                times[place].append(seconds)
        medians = {place: statistics.median(t) for place, t in times.items()}
        print(f"{args.count} module-only nndl submissions, --jobs 2, {args.rounds} rounds in turns:")
        for place, what in places.items():
            t = times[place]
            print(f"  temp folder {place}: {what}: median {medians[place]:.1f} s (min {min(t):.1f}, max {max(t):.1f})")
        print(f"ratio tmpfs / default: {medians[fast] / medians[default]:.2f}")


if __name__ == "__main__":
    main()
