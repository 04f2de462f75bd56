"""Running a submission's code in a child process the grader can always stop.

One `ChildSession` is one child process serving many probe requests, so numpy is
imported once per submission rather than once per item. Every request has its
own wall-clock limit; on a timeout or a crash the whole process group is killed
and the next request starts a fresh child, so one hanging item never costs the
others their grade.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from grader import codec, untrusted, users
from grader.isolation import ProcessLimit, dedicated_user, process_limit, runtime_paths, wrap
from grader.results import ChildResult


@dataclass(frozen=True)
class Limits:
    """Resource limits for one child process."""

    memory_bytes: int = 2 * 1024**3
    cpu_seconds: int = 600
    file_bytes: int = 64 * 1024**2
    processes: int = 64
    result_bytes: int = 64 * 1024**2
    # What all the results of one child session may add up to, held by the grader at once. A
    # recording of a training run's calls (`grader.replay`) is the one case that needs more.
    session_result_bytes: int = 256 * 1024**2


# Python and numpy start in well under a second; a loaded batch machine may take much longer.
STARTUP_TIMEOUT_S = 60.0


def scrubbed_env(home: Path, matplotlib_inline: bool = False) -> dict[str, str]:
    """The only environment the child sees: no secrets, one BLAS thread, paths inside the scratch copy.

    A notebook kernel draws inline figures; a module child draws nothing on screen.
    """
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(home / ".matplotlib"),
    }
    if matplotlib_inline:
        del env["MPLBACKEND"]
    return env


class SandboxError(RuntimeError):
    """The grader could not start a child or set up its sandbox: the grader's fault, never the student's."""


# Set when this process is being stopped (a batch worker told to stop): no child or kernel starts
# after it, so that the threads grading a submission end instead of going on to its next item.
STOPPING = threading.Event()


def refuse_when_stopping() -> None:
    if STOPPING.is_set():
        raise SandboxError("the grader is stopping")


class ChildSession:
    """A child process rooted at a scratch copy of one submission."""

    def __init__(
        self,
        root: Path,
        workdir: Path,
        limits: Limits = Limits(),
        extra_env: dict[str, str] | None = None,
        hidden: tuple[Path, ...] = (),
        readable: tuple[Path, ...] = (),
    ) -> None:
        self.root = root
        self.workdir = workdir
        self.limits = limits
        self.extra_env = dict(extra_env or {})
        self.hidden = hidden
        self.readable = readable
        self.limit: ProcessLimit | None = None
        self.lease: users.Lease | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.control: int | None = None
        self.requests = 0
        self.exchange = Exchange(workdir, limits.session_result_bytes)
        (root / ".home" / "tmp").mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        """Start the child and wait until it is confined and ready; raises SandboxError."""
        refuse_when_stopping()
        log = self.exchange.outbox / "child.log"
        # Flag opens under the hidden paths, except in the folders the child's Python uses (a course
        # folder or the temp folder may hold the environment): every import would be flagged.
        hidden = json.dumps({"hidden": [str(p) for p in self.hidden], "runtime": list(runtime_paths())})
        read_fd, write_fd = os.pipe()
        try:
            self.proc = self._spawn(log, hidden, write_fd)
        except SandboxError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.control = read_fd
        # The child says "ready" once it is confined and has imported what the grader needs, before
        # any student code: anything that goes wrong until then is the grader's fault.
        ready, _, _ = select.select([self.control], [], [], STARTUP_TIMEOUT_S)
        line = os.read(self.control, 64) if ready else b""
        if line != b"ready\n":
            stderr = b""
            if ready:  # it exited (or wrote nonsense) before it was ready: say why, from its stderr
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                assert self.proc.stderr is not None
                stderr = self.proc.stderr.read(4000) if self.proc.returncode is not None else b""
            self._kill()
            lines = stderr.decode("utf-8", "replace").strip().splitlines()
            why = (
                (lines[-1] if lines else "it exited before it was ready")
                if ready
                else f"it was not ready within {STARTUP_TIMEOUT_S:g} s"
            )
            raise SandboxError(f"the grader could not start a sandboxed child: {why}")
        assert self.proc.stderr is not None
        self.proc.stderr.close()

    def _spawn(self, log: Path, hidden: str, write_fd: int) -> subprocess.Popen[bytes]:
        """The child's process on this machine, at the host's isolation level, saying "ready" and
        "done" on write_fd; raises SandboxError."""
        if self.lease is None:
            self.lease = take_over(self.root, folders=(self.exchange.outbox,))
        limit = self.limit = process_limit(self.limits.processes, dedicated=self.lease is not None)
        confinement = limit.confinement(
            self.limits, self.lease, self.hidden, [self.root, self.exchange.outbox, self.exchange.inbox, *self.readable]
        )
        writable = [self.root, self.exchange.outbox] + ([Path(confinement.cgroup)] if confinement.cgroup else [])
        argv = wrap(
            [
                sys.executable,
                "-I",
                "-m",
                "grader.child",
                str(self.root),
                str(write_fd),
                str(log),
                hidden,
                confinement.encode(),
            ],
            cwd=self.root,
            writable=writable,
            readable=[*self.readable, self.exchange.inbox],
            hidden=list(self.hidden),
        )
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                cwd=self.root,
                env=self.child_env(),
                pass_fds=(write_fd,),
                start_new_session=True,
            )
        except OSError as exc:
            limit.release()
            raise SandboxError(f"cannot start a child process ({argv[0]}): {exc}") from exc

    def child_env(self) -> dict[str, str]:
        """The child's whole environment: scrubbed, and what the policy adds."""
        return {**scrubbed_env(self.root / ".home"), **self.extra_env}

    def _kill(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if self.limit is not None:
                self.limit.release()  # also what left the process group (setsid, double fork)
            self.proc.wait()
            if self.proc.stderr:
                self.proc.stderr.close()
            if self.proc.stdin:
                try:
                    self.proc.stdin.close()
                except OSError:  # the child died with a request still buffered
                    pass
        if self.control is not None:
            os.close(self.control)
        self.proc, self.control = None, None

    def close(self) -> None:
        self._kill()
        if self.lease is not None:
            users.release(self.lease)
            self.lease = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self, module: str, qualname: str, probe: str, params: dict[str, Any], inputs: Any, timeout_s: float
    ) -> ChildResult:
        """Serve one request; never raises for anything the student's code does (SandboxError is
        the grader's own failure)."""
        self.requests += 1
        request_file, reply_file = self.exchange.post(module, qualname, probe, params, inputs)
        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None and self.control is not None
        started = time.perf_counter()
        try:
            self.proc.stdin.write(f"{request_file}\t{reply_file}\n".encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the child died: the read below sees EOF
        ready, _, _ = select.select([self.control], [], [], timeout_s)
        reply = os.read(self.control, 64) if ready else None
        duration = time.perf_counter() - started
        if reply is None:
            self._kill()
            return ChildResult("timeout", duration_s=duration)
        if not reply:
            code = self.proc.wait()
            self._kill()
            return ChildResult("crashed", meta={"returncode": code}, duration_s=duration)
        result = self.exchange.collect(reply_file, duration, self.limits.result_bytes)
        if result.status == "crashed":
            self._kill()
        return result


def take_over(
    root: Path, folders: tuple[Path, ...] = (), trees: tuple[Path, ...] = (), who: str = "child"
) -> users.Lease | None:
    """Where each submission runs as a user of its own (root without bubblewrap): that user, now the
    owner of root, of each of `folders` (itself only) and of each of `trees` (whole). None elsewhere;
    raises SandboxError."""
    try:
        lease = dedicated_user(root)
        if lease is not None:
            try:
                for tree in trees:
                    users.hand_over(tree, lease.uid)
                    users.reachable(tree)
                for folder in folders:
                    os.chown(folder, lease.uid, lease.gid)
                    users.reachable(folder)
            except OSError:
                users.release(lease)
                raise
    except OSError as exc:
        raise SandboxError(f"the grader could not give the {who} a user of its own: {exc}") from exc
    return lease


META_BYTES = 256 * 1024
STATUSES = ("ok", "exception", "not_implemented", "bad_return", "timeout", "crashed")
# Metadata a child may send, and the type each must have; anything else is dropped.
META_FIELDS: dict[str, type | tuple[type, ...]] = {
    "status": str,
    "message": str,
    "error_type": str,
    "traceback": str,
    "duration_s": (int, float),
    "suspicious": list,
    "import_failed": str,  # the module whose import raised: one error of the file, not of each case
    "called": list,  # the items an item depends on that its code called (words a note, moves no point)
}
MAX_META_TEXT = 4000


class Exchange:
    """Where requests go to a child and replies come back, under names the child cannot guess.

    Requests are written into `in/`, which the child can read but (in a sandbox) not change;
    the child creates each reply file in `out/` itself (`grader.child.write_reply`), and the
    grader reads it as untrusted data: bounded, a regular file only, never following a link.
    Across one exchange the replies together may hold at most `total_bytes`, so whatever a
    submission returns, the grader's memory stays bounded.
    """

    def __init__(self, workdir: Path, total_bytes: int = 256 * 1024**2) -> None:
        self.inbox = workdir / f"in-{secrets.token_hex(8)}"
        self.outbox = workdir / f"out-{secrets.token_hex(8)}"
        self.inbox.mkdir(mode=0o755)
        self.outbox.mkdir(mode=0o700)
        # Readable whatever the umask: at the level `user` the child reads its requests as another user.
        os.chmod(self.inbox, 0o755)
        self.remaining = self.total_bytes = total_bytes

    def post(self, module: str, qualname: str, probe: str, params: dict[str, Any], inputs: Any) -> tuple[Path, Path]:
        token = secrets.token_hex(16)
        try:
            request_file = self.inbox / f"{token}.npz"
            call = {"module": module, "qualname": qualname, "probe": probe, "params": params}
            codec.dump_request(request_file, call, inputs)
            os.chmod(request_file, 0o644)
        except OSError as exc:
            raise SandboxError(f"cannot write a request for the child in {self.inbox}: {exc}") from exc
        return request_file, self.outbox / token

    def collect(self, reply_file: Path, duration: float, max_bytes: int) -> ChildResult:
        """What the child wrote into its reply file, read as data only; never raises."""
        limit = min(max_bytes, self.remaining)
        over: str | None = None  # why the returned value was not read
        try:
            try:
                raw_meta, data = untrusted.read_line_and_body(reply_file, META_BYTES, limit)
            except untrusted.BodyOverLimit as exc:
                raw_meta, data, over = exc.head, b"", f"the returned value takes {exc}"
            meta = _clean_meta(json.loads(raw_meta))
        except (OSError, ValueError, RecursionError):
            return ChildResult(
                "crashed",
                meta={"message": "left no readable reply (were its reply files replaced?)"},
                duration_s=duration,
            )
        status = meta.get("status", "crashed")
        if status != "ok":
            return ChildResult(status, meta=meta, duration_s=duration)
        try:
            if over is not None:
                raise codec.CodecError(over)
            if not data:
                raise codec.CodecError("the child's reply holds no returned value")
            outputs = codec.loads(data, limit, "the returned value")
        except codec.CodecError as exc:
            message = str(exc)
            if limit < max_bytes:
                message += (
                    f" (what your code returned across all cases adds up to more than the "
                    f"{self.total_bytes}-byte limit)"
                )
            return ChildResult("bad_return", meta={"message": message[:MAX_META_TEXT]}, duration_s=duration)
        self.remaining -= _nbytes(outputs) + len(data)
        return ChildResult("ok", outputs=outputs, meta=meta, duration_s=duration)


def _nbytes(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    return int(getattr(value, "nbytes", 0))


def _clean_meta(meta: Any) -> dict[str, Any]:
    """Only the fields the grader uses, each of its type and bounded; an unknown status is a crash."""
    if not isinstance(meta, dict):
        raise ValueError("meta is not an object")
    clean: dict[str, Any] = {}
    for key, kind in META_FIELDS.items():
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, kind):
            continue
        if isinstance(value, str):
            value = value[:MAX_META_TEXT]
        elif isinstance(value, list):
            value = [str(v)[:300] for v in value[:20] if isinstance(v, str)]
        elif isinstance(value, float) and not math.isfinite(value):
            continue
        clean[key] = value
    if clean.get("status") not in STATUSES:
        clean["status"] = "crashed"
        clean.setdefault("message", "the child wrote a reply the grader does not understand")
    return clean
