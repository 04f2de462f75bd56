"""Operating-system isolation around the children: bubblewrap where it runs, a pids cgroup where writable.

Without these the resource limits of `sandbox.Limits` still hold (memory, CPU time,
file size, wall clock, process group killed), but the child can read any file the
grader's user can read and may open network connections, and, run as root, it can
fork without bound. With bubblewrap (`bwrap`) the child sees the whole file system
read-only, except its scratch copy and request folder; the reference, the fixtures
and the hidden seed are hidden behind empty folders; it has its own process, IPC
and (for module code) network namespaces; and it dies with the grader. With a
writable pids cgroup, it and everything it forks can hold at most
`Limits.processes` processes, and all of them are killed at the end, even those
that left the process group.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


@functools.lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    """bwrap, if it is installed and can create namespaces here (containers often forbid it)."""
    found = shutil.which("bwrap")
    if not found:
        return None
    try:
        ok = subprocess.run([found, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                            capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return found if ok else None


def wrap(argv: list[str], cwd: Path, writable: list[Path], readable: list[Path], hidden: list[Path],
         network: bool = False, as_pid_1: bool = False) -> list[str]:
    """argv run inside bubblewrap (or unchanged where bubblewrap is not available).

    `as_pid_1` runs the command itself as the namespace's first process: an IPython kernel
    takes a parent process id of 1 to mean its client has gone, and would quit at once.
    """
    bwrap = bwrap_path()
    if bwrap is None:
        return argv
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent"]
    if not network:
        args.append("--unshare-net")
    if as_pid_1:
        args.append("--as-pid-1")
    # /tmp is a fresh tmpfs (other submissions' scratch copies live there); what Python needs is
    # bound back read-only (the interpreter, the environment and the grader may well sit under
    # /tmp, in a CI's fresh clone say), then the scratch folders, and the hidden paths last so
    # that they cover anything bound before them.
    for path in dict.fromkeys([*runtime_paths(), *map(str, readable)]):
        args += ["--ro-bind", path, path]
    for path in writable:
        args += ["--bind", str(path), str(path)]
    for path in hidden:
        if path.is_dir():
            args += ["--tmpfs", str(path)]
        elif path.exists():
            args += ["--ro-bind", "/dev/null", str(path)]
    return args + ["--chdir", str(cwd), "--"] + argv


def runtime_paths() -> list[str]:
    """Folders the child's Python needs: the interpreter, the environment, the grader package."""
    import grader

    candidates = [sys.prefix, sys.base_prefix, str(Path(grader.__file__).resolve().parent)]
    candidates += [p for p in sys.path if p]
    return [p for p in dict.fromkeys(os.path.realpath(c) for c in candidates) if os.path.isdir(p)]


class ProcessCap:
    """A pids cgroup of its own for one child: caps how many processes it may hold, and kills them all."""

    _count = 0

    def __init__(self, limit: int) -> None:
        self.path: Path | None = None
        ProcessCap._count += 1
        name = f"nn-grader-{os.getpid()}-{ProcessCap._count}"
        for root in CGROUP_ROOTS:
            if not (root / "cgroup.procs").exists() or not os.access(root, os.W_OK):
                continue
            if root == Path("/sys/fs/cgroup") and "pids" not in _read(root / "cgroup.controllers"):
                continue
            _remove_stale(root)
            try:
                (root / name).mkdir()
                (root / name / "pids.max").write_text(str(limit))
                self.path = root / name
                break
            except OSError:
                continue

    def enter(self) -> None:
        """Called in the child between fork and exec: join the cgroup."""
        if self.path is not None:
            with open(self.path / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))

    def kill_all(self) -> None:
        if self.path is None:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pids = [int(p) for p in _read(self.path / "cgroup.procs").split()]
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.path.rmdir()  # succeeds once the last process has gone
                break
            except OSError:
                time.sleep(0.01)
        self.path = None


def _remove_stale(root: Path) -> None:
    """Empty cgroups left by a grader that was killed (SIGKILL skips every cleanup)."""
    for folder in root.glob("nn-grader-*"):
        try:
            owner = int(folder.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if not Path(f"/proc/{owner}").exists() and not _read(folder / "cgroup.procs").strip():
            try:
                folder.rmdir()
            except OSError:
                pass


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def describe() -> str:
    """One line for the report: which isolation this machine gives."""
    parts = ["bubblewrap" if bwrap_path() else "no bubblewrap (files readable, network open)"]
    cap = ProcessCap(1)
    parts.append("pids cgroup" if cap.path else "no pids cgroup (processes uncapped when run as root)")
    cap.kill_all()
    return ", ".join(parts)
