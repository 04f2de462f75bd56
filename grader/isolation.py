"""Operating-system isolation around the children, the first level that works on the host (`level()`):
bubblewrap; a dedicated user per submission when the grader is root (`grader.users`); user
namespaces built by the grader itself (`grader.userns`); none. See `LEVELS` for what each protects.

At every level the resource limits of `sandbox.Limits` hold (memory, CPU time, file
size, wall clock, process group killed). With bubblewrap or user namespaces the child
sees the whole file system read-only, except its scratch copy and request folders; the
reference, the course folders, the fixtures and the hidden seed are covered by empty
folders; it has its own process, IPC and network namespaces; and it dies with the
grader. A dedicated user relies on the host's permissions instead, which every child
checks before it is ready (`grader.confine`). With a writable pids cgroup, a child and
everything it forks can hold at most `Limits.processes` processes, and all of them are
killed at the end, even those that left the process group.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader import users
from grader.confine import Confinement
from grader.userns import Spec

if TYPE_CHECKING:
    from grader.sandbox import Limits

CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


# Names the level to use instead of the strongest the host offers: "user", "namespaces" or "none"
# (the tests of the other levels on a host that has bubblewrap).
ISOLATION_ENV = "GRADER_ISOLATION"
FORCED_LEVELS = ("user", "namespaces", "none")


def _forced() -> str | None:
    value = os.environ.get(ISOLATION_ENV, "")
    return value if value in FORCED_LEVELS else None


@functools.lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    """bwrap, if it is installed and can create namespaces here (containers often forbid it)."""
    found = shutil.which("bwrap")
    if not found or _forced():
        return None
    try:
        ok = (
            subprocess.run(
                [found, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                capture_output=True,
                timeout=10,
                check=False,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return found if ok else None


def wrap(
    argv: list[str],
    cwd: Path,
    writable: list[Path],
    readable: list[Path],
    hidden: list[Path],
    network: bool = False,
    as_pid_1: bool = False,
) -> list[str]:
    """argv run inside bubblewrap (or unchanged where bubblewrap is not available).

    Where bubblewrap is missing but user namespaces work, `grader.userns` builds the same view.
    A hidden folder is covered whole by an empty one (the course folder with its reference and
    .git, the folder of the submissions, the seed's folder); what the child needs inside it (the
    interpreter, the environment, the grader, its scratch copy and request folders) is bound back,
    and any hidden path inside those is covered again.

    `as_pid_1` runs the command itself as the namespace's first process: an IPython kernel
    takes a parent process id of 1 to mean its client has gone, and would quit at once.
    """
    if level() == "namespaces":
        spec = Spec(
            str(cwd),
            readable=(*runtime_paths(), *(str(p) for p in readable)),
            writable=tuple(str(p) for p in writable),
            hidden=tuple(str(p) for p in hidden),
            network=network,
        )
        return [sys.executable, "-I", "-m", "grader.userns", spec.encode(), "--", *argv]
    bwrap = bwrap_path()
    if bwrap is None:
        return argv
    args = [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
    ]
    if not network:
        args.append("--unshare-net")
    if as_pid_1:
        args.append("--as-pid-1")
    hidden_real = [Path(os.path.realpath(p)) for p in hidden if p.exists()]
    for path in hidden_real:
        if path.is_dir():
            args += ["--tmpfs", str(path)]
    # /tmp is a fresh tmpfs too (other submissions' scratch copies live there).
    bound = [Path(p) for p in dict.fromkeys([*runtime_paths(), *(os.path.realpath(p) for p in readable)])]
    for path in bound:
        args += ["--ro-bind", str(path), str(path)]
    for path in writable:
        args += ["--bind", str(path), str(path)]
        bound.append(Path(os.path.realpath(path)))
    for path in hidden_real:
        if path.is_dir() and any(b == path or b in path.parents for b in bound):
            args += ["--tmpfs", str(path)]
        elif not path.is_dir():
            args += ["--ro-bind", "/dev/null", str(path)]
    return [*args, "--chdir", str(cwd), "--", *argv]


@functools.lru_cache(maxsize=1)
def runtime_paths() -> tuple[str, ...]:
    """Folders the child's Python needs: the interpreter, the environment, the grader package, and the
    child's own import path, all asked of `python -I` itself. The parent's may differ: its import path
    can hold a test folder, a PYTHONPATH entry or a checkout (`python -m pytest` imports the grader
    from the current folder), which a child neither uses nor may see."""
    import grader

    candidates = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    ask = (
        "import importlib.util, json, os, sys; spec = importlib.util.find_spec('grader'); "
        "print(json.dumps(sys.path + ([os.path.dirname(spec.origin)] if spec and spec.origin else [])))"
    )
    try:
        found = subprocess.run(
            [sys.executable, "-I", "-c", ask], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        candidates += [p for p in json.loads(found) if p]
    except (OSError, subprocess.SubprocessError, ValueError):
        candidates += [str(Path(grader.__file__).resolve().parent), *(p for p in sys.path if p)]
    return tuple(p for p in dict.fromkeys(os.path.realpath(c) for c in candidates) if os.path.isdir(p))


def hidden_path_problems(hidden: list[Path]) -> list[str]:
    """Why hiding these paths would break grading: a hidden folder that holds (or is) something every
    child needs would be covered by an empty folder, and every student would fail."""
    needed = {
        "the grader's Python interpreter": Path(sys.executable),
        "the Python environment": Path(sys.prefix),
        "the base Python installation": Path(sys.base_prefix),
        "the folder of the scratch copies": Path(tempfile.gettempdir()),
    }
    for folder in runtime_paths():
        needed.setdefault(f"the grader's code ({folder})", Path(folder))
    problems = []
    for secret in hidden:
        real = Path(os.path.realpath(secret))
        for what, path in needed.items():
            target = Path(os.path.realpath(path))
            if target == real or real in target.parents:
                problems.append(f"{secret} holds {what} ({target}); a child could not see it")
                break
    return problems


class ProcessCap:
    """A pids cgroup of its own for one child: caps how many processes it may hold, and kills them all.

    The child joins it itself (`grader.confine`), before any student code runs."""

    _count = 0

    def __init__(self, limit: int, parent: Path | None = None) -> None:
        """A cap at the top of the pids hierarchy, or, given one, inside a `parent` cap (which then
        caps its own processes and every cap inside it, together)."""
        self.path: Path | None = None
        ProcessCap._count += 1
        name = f"nn-grader-{os.getpid()}-{ProcessCap._count}"
        for root in CGROUP_ROOTS if parent is None else (parent,):
            if not (root / "cgroup.procs").exists() or not os.access(root, os.W_OK):
                continue
            if root == Path("/sys/fs/cgroup") and "pids" not in _read(root / "cgroup.controllers"):
                continue
            if parent is None:
                _remove_stale(root)
            elif (root / "cgroup.subtree_control").exists():
                # cgroup v2 gives a child cgroup a pids.max only once its parent hands the controller down.
                with contextlib.suppress(OSError):
                    (root / "cgroup.subtree_control").write_text("+pids")
            try:
                (root / name).mkdir()
            except OSError:
                continue
            try:
                (root / name / "pids.max").write_text(str(limit))
            except OSError:
                _rmdir(root / name)
                continue
            self.path = root / name
            break

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
            if _rmdir(self.path):  # succeeds once the last process has gone
                break
            time.sleep(0.01)
        self.path = None


@dataclass(frozen=True)
class ProcessLimit:
    """How a child's process count is capped on this host, and the cap to apply."""

    kind: str  # "pids cgroup" | "dedicated user" | "user count" | "none"
    cap: ProcessCap | None
    nproc: int | None

    def confinement(
        self, limits: Limits, lease: users.Lease | None, hidden: tuple[Path, ...], needed: list[Path]
    ) -> Confinement:
        """What the child applies to itself: its limits, its user, and (under any isolation) the check that
        the hidden paths are out of its reach and what it needs within."""
        verify = level() != "none"
        return Confinement(
            limits.memory_bytes,
            limits.cpu_seconds,
            limits.file_bytes,
            self.nproc,
            str(self.cap.path) if self.cap is not None and self.cap.path is not None else None,
            user=lease.uid if lease is not None else None,
            verify=verify,
            hidden=tuple(str(p) for p in hidden) if verify else (),
            needed=tuple(dict.fromkeys([*runtime_paths(), *(os.path.realpath(p) for p in needed)])) if verify else (),
        )

    def release(self) -> None:
        if self.cap is not None:
            self.cap.kill_all()


