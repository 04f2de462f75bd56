"""What a module child's start costs: a sandboxed Python with numpy and the grader's probes, at this
host's isolation level, from its start to "ready", before any student code runs.

    .venv/bin/python benchmarks/child_start.py [--runs 20]

Prints the median wall time and the median CPU time of the child's processes (what a warm
interpreter forked for each child would save at most).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import _children

from grader import backends, isolation
from grader.backends import Policy
from grader.sandbox import ChildSession


def _tree_cpu(root: int) -> float:
    """CPU seconds of a process and its descendants, all alive (the child waits for a request)."""
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        todo += _children(pid)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    walls, cpus = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="child-start-") as tmp:
            root, workdir = Path(tmp) / "submission", Path(tmp) / "requests"
            root.mkdir()
            workdir.mkdir()
            session = backends.default().session(root, workdir, Policy())
            assert isinstance(session, ChildSession)
            started = time.perf_counter()
            with session:
                session.start()
                walls.append(time.perf_counter() - started)
                assert session.proc is not None
                cpus.append(_tree_cpu(session.proc.pid))
    print(
        f"module child start at the level {isolation.level()!r}, {args.runs} runs: median wall "
        f"{statistics.median(walls):.3f} s (min {min(walls):.3f}, max {max(walls):.3f}), median CPU "
        f"{statistics.median(cpus):.3f} s"
    )


if __name__ == "__main__":
    main()
