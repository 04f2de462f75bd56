"""Running a submission's code in a child process the grader can always stop.

One `ChildSession` is one child process serving many probe requests, so numpy is
imported once per submission rather than once per item. Every request has its
own wall-clock limit; on a timeout or a crash the whole process group is killed
and the next request starts a fresh child, so one hanging item never costs the
others their grade.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import codec
from grader.isolation import ProcessLimit, process_limit, wrap


@dataclass(frozen=True)
class Limits:
    """Resource limits for one child process."""

    memory_bytes: int = 2 * 1024**3
    cpu_seconds: int = 600
    file_bytes: int = 64 * 1024**2
    processes: int = 64
    result_bytes: int = 64 * 1024**2


# Python and numpy start in well under a second; a loaded batch machine may take much longer.
STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ChildResult:
    """What came back from one request: status, decoded outputs and the child's metadata."""

    status: str  # ok | exception | not_implemented | bad_return | timeout | crashed
    outputs: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0


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


class ChildSession:
    """A child process rooted at a scratch copy of one submission."""

    def __init__(self, root: Path, workdir: Path, limits: Limits = Limits(),
                 extra_env: dict[str, str] | None = None, hidden: tuple[Path, ...] = (),
                 readable: tuple[Path, ...] = ()) -> None:
        self.root = root
        self.workdir = workdir
        self.limits = limits
        self.extra_env = dict(extra_env or {})
        self.hidden = hidden
        self.readable = readable
        self.limit: ProcessLimit | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.control: int | None = None
        self.requests = 0
        (root / ".home" / "tmp").mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        """Start the child and wait until it is confined and ready; raises SandboxError."""
        log = self.workdir / "child.log"
        hidden = json.dumps([str(p) for p in self.hidden])
        limit = self.limit = process_limit(self.limits.processes)
        confinement = limit.confinement(self.limits)
        writable = [self.root, self.workdir] + ([Path(confinement.cgroup)] if confinement.cgroup else [])
        read_fd, write_fd = os.pipe()
        argv = wrap([sys.executable, "-I", "-m", "grader.child", str(self.root), str(write_fd), str(log), hidden,
                     confinement.encode()],
                    cwd=self.root, writable=writable, readable=list(self.readable), hidden=list(self.hidden))
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                cwd=self.root, env={**scrubbed_env(self.root / ".home"), **self.extra_env}, pass_fds=(write_fd,),
                start_new_session=True,
            )
        except OSError as exc:
            os.close(read_fd)
            limit.release()
            raise SandboxError(f"cannot start a child process ({argv[0]}): {exc}") from exc
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
            why = (lines[-1] if lines else "it exited before it was ready") if ready else \
                f"it was not ready within {STARTUP_TIMEOUT_S:g} s"
            raise SandboxError(f"the grader could not start a sandboxed child: {why}")
        assert self.proc.stderr is not None
        self.proc.stderr.close()

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

    def __enter__(self) -> "ChildSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, module: str, qualname: str, probe: str, params: dict[str, Any],
            inputs: Any, timeout_s: float) -> ChildResult:
        """Serve one request; never raises for anything the student's code does."""
        self.requests += 1
        request_dir = write_request(self.workdir / f"r{self.requests:04d}", module, qualname, probe, params, inputs)
        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None and self.control is not None
        started = time.perf_counter()
        try:
            self.proc.stdin.write(f"{request_dir}\n".encode())
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
        result = read_result(request_dir, duration, self.limits.result_bytes)
        if result.status == "crashed":
            self._kill()
        return result


def write_request(request_dir: Path, module: str, qualname: str, probe: str, params: dict[str, Any],
                  inputs: Any) -> Path:
    """A request folder: request.json and inputs.npz, never anything expected."""
    request_dir.mkdir()
    (request_dir / "request.json").write_text(json.dumps(
        {"module": module, "qualname": qualname, "probe": probe, "params": params}))
    codec.dump(inputs, request_dir / "inputs.npz")
    return request_dir


def read_result(request_dir: Path, duration: float, max_bytes: int) -> ChildResult:
    """What a child (or a kernel) wrote back into a request folder, read as data only."""
    try:
        meta = json.loads((request_dir / "meta.json").read_text())
        if not isinstance(meta, dict):
            raise ValueError("meta is not an object")
    except (OSError, ValueError):
        return ChildResult("crashed", meta={"message": "the child wrote no readable reply"}, duration_s=duration)
    status = str(meta.get("status", "crashed"))
    if status != "ok":
        return ChildResult(status, meta=meta, duration_s=duration)
    try:
        outputs = codec.load(request_dir / "result.npz", max_bytes=max_bytes)
    except (codec.CodecError, OSError) as exc:
        return ChildResult("bad_return", meta={"message": str(exc)}, duration_s=duration)
    return ChildResult("ok", outputs=outputs, meta=meta, duration_s=duration)
