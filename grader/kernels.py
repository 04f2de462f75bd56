"""Where notebook kernels come from: each sandboxed, started before it is needed, and used for one
submission only.

A kernel (Python, ipykernel, numpy and the grader's probes, inside the sandbox) takes about half a
second to boot. A submission's kernels are therefore forked by its kernel server (`Server`,
`grader.kernel_server`), which has imported all that once, in the sandbox each kernel would have had
(not at the level `user`, where each kernel's folder is handed to its user as it starts, nor in
containers). Within a submission, the next notebook's kernel starts while the current notebook runs
(`grader.notebooks`). Across a batch, a worker process keeps one more (`keep_warm`): the first kernel
of the next submission it grades, started while the current submission runs its last notebook, in
the folder that next submission will be graded in and under the same policy. It is still a fresh
kernel for one student: nothing of theirs has run in it, and their files are copied into its folder
before its first cell. A kept kernel that does not fit the submission that comes (another policy, a
submission graded without notebooks) is stopped unused, and that submission starts its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from grader import containers, isolation, users
from grader.confine import Confinement
from grader.isolation import ProcessCap, ProcessLimit, process_limit, wrap
from grader.sandbox import Exchange, Limits, SandboxError, refuse_when_stopping, scrubbed_env, take_over

KERNEL_NAME = "nn-grader-sandbox"
# A submission's grading folder holds its scratch copy and its notebooks' request exchange under
# these names, so that a kernel can be started in the next one before that submission arrives.
SCRATCH = "submission"
REQUESTS = "notebook-requests"
EXIT_WAIT_S = 5.0  # for a killed kernel to end, as jupyter_client waits
# jupyter_client puts the connection file's path in place of this word of a kernel spec's argv.
CONNECTION_FILE = "{connection_file}"
# "off": every kernel boots in full in a sandbox of its own, as before kernel servers (for comparing).
SERVER_ENV = "GRADER_KERNEL_SERVER"
# How long a kernel server may take to kill its kernels and end when told to; then it is killed.
STOP_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Shape:
    """What a submission's kernels are started with besides their folder: a kept kernel serves the
    next submission only if its shape is the same."""

    env: tuple[tuple[str, str], ...]  # beyond the scrubbed environment
    limits: Limits
    hidden: tuple[Path, ...]
    readable: tuple[Path, ...]
    container: containers.Container | None = None  # None: a process of this machine

    @classmethod
    def of(
        cls,
        extra_env: Mapping[str, str] | None,
        limits: Limits,
        hidden: tuple[Path, ...],
        readable: tuple[Path, ...],
        container: containers.Container | None = None,
    ) -> Shape:
        return cls(tuple(sorted((extra_env or {}).items())), limits, hidden, readable, container)


def _kernel_spec_dir(root: Path, argv: list[str]) -> Path:
    """A kernel spec that starts argv: ipykernel in isolated mode (-I: no user site, no PYTHON*
    variables), confined (`grader.kernel`), sandboxed, with no network: it talks to the grader over
    Unix sockets in the spec's folder."""
    (root / "kernels" / KERNEL_NAME / "kernel.json").write_text(
        json.dumps(
            {
                "argv": argv,
                "display_name": "nn-grader sandbox",
                "language": "python",
                # The kernel interrupts itself when asked over its control channel: a signal sent from
                # outside would have to cross bubblewrap's process and session boundaries.
                "interrupt_mode": "message",
            }
        )
    )
    return root / "kernels"


def _local_argv(
    root: Path,
    cwd: Path,
    writable: list[Path],
    hidden: tuple[Path, ...],
    readable: tuple[Path, ...],
    confinement: Confinement,
) -> list[str]:
    # ipykernel rewrites its connection file, which lives in root: root is writable too.
    if confinement.cgroup:
        writable = [*writable, Path(confinement.cgroup)]
    return wrap(
        [sys.executable, "-I", "-m", "grader.kernel", confinement.encode(), "-f", CONNECTION_FILE],
        cwd=cwd,
        writable=[*writable, root],
        readable=list(readable),
        hidden=list(hidden),
        network=False,
        as_pid_1=True,
    )


