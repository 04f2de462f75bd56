"""Limits a child puts on itself before any student code runs.

The grader starts children from threads (the reference and the student run side by
side), where `preexec_fn` is unsafe, so nothing is done between fork and exec:
the child's first act, in `grader.child` or `grader.kernel`, is `apply()`. It
joins the pids cgroup the grader made for it (when there is one), sets its
resource limits, which everything it later starts inherits, switches to its
dedicated user when the grader runs as root without bubblewrap (`grader.users`),
and checks that none of the paths it must not see can be read.

Only the standard library is imported here: this runs before numpy in every child.
"""

from __future__ import annotations

import json
import os
import resource
import stat
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Confinement:
    """What one child applies to itself. `nproc` is an absolute RLIMIT_NPROC (it counts every task of
    the user, not only the child's: see `grader.isolation.process_limit`); None leaves it alone.
    `user` is the id (user and group) to switch to. With `verify`, the child checks that nothing under
    `hidden` can be read, except `needed` (what it must see: its interpreter, its folders), and that
    everything in `needed` can."""

    memory_bytes: int
    cpu_seconds: int
    file_bytes: int
    nproc: int | None = None
    cgroup: str | None = None
    user: int | None = None
    verify: bool = False
    hidden: tuple[str, ...] = ()
    needed: tuple[str, ...] = ()

    def encode(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> Confinement:
        raw: dict[str, Any] = json.loads(text)
        for key in ("hidden", "needed"):
            raw[key] = tuple(raw.get(key, ()))
        return cls(**raw)


class ConfinementError(RuntimeError):
    """The child could not confine itself; it must not run student code."""


_applied = False


def applied() -> bool:
    """Whether this process was confined by the grader: a child or kernel grading a submission."""
    return _applied


def apply(confinement: Confinement) -> None:
    """Join the cgroup and set the limits of the calling process; raises ConfinementError."""
    global _applied  # noqa: PLW0603 - a fact about this whole process, set once
    _applied = True
    if confinement.cgroup:
        try:
            with open(os.path.join(confinement.cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError as exc:
            raise ConfinementError(f"cannot join the pids cgroup {confinement.cgroup}: {exc}") from exc
    limits = [
        (resource.RLIMIT_AS, confinement.memory_bytes),
        (resource.RLIMIT_CPU, confinement.cpu_seconds),
        (resource.RLIMIT_FSIZE, confinement.file_bytes),
        (resource.RLIMIT_CORE, 0),
    ]
    if confinement.nproc is not None:
        limits.append((resource.RLIMIT_NPROC, confinement.nproc))
    for which, wanted in limits:
        _soft, hard = resource.getrlimit(which)
        value = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError) as exc:
            raise ConfinementError(f"cannot set resource limit {which} to {value}: {exc}") from exc
    if confinement.user is not None:
        _become(confinement.user)
    if confinement.verify:
        for path in confinement.needed:
            if not os.access(path, os.R_OK | (os.X_OK if os.path.isdir(path) else 0)):
                raise ConfinementError(
                    f"the sandbox cannot read {path}, which every child needs; install the grader and its "
                    "Python where other users can read them (not under /root), or install bubblewrap"
                )
        seen = exposed(confinement.hidden, confinement.needed)
        if seen is not None:
            raise ConfinementError(
                f"the sandbox can read {seen}, which it must not see; make it unreadable to other users "
                f"(for example chmod -R go-rwx on its folder), or install bubblewrap"
            )


def _become(uid: int) -> None:
    """Switch for good to uid (and the group of the same number), with no supplementary groups."""
    try:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    except OSError as exc:
        raise ConfinementError(f"cannot switch to the dedicated user {uid}: {exc}") from exc
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != uid:
        raise ConfinementError(f"still not the dedicated user {uid} after switching")
    # Switching from root makes the process undumpable, which leaves its own /proc/self files
    # to root: numpy and ipykernel read some of them.
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass


def exposed(hidden: tuple[str, ...], needed: tuple[str, ...], budget: int = 500) -> str | None:
    """A file under a hidden path that this process can read (and is not empty), or None.

    Folders in `needed` (and what they hold) are skipped: a hidden course folder may hold the
    environment. What is unreadable, missing (bubblewrap covers hidden folders with empty ones)
    or empty (a hidden file under bubblewrap is /dev/null) is hidden. At most `budget` files are
    tried; one readable file anywhere says the layout is open.
    """
    needed_real = [os.path.realpath(p) for p in needed]

    def skip(path: str) -> bool:
        return any(path == n or path.startswith(n.rstrip(os.sep) + os.sep) for n in needed_real)

    stack = [os.path.realpath(p) for p in hidden]
    while stack and budget > 0:
        path = stack.pop()
        if skip(path):
            continue
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            try:
                names = sorted(os.listdir(path))[:200]
            except OSError:
                continue
            stack.extend(os.path.join(path, name) for name in reversed(names))
        elif stat.S_ISREG(info.st_mode):
            budget -= 1
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                if os.read(fd, 1):
                    return path
            except OSError:
                pass
            finally:
                os.close(fd)
    return None
