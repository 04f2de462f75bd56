"""How many CPUs this process may use: its affinity, capped by its cgroup's CPU quota.

A container sees the host's cores: `docker run --cpus 2` (and a grading platform's container) on a
64-core host sets a quota of two CPUs' time, which `os.cpu_count()` does not show. Without the cap,
a batch would start 64 workers there, and a one-off grade would run the reference beside the student
on a single CPU, where it gains nothing and shares the student's timed cells.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def _quota(cgroup: Path) -> float | None:
    """The CPUs' worth of time the cgroup's quota allows, if it sets one (v2's cpu.max, v1's CFS files).
    In a container, its own cgroup is mounted at the root of the cgroup file system."""
    try:
        text = (cgroup / "cpu.max").read_text().split()  # v2: "max 100000" or "200000 100000"
    except OSError:
        try:
            text = [(cgroup / "cpu" / f"cpu.cfs_{name}_us").read_text().strip() for name in ("quota", "period")]
        except OSError:
            return None
    try:
        quota, period = int(text[0]), int(text[1])
    except (IndexError, ValueError):
        return None  # "max", or v1's -1 below: no quota
    return quota / period if quota > 0 and period > 0 else None


def usable(cgroup: Path = CGROUP) -> int:
    """At least 1."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _quota(cgroup)
    if quota is not None:
        count = min(count, math.ceil(quota))
    return max(1, count)
