"""Wall time and peak memory of a command and all its child processes (Linux /proc)."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

PAGE = 4096


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # it ended while the tree was walked
        return out
    for task in tasks:
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _tree_rss(root: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        todo += _children(pid)
    return total


def run(cmd: list[str], poll_s: float = 0.005) -> tuple[float, int]:
    """(wall seconds, peak resident bytes of the whole process tree) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(poll_s)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, peak


def summary(label: str, walls: list[float], peaks: list[int]) -> str:
    return (
        f"{label}: median {statistics.median(walls):.2f} s, min {min(walls):.2f} s, "
        f"max {max(walls):.2f} s over {len(walls)} runs; peak memory {max(peaks) / 2**20:.0f} MB "
        f"(all processes together)"
    )