class Server:
    """One submission's kernel server (`grader.kernel_server`): a sandboxed process that has imported
    what every kernel imports and forks each of the submission's kernels, in the sandbox, under the
    limits, and in the folders each would have had on its own. Its processes are capped together (a
    pids cgroup, where the host has one), and each kernel it forks has a cap of its own inside, which
    kills everything that kernel started once it is stopped."""

    def __init__(
        self,
        cwd: Path,
        env: dict[str, str],
        writable: list[Path],
        hidden: tuple[Path, ...],
        readable: tuple[Path, ...],
        limits: Limits,
    ) -> None:
        refuse_when_stopping()
        self.processes = limits.processes
        self.kernel_caps: list[ProcessCap] = []  # each kernel releases its own; a kernel never stopped, here
        self.folder = tempfile.TemporaryDirectory(prefix="grade-kernels-")
        root = Path(self.folder.name)
        # The listening socket's file stays outside the sandbox: the server holds the socket itself, and
        # no code in there can reach it to ask for kernels, or put a listener of its own in its place.
        self.control = tempfile.TemporaryDirectory(prefix="grade-kernel-server-")
        self.socket = Path(self.control.name) / "server.sock"
        # The server and the two kernels a submission has at once (the one running, the next booting).
        self.limit = process_limit(3 * limits.processes)
        group = self.limit.cap.path if self.limit.cap is not None else None
        self.own = ProcessCap(limits.processes, parent=group) if group is not None else None
        confinement = self.limit.confinement(limits, None, hidden, [*writable, *readable, root])
        if self.own is not None and self.own.path is not None:
            confinement = replace(confinement, cgroup=str(self.own.path))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.socket))
            listener.listen(16)
            argv = wrap(
                [sys.executable, "-I", "-m", "grader.kernel_server", confinement.encode(), str(listener.fileno())],
                cwd=cwd,
                writable=[*writable, root, *([group] if group is not None else [])],
                readable=list(readable),
                hidden=list(hidden),
                network=False,
            )
            self.process = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(listener.fileno(),),
                start_new_session=True,
            )
        except OSError as exc:
            self._free()
            raise SandboxError(f"cannot start a kernel server in {cwd}: {exc}") from exc
        finally:
            listener.close()  # the server holds it now; once it ends, a launcher's connection is refused

    def kernel_limit(self) -> ProcessLimit:
        """The cap of one kernel forked by this server: its own pids cgroup inside the server's."""
        group = self.limit.cap.path if self.limit.cap is not None else None
        if group is None:
            return ProcessLimit("none", None, None)  # the server's RLIMIT_NPROC, inherited, still holds
        cap = ProcessCap(self.processes, parent=group)
        self.kernel_caps.append(cap)
        return ProcessLimit("pids cgroup", cap, None)

    def stop(self) -> None:
        """End the server, which kills the kernels it still runs first; then whatever is left."""
        if hasattr(self, "process") and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)  # while its group is still its own
                self.process.wait()
        self._free()

    def _free(self) -> None:
        # Inside out: a pids cgroup can only be removed once the ones inside it are.
        for cap in [*self.kernel_caps, *([self.own] if self.own is not None else [])]:
            cap.kill_all()
        self.limit.release()
        self.folder.cleanup()
        self.control.cleanup()


def serving(shape: Shape) -> bool:
    """Whether a submission's kernels with this shape are forked by a kernel server: on this
    machine's processes, and not at the level `user`, where each kernel's folder is handed to its
    user when it starts."""
    return (
        shape.container is None
        and isolation.level() != "user"
        and os.environ.get(SERVER_ENV, "").lower() not in ("off", "0", "no")
    )


def start_server(cwd: Path, exchange: Exchange | None, shape: Shape, notebooks: int) -> Server | None:
    """The kernel server for a submission's `notebooks` in cwd, where kernels are served (`serving`)
    and there are at least two: the server itself boots as a kernel does (and imports matplotlib,
    which a notebook may not), so that one notebook is no faster forked, and slower."""
    if notebooks < 2 or not serving(shape):
        return None
    env, writable, readable = _kernel_view(cwd, exchange, shape)
    return Server(cwd, env, writable, shape.hidden, readable, shape.limits)


