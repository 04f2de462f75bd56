"""Isolation through unprivileged user namespaces, where bubblewrap is missing but the kernel allows them.

`python -I -m grader.userns SPEC -- COMMAND...` runs COMMAND the way `isolation.wrap` asks
bubblewrap to: in new user, mount, pid, IPC and UTS namespaces (and a network namespace
unless SPEC allows the network), with the whole file system read-only, a fresh `/tmp`,
`/dev/shm` and `/proc`, every hidden folder covered by an empty one and every hidden file by
`/dev/null`, and only SPEC's readable and writable paths bound back. The new root is built
from the old one as bubblewrap builds it (a pivot onto a private tmpfs, binds from the old
root, a second pivot), then the old root is detached and the process enters a second user
namespace mapped to the caller's own ids: there it has no capabilities once COMMAND starts,
and every mount it inherited is locked, so it can neither uncover a hidden folder nor make a
read-only one writable. COMMAND runs as the namespace's first process: when it ends,
everything it started ends with it.

Only the standard library is used (ctypes for the system calls Python does not wrap), so the
grader needs nothing installed. Linux on x86_64 or aarch64, kernel 5.12 or later
(`mount_setattr`).
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import signal
import sys
from dataclasses import dataclass

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
MNT_DETACH = 2
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
MOUNT_ATTR_RDONLY = 0x1
PR_SET_PDEATHSIG, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 28, 38
SECBIT_NOROOT, SECBIT_NOROOT_LOCKED = 1 << 0, 1 << 1
# System call numbers Python and glibc do not wrap (the same on both in the generic table, but
# pivot_root is older than it on x86_64).
SYSCALLS = {"x86_64": {"pivot_root": 155, "mount_setattr": 442}, "aarch64": {"pivot_root": 41, "mount_setattr": 442}}
BASE, NEW, OLD = "/tmp", "/tmp/newroot", "/tmp/oldroot"
SCRATCH_TMPFS = "mode=1777,size=256m"


@dataclass(frozen=True)
class Spec:
    """What the command sees: `readable` and `writable` paths bound back (the first read-only),
    `hidden` paths covered, `cwd` to start in, and whether it keeps the host's network."""

    cwd: str
    readable: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    network: bool = False

    def encode(self) -> str:
        return json.dumps(
            {
                "cwd": self.cwd,
                "readable": self.readable,
                "writable": self.writable,
                "hidden": self.hidden,
                "network": self.network,
            }
        )

    @classmethod
    def decode(cls, text: str) -> Spec:
        raw = json.loads(text)
        return cls(
            raw["cwd"], tuple(raw["readable"]), tuple(raw["writable"]), tuple(raw["hidden"]), bool(raw["network"])
        )


class SetupFailed(RuntimeError):
    pass


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise SetupFailed(f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source and source.encode(),
            target.encode(),
            fstype and fstype.encode(),
            ctypes.c_ulong(flags),
            data and data.encode(),
        ),
        f"mount {source or fstype} on {target}",
    )


def _syscall(name: str, *args: object) -> int:
    number = SYSCALLS.get(platform.machine(), {}).get(name)
    if number is None:
        raise SetupFailed(f"{name} is not known on {platform.machine()}")
    return int(_libc.syscall(ctypes.c_long(number), *args))


def _read_only(target: str, recursive: bool) -> None:
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    _check(
        _syscall(
            "mount_setattr",
            ctypes.c_int(AT_FDCWD),
            target.encode(),
            ctypes.c_uint(AT_RECURSIVE if recursive else 0),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"make {target} read-only",
    )


def _pivot(new: str, old: str) -> None:
    _check(_syscall("pivot_root", new.encode(), old.encode()), f"pivot_root {new}")


def _map_ids(inside: int, outside: int, gid_inside: int, gid_outside: int) -> None:
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{inside} {outside} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid_inside} {gid_outside} 1")


def _mount_point(path: str, like: str) -> None:
    """Make path exist (inside a tmpfs that covers its folder) as a folder or file, like `like`."""
    if os.path.lexists(path):
        return
    if os.path.isdir(like):
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w"):
            pass