def process_limit(processes: int, dedicated: bool = False) -> ProcessLimit:
    """The strongest process cap this host allows for one child.

    A pids cgroup counts only the child and what it starts. Without one, RLIMIT_NPROC is the
    fallback, but it counts every process and thread of the user (a desktop session holds
    hundreds), so it is set to what the user holds now plus `processes`: a fixed 64 would
    make correct code fail for a user with a browser open. Root is exempt from RLIMIT_NPROC;
    a `dedicated` user (`grader.users`) runs nothing but one submission's children, at most a module
    child and two kernels at once, so it gets twice the child's share.
    """
    cap = ProcessCap(processes)
    if cap.path is not None:
        return ProcessLimit("pids cgroup", cap, None)
    if dedicated:
        return ProcessLimit("dedicated user", None, 2 * processes)
    if os.getuid() == 0:
        return ProcessLimit("none", None, None)
    return ProcessLimit("user count", None, user_task_count() + processes)


def user_task_count(uid: int | None = None) -> int:
    """Processes and threads whose real user is uid: what RLIMIT_NPROC counts."""
    uid = os.getuid() if uid is None else uid
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as f:
                status = f.read().decode("ascii", "replace")
        except OSError:
            continue  # gone already
        real = threads = None
        for line in status.splitlines():
            if line.startswith("Uid:"):
                real = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        if real == uid and threads:
            count += threads
    return count