class Kernel:
    """One sandboxed kernel: its spec folder, manager and process cap. Started ahead of use, so
    that the next notebook's kernel boots while the current notebook runs."""

    def __init__(
        self,
        cwd: Path,
        env: dict[str, str],
        writable: list[Path],
        hidden: tuple[Path, ...],
        readable: tuple[Path, ...],
        limits: Limits,
        container: containers.Container | None = None,
        server: Server | None = None,
    ) -> None:
        refuse_when_stopping()
        # A served kernel's folder is in its server's, which its sandbox can write.
        self.spec_root = tempfile.TemporaryDirectory(
            prefix="grade-kernel-", dir=server.folder.name if server is not None else None
        )
        root = Path(self.spec_root.name)
        (root / "kernels" / KERNEL_NAME).mkdir(parents=True)
        self.container = container
        self.name: str | None = None
        client_env = env
        if server is not None:
            self.lease, self.limit = None, server.kernel_limit()
            cap = self.limit.cap.path if self.limit.cap is not None else None
            launch = [sys.executable, "-I", "-m", "grader.kernel_launch", str(server.socket), str(cap or "-")]
            argv = [*launch, "-f", CONNECTION_FILE]
        elif container is None:
            # Where each submission runs as a user of its own, the kernel shares its module children's.
            self.lease = take_over(cwd, folders=tuple(f for f in writable if f != cwd), trees=(root,), who="kernel")
            self.limit = process_limit(limits.processes, dedicated=self.lease is not None)
            confinement = self.limit.confinement(limits, self.lease, hidden, [*writable, *readable, root])
            argv = _local_argv(root, cwd, writable, hidden, readable, confinement)
        else:
            self.lease, self.limit = None, containers.PROCESS_LIMIT
            self.name = containers.new_name()
            confinement = containers.confinement(limits, hidden, [*writable, *readable, root])
            argv = container.run_argv(
                [containers.PYTHON, "-I", "-m", "grader.kernel", confinement.encode(), "-f", CONNECTION_FILE],
                name=self.name,
                cwd=cwd,
                writable=[*writable, root],
                readable=readable,
                env=env,
                limits=limits,
                hidden=hidden,
            )
            client_env = containers.client_env()  # the kernel's own is on the run line
        kernels = _kernel_spec_dir(root, argv)
        # The kernel and the grader talk over Unix sockets in this private folder (the Jupyter
        # protocol's "ipc" transport), so the kernel runs with no network at all, loopback included:
        # it cannot reach other kernels' ports, and no other process can reach its own.
        self.km = _KernelManager(
            owner=self.lease.uid if self.lease is not None else None,
            kernel_name=KERNEL_NAME,
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
            connection_file=str(root / "kernel-connection.json"),
            transport="ipc",
            ip=str(root / "kernel"),
        )
        self.started: asyncio.Future[Any] = asyncio.ensure_future(
            self.km.start_kernel(
                env=client_env,
                cwd=str(cwd),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                extra_arguments=["--HistoryManager.hist_file=:memory:"],
            )
        )

    async def stop(self) -> None:
        try:
            await self.started
        except Exception:  # noqa: BLE001 - it never started; there is nothing to stop but the cap
            pass
        pgid = getattr(self.km.provisioner, "pgid", None)
        process = getattr(self.km.provisioner, "process", None)
        # Killed first and its end awaited here: jupyter_client then finds it gone, where its own wait
        # after a kill polls every 0.1 s, which half of all notebooks paid in full.
        if pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        if process is not None and process.returncode is None:  # not reaped: its pid is still its own
            await _ended(process.pid, EXIT_WAIT_S)
        try:
            if self.km.has_kernel:
                await self.km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - it may be dead already
            pass
        if pgid:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._free()

    def kill(self) -> None:
        """What stop() does, where no event loop can run it: the kernel's processes killed at once."""
        pgid = getattr(self.km.provisioner, "pgid", None)
        if pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        self._free()

    def _free(self) -> None:
        if self.container is not None and self.name is not None:
            self.container.remove(self.name)  # killing its client leaves the container running
        self.limit.release()
        if self.lease is not None:
            users.release(self.lease)
            self.lease = None
        self.spec_root.cleanup()


