"""Dedicated user ids for children, when the grader runs as root without bubblewrap.

Each folder a child works in (a submission's scratch copy, a kernel's connection folder)
is handed over to a user id of its own, taken from a pool of ids that no account and no
process uses; the child switches to it (`grader.confine`) before any student code runs.
As that user it cannot signal the grader or another student's children, cannot write the
grader's files, and cannot read another student's scratch copy (mode 0700). It can read what
every user of the host can read: whether that includes the reference, the seed or the
course's `.git` depends on the host's permissions, so every child checks, before it says
it is ready, that none of the hidden paths is readable (`grader.confine.exposed`).

The pool is shared between grader processes through lock files in a folder only root can
write; when a folder's last child ends, every process left under its user id is killed
(also those that left the process group).
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import shutil
import signal
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# Far above the ids of accounts (and of Debian's and systemd's reserved ranges), where the
# host maps them; a container that maps only 65536 ids gets the top of its range.
POOL_BASES = (1_900_000_000, 63_000)
POOL_SIZE = 1000
LOCK_DIRS = (Path("/run/nn-grader-users"), Path(tempfile.gettempdir()) / "nn-grader-users-0")
# Where any user may create files: what a child leaves there is removed with its lease, so that the
# next submission given the same id finds nothing of the last.
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", tempfile.gettempdir())
# Bits of CapEff: chown, dac_override, kill, setgid, setuid.
NEEDED_CAPS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7}


def unavailable() -> str | None:
    """Why this host cannot give each child a user id of its own, or None when it can."""
    if os.geteuid() != 0:
        return "the grader does not run as root"
    caps = _effective_caps()
    missing = [name for name, bit in NEEDED_CAPS.items() if not caps >> bit & 1]
    if missing:
        return f"the grader's root lacks {', '.join(missing)} (a container that drops them)"
    if _pool_base() is None:
        return "no range of user ids is mapped into this host's user namespace"
    if _lock_dir() is None:
        return "no folder only root can write holds the pool's lock files"
    return None


def others_can_read(path: str) -> bool:
    """Whether a user with no claim on path (not its owner, not in its group) can read it: what a dedicated
    user needs of the grader's Python and environment (one under /root fails this)."""
    real = os.path.realpath(path)
    try:
        if not os.stat(real).st_mode & stat.S_IROTH:
            return False
        return all(os.stat(folder).st_mode & stat.S_IXOTH for folder in Path(real).parents)
    except OSError:
        return False


@dataclass
class Lease:
    """One user id (and group id of the same number), held while any child uses its folder."""

    uid: int
    lock_fd: int
    folder: str
    refs: int = 1

    @property
    def gid(self) -> int:
        return self.uid


_HELD: dict[str, Lease] = {}
_GUARD = threading.Lock()


def acquire(folder: Path) -> Lease:
    """The user id that children working in folder run as: the one they already share, or a free one
    from the pool, to which folder is then handed over (owner of everything in it, mode 0700).
    Raises OSError when no id is free or the folder cannot be handed over."""
    key = os.path.realpath(folder)
    with _GUARD:
        held = _HELD.get(key)
        if held is not None:
            # Never handed over again while it is held: its processes could swap a folder for a link
            # under the walk.
            held.refs += 1
            return held
        lease = _lease(key)  # no process runs under its id, and none that wrote the folder is left
        try:
            hand_over(Path(key), lease.uid)
            reachable(Path(key))
        except OSError:
            _free(lease)
            raise
        _HELD[key] = lease
        return lease


def release(lease: Lease) -> None:
    """Drop one use of the lease; with the last, kill what is left under its id and free it."""
    with _GUARD:
        lease.refs -= 1
        if lease.refs > 0:
            return
        _HELD.pop(lease.folder, None)
    _free(lease)


def hand_over(path: Path, uid: int) -> None:
    """Make uid the owner of path and everything in it: links themselves, never their targets, each
    entry changed through its folder's descriptor, so no path is resolved twice."""
    for _, dirnames, filenames, dir_fd in os.fwalk(path):
        for name in dirnames + filenames:
            os.chown(name, uid, uid, dir_fd=dir_fd, follow_symlinks=False)
    os.chown(path, uid, uid, follow_symlinks=False)
    os.chmod(path, 0o700)