def _remove_stale(root: Path) -> None:
    """Empty cgroups left by a grader that was killed (SIGKILL skips every cleanup)."""
    for folder in root.glob("nn-grader-*"):
        try:
            owner = int(folder.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if not Path(f"/proc/{owner}").exists() and not _read(folder / "cgroup.procs").strip():
            _rmdir(folder)


def _rmdir(path: Path) -> bool:
    try:
        path.rmdir()
        return True
    except OSError:
        return False


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


PROCESS_LIMIT_TEXT = {
    "pids cgroup": "processes capped by a pids cgroup per child",
    "dedicated user": "processes capped by RLIMIT_NPROC of the submission's dedicated user",
    "user count": "processes capped by RLIMIT_NPROC at the user's current count plus the child's share "
    "(shared with the user's other processes)",
    "none": "processes not capped (root without a writable pids cgroup): the wall clock stops a fork bomb",
}


UNISOLATED_RISKS = (
    "a student's code could read the reference solution, the hidden seed and the fixtures' expected "
    "outputs, read and change other students' submissions, scratch copies and cached reports, signal or "
    "kill the grader, and use the network"
)


# What each level protects, and what it leaves open: the README's security model says the same.
LEVELS = {
    "bubblewrap": "bubblewrap: children see the file system read-only, the reference, the seed, the course "
    "folders and other submissions hidden, their own process, IPC and network namespaces",
    "user": "a dedicated user per submission (root without bubblewrap): children cannot signal the grader or "
    "other students, write the grader's files or read other scratch copies, and are checked to see "
    "none of the hidden paths; they can read what every user of the host can, and use the network",
    "namespaces": "user namespaces (bubblewrap missing): as with bubblewrap, children see the file system "
    "read-only, the hidden paths covered, their own process, IPC and network namespaces",
    "none": f"no isolation ({UNISOLATED_RISKS})",
}


def level() -> str:
    """The isolation children get on this host, the first that works of: "bubblewrap"; "user" (a
    dedicated user per submission, for root without bubblewrap); "namespaces" (`grader.userns`, for
    anyone else without bubblewrap); "none". GRADER_ISOLATION can name another."""
    forced = _forced()
    if forced:
        return forced
    if bwrap_path():
        return "bubblewrap"
    # A dedicated user must be able to run the grader's Python: one under /root is left to namespaces.
    if users.unavailable() is None and all(users.others_can_read(p) for p in runtime_paths()):
        return "user"
    return "namespaces" if namespaces_problem() is None else "none"


@functools.lru_cache(maxsize=1)
def namespaces_problem() -> str | None:
    """Why `grader.userns` cannot isolate a child here (user namespaces off, a container that masks
    /proc, an old kernel), or None when a trial run works."""
    # The runtime is bound back as for a real child: under the fresh /tmp, an environment in /tmp is gone.
    spec = Spec("/", readable=runtime_paths())
    trial = [sys.executable, "-I", "-m", "grader.userns", spec.encode(), "--", sys.executable, "-I", "-c", "pass"]
    try:
        done = subprocess.run(trial, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def dedicated_user(folder: Path) -> users.Lease | None:
    """At the "user" level, the lease whose user id runs the children working in folder (handed over
    to it); None at the other levels. Raises OSError when it cannot be had."""
    if level() != "user":
        return None
    problem = users.unavailable()
    if problem is not None:
        raise OSError(f"{ISOLATION_ENV}=user, but this host cannot run children as dedicated users: {problem}")
    return users.acquire(folder)


def summary() -> str:
    """A few words for each report: the isolation level and how processes are capped."""
    return f"{level()}; {PROCESS_LIMIT_TEXT[_limit_kind()].split(' (')[0]}"


def describe() -> str:
    """One line for the report: which isolation this machine gives."""
    return f"{LEVELS[level()]}, {PROCESS_LIMIT_TEXT[_limit_kind()]}"


def _limit_kind() -> str:
    limit = process_limit(1, dedicated=level() == "user")
    limit.release()
    return limit.kind