def _inside(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def build_root(spec: Spec) -> None:
    """Build the new root in a fresh mount namespace and switch to it (the caller is root of its user
    namespace and the first process of its pid namespace). The spec's paths are real paths: once the
    first pivot is made, the host's links no longer resolve."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", BASE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    os.mkdir(NEW)
    os.mkdir(OLD)
    _pivot(BASE, OLD)
    new, old = "/newroot", "/oldroot"
    _mount(old, new, None, MS_BIND | MS_REC)
    _read_only(new, recursive=True)
    _mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV)
    _mount("tmpfs", new + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, SCRATCH_TMPFS)
    if os.path.isdir(new + "/dev/shm"):
        _mount("tmpfs", new + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, SCRATCH_TMPFS)
    hidden = [p for p in spec.hidden if os.path.exists(old + p)]
    covers: list[str] = []
    # What the new root does not show (under its fresh /tmp, say) needs no cover.
    for path in sorted(p for p in hidden if os.path.isdir(old + p)):  # a folder before what it holds
        if not _inside(path, covers) and os.path.lexists(new + path):
            _mount("tmpfs", new + path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
            covers.append(path)
    bound: list[str] = []
    for path, writable in [*((p, False) for p in spec.readable), *((p, True) for p in spec.writable)]:
        if not os.path.exists(old + path):
            continue
        _mount_point(new + path, old + path)
        _mount(old + path, new + path, None, MS_BIND | MS_REC)
        if not writable:
            _read_only(new + path, recursive=True)
        bound.append(path)
    for path in hidden:
        if not os.path.lexists(new + path):
            continue
        if os.path.isdir(old + path):
            if _inside(path, bound):  # inside what was bound back: covered again
                _mount("tmpfs", new + path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
                covers.append(path)
        else:
            _mount(old + "/dev/null", new + path, None, MS_BIND)
            _read_only(new + path, recursive=False)
    for path in covers:
        _read_only(new + path, recursive=False)
    os.chdir(new)
    _pivot(".", ".")
    _check(_libc.umount2(b".", ctypes.c_int(MNT_DETACH)), "detach the old root")
    os.chdir("/")


def run(spec: Spec, argv: list[str]) -> int:
    real = os.path.realpath
    spec = Spec(
        real(spec.cwd),
        tuple(map(real, spec.readable)),
        tuple(map(real, spec.writable)),
        tuple(map(real, spec.hidden)),
        spec.network,
    )
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "die with the grader")
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if not spec.network:
        flags |= CLONE_NEWNET
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")
    _map_ids(0, uid, 0, gid)
    pid = os.fork()
    if pid:
        # Stays outside as the command's parent, so that the grader's process group holds both.
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            os.kill(os.getpid(), os.WTERMSIG(status))
        return os.waitstatus_to_exitcode(status)
    try:
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "die with the launcher")
        build_root(spec)
        # A second user namespace, as the caller's own ids: no capabilities once the command starts,
        # and every mount above locked against being undone.
        _check(_libc.unshare(ctypes.c_int(CLONE_NEWUSER | CLONE_NEWNS)), "unshare a second user namespace")
        _map_ids(uid, 0, gid, 0)
        # A caller that is root stays uid 0 in there: it must not get capabilities back when it
        # starts the command, as root otherwise would.
        _check(_libc.prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED, 0, 0, 0), "no root privileges")
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no new privileges")
        os.chdir(spec.cwd)
        os.execv(argv[0], argv)
    except (SetupFailed, OSError) as exc:
        print(f"grader.userns: {exc}", file=sys.stderr, flush=True)
    os._exit(70)


def main(args: list[str]) -> int:
    if len(args) < 3 or args[1] != "--":
        print("usage: python -I -m grader.userns SPEC -- COMMAND...", file=sys.stderr)
        return 64
    try:
        return run(Spec.decode(args[0]), args[2:])
    except (SetupFailed, OSError, ValueError, KeyError) as exc:
        print(f"grader.userns: {exc}", file=sys.stderr, flush=True)
        return 70


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