async def _ended(pid: int, timeout_s: float) -> None:
    """Return once process pid has ended (not reaped: its Popen still reaps it), or after timeout_s."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return  # already reaped, or no pidfd here: jupyter_client's own wait still follows
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(fd, readable)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended, timeout_s)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


class _KernelManager(AsyncKernelManager):
    """A kernel manager that gives the connection file (which it writes 0600) to the kernel's user."""

    def __init__(self, owner: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owner = owner

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        if self._owner is not None:
            os.chown(self.connection_file, self._owner, self._owner)


def _kernel_view(
    cwd: Path, exchange: Exchange | None, shape: Shape
) -> tuple[dict[str, str], list[Path], tuple[Path, ...]]:
    """A kernel's environment, and the folders it may write and read besides the host's runtime."""
    env = scrubbed_env(cwd / ".home", matplotlib_inline=True)
    env.update(dict(shape.env))
    (cwd / ".home" / "tmp").mkdir(parents=True, exist_ok=True)
    writable = [cwd] + ([exchange.outbox] if exchange is not None else [])
    readable = shape.readable + ((exchange.inbox,) if exchange is not None else ())
    return env, writable, readable


def start(cwd: Path, exchange: Exchange | None, shape: Shape, server: Server | None = None) -> Kernel:
    """A kernel working in cwd, answering probes through exchange; booting once this returns. With a
    server (started for the same cwd, exchange and shape), forked by it."""
    env, writable, readable = _kernel_view(cwd, exchange, shape)
    return Kernel(cwd, env, writable, shape.hidden, readable, shape.limits, shape.container, server)


@dataclass(frozen=True)
class _Kept:
    folder: tempfile.TemporaryDirectory[str]  # the grading folder of the next submission
    shape: Shape
    kernel: Kernel
    exchange: Exchange
    loop: asyncio.AbstractEventLoop
    server: Server | None

    @property
    def path(self) -> Path:
        return Path(self.folder.name)


_warm = False
_kept: _Kept | None = None
_current: Path | None = None  # the grading folder of the submission being graded in this process


def keep_warm() -> None:
    """Keep the next submission's first kernel warm in this process (a batch's worker, which grades
    one submission after another from one thread); stopped when the process exits."""
    global _warm  # noqa: PLW0603 - one setting per worker process
    if not _warm:
        _warm = True
        # A pool's worker leaves through os._exit, after multiprocessing's finalizers: not atexit's.
        multiprocessing.util.Finalize(None, _discard, exitpriority=10)


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    """The folder one submission is graded in: the one a kept kernel waits in, if any; removed after."""
    global _current  # noqa: PLW0603 - the submission this process grades now
    folder = _kept.folder if _kept is not None else tempfile.TemporaryDirectory(prefix="grade-")
    _current = Path(folder.name)
    try:
        yield _current
    finally:
        _current = None
        if _kept is not None and _kept.folder is folder:
            _discard()  # its kernel was not used (no notebook ran), and its folder goes now
        folder.cleanup()


def _fits(kept: _Kept, cwd: Path, workdir: Path | None) -> bool:
    return cwd == kept.path / SCRATCH and workdir == kept.path / REQUESTS


async def take(cwd: Path, workdir: Path | None, shape: Shape) -> tuple[Kernel, Exchange, Server | None] | None:
    """The kept kernel, its exchange and its server, when they were started for the submission graded
    in cwd, as it is graded; None otherwise (a kept kernel for cwd that does not fit is stopped)."""
    global _kept  # noqa: PLW0603
    kept = _kept
    if kept is None or not _fits(kept, cwd, workdir):
        return None
    _kept = None
    if kept.loop is not asyncio.get_running_loop():
        kept.kernel.kill()  # its sockets belong to another thread's event loop
        _stop_server(kept.server)
        return None
    if kept.shape == shape and await _alive(kept.kernel):
        return kept.kernel, kept.exchange, kept.server
    await kept.kernel.stop()
    _stop_server(kept.server)
    return None


def _stop_server(server: Server | None) -> None:
    if server is not None:
        server.stop()


async def _alive(kernel: Kernel) -> bool:
    """Whether a kept kernel started and still runs: one that failed or died while it waited is
    replaced by a fresh one, which reports its own failure."""
    started = kernel.started
    if not started.done():
        return True  # still starting: the notebook's run waits for it, as for any kernel
    if started.cancelled() or started.exception() is not None:
        return False
    return bool(await kernel.km.is_alive())


def start_next(cwd: Path, workdir: Path | None, shape: Shape, notebooks: int = 1) -> None:
    """When the submission graded in this process's workspace runs its last notebook (in cwd, with
    workdir), start the next submission's first kernel in a workspace of its own, with a kernel server
    when this one's `notebooks` call for one (`start_server`): the class's submissions are alike."""
    global _kept  # noqa: PLW0603
    current = _current
    if not _warm or _kept is not None or current is None or workdir is None:
        return
    if cwd != current / SCRATCH or workdir != current / REQUESTS:
        return  # a reference's run or a replay: not a submission's own notebooks
    if isolation.level() == "user":
        # There the folder is handed to the kernel's user when it starts: the submission's files,
        # copied in later, would not be. Each kernel starts with its submission.
        return
    folder = tempfile.TemporaryDirectory(prefix="grade-")
    server = None
    try:
        (Path(folder.name) / REQUESTS).mkdir()
        exchange = Exchange(Path(folder.name) / REQUESTS)
        server = start_server(Path(folder.name) / SCRATCH, exchange, shape, notebooks)
        kernel = start(Path(folder.name) / SCRATCH, exchange, shape, server)
    except Exception:  # noqa: BLE001 - the next submission starts its own, and reports what fails then
        _stop_server(server)
        folder.cleanup()
        return
    _kept = _Kept(folder, shape, kernel, exchange, asyncio.get_running_loop(), server)


def _discard() -> None:
    """Stop the kept kernel, if any, and remove its folder."""
    global _kept
    kept, _kept = _kept, None
    if kept is None:
        return
    try:
        if not kept.loop.is_closed() and not kept.loop.is_running():
            kept.loop.run_until_complete(kept.kernel.stop())
        else:
            kept.kernel.kill()
    finally:
        _stop_server(kept.server)
        kept.folder.cleanup()