def reachable(path: Path) -> None:
    """Let other users pass through (not list) the grader's own temporary folders above path, which
    are created 0700; any other folder above it must already let them pass, or OSError says which."""
    temp = Path(os.path.realpath(tempfile.gettempdir()))
    for parent in Path(os.path.realpath(path)).parents:
        info = os.stat(parent)
        if info.st_mode & stat.S_IXOTH:
            continue
        if temp in parent.parents and info.st_uid == os.geteuid():
            os.chmod(parent, stat.S_IMODE(info.st_mode) | stat.S_IXOTH | stat.S_IXGRP)
            continue
        raise PermissionError(
            f"other users cannot pass through {parent}, so a child running as a dedicated "
            f"user cannot reach {path}; grade from a folder they can pass through "
            "(chmod o+x), or set TMPDIR to one"
        )


def reap(uid: int, patience_s: float = 5.0) -> bool:
    """Kill every process of uid; whether none is left. Each is signalled through a pidfd, after
    checking its owner again, so a process id reused in between is never hit."""
    deadline = time.monotonic() + patience_s
    while True:
        pids = _pids_of(uid)
        if not pids:
            return True
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue  # gone already
            try:
                if _owner(pid) == uid:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
            finally:
                os.close(fd)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def _lease(folder: str) -> Lease:
    base, lock_dir = _pool_base(), _lock_dir()
    if base is None or lock_dir is None:
        raise OSError(unavailable() or "no pool of user ids")
    for uid in range(base, base + POOL_SIZE):
        if _has_account(uid):
            continue
        fd = os.open(lock_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if not reap(uid):  # left behind by a grader that was killed, and unkillable
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            continue
        return Lease(uid, fd, folder)
    raise OSError(f"all {POOL_SIZE} user ids of the pool from {base} are in use")


def _free(lease: Lease) -> None:
    reap(lease.uid)
    sweep(lease.uid)
    fcntl.flock(lease.lock_fd, fcntl.LOCK_UN)
    os.close(lease.lock_fd)


def sweep(uid: int) -> None:
    """Remove what uid made in the folders every user can write. In those (sticky) folders a user can
    only add entries of its own at the top, so its whole footprint is the top-level entries it owns."""
    for folder in dict.fromkeys(os.path.realpath(f) for f in SHARED_FOLDERS):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def _has_account(uid: int) -> bool:
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
            return True
        except KeyError:
            pass
    return False


def _pids_of(uid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and _owner(int(entry.name)) == uid:
            pids.append(int(entry.name))
    return pids


def _owner(pid: int) -> int | None:
    """The real user id of a live process (None for one that is gone or a zombie, which only its
    parent can remove)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read().decode("ascii", "replace")
    except OSError:
        return None
    owner = None
    for line in status.splitlines():
        if line.startswith("State:") and line.split()[1] in ("Z", "X"):
            return None
        if line.startswith("Uid:"):
            owner = int(line.split()[1])
    return owner


def _effective_caps() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def _pool_base() -> int | None:
    """The first base whose whole pool the host maps, for user and group ids alike."""
    maps = [_id_map("/proc/self/uid_map"), _id_map("/proc/self/gid_map")]
    for base in POOL_BASES:
        if all(any(start <= base and base + POOL_SIZE <= start + count for start, count in ranges) for ranges in maps):
            return base
    return None


def _id_map(path: str) -> list[tuple[int, int]]:
    try:
        with open(path) as f:
            return [(int(inside), int(count)) for inside, _, count in (line.split() for line in f if line.strip())]
    except OSError:
        return [(0, 2**32 - 1)]  # no user namespaces: every id is the host's


def _lock_dir() -> Path | None:
    """A folder for the lock files that only root can write (in /tmp, someone else could have made it first)."""
    for folder in LOCK_DIRS:
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            info = os.lstat(folder)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o022:
            return folder
    return None
