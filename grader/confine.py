"""Limits a child puts on itself before any student code runs.

The grader starts children from threads (the reference and the student run side by
side), where `preexec_fn` is unsafe, so nothing is done between fork and exec:
the child's first act, in `grader.child` or `grader.kernel`, is `apply()`. It
joins the pids cgroup the grader made for it (when there is one) and sets its
resource limits, which everything it later starts inherits.

Only the standard library is imported here: this runs before numpy in every child.
"""

from __future__ import annotations

import json
import os
import resource
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Confinement:
    """What one child applies to itself. `nproc` is an absolute RLIMIT_NPROC (it counts every task of
    the user, not only the child's: see `grader.isolation.process_limit`); None leaves it alone."""

    memory_bytes: int
    cpu_seconds: int
    file_bytes: int
    nproc: int | None = None
    cgroup: str | None = None

    def encode(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> "Confinement":
        return cls(**json.loads(text))


class ConfinementError(RuntimeError):
    """The child could not confine itself; it must not run student code."""


def apply(confinement: Confinement) -> None:
    """Join the cgroup and set the limits of the calling process; raises ConfinementError."""
    if confinement.cgroup:
        try:
            with open(os.path.join(confinement.cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError as exc:
            raise ConfinementError(f"cannot join the pids cgroup {confinement.cgroup}: {exc}") from exc
    limits = [(resource.RLIMIT_AS, confinement.memory_bytes), (resource.RLIMIT_CPU, confinement.cpu_seconds),
              (resource.RLIMIT_FSIZE, confinement.file_bytes), (resource.RLIMIT_CORE, 0)]
    if confinement.nproc is not None:
        limits.append((resource.RLIMIT_NPROC, confinement.nproc))
    for which, value in limits:
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError) as exc:
            raise ConfinementError(f"cannot set resource limit {which} to {value}: {exc}") from exc
