"""Running a submission's notebooks headlessly in a sandboxed kernel (nbclient).

Each notebook gets a fresh kernel whose working directory is the scratch copy,
with the same scrubbed environment and resource limits as the module children,
a per-cell and a whole-notebook time limit, and its whole process group killed at
the end. Printed output is never evidence: what comes back is which cell failed,
the figures drawn, and the files the notebook saved for grading.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import math
import threading
import time
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any, TypeVar

import nbformat
import zmq
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_hook

from grader import backends, kernels, kinds, untrusted
from grader.backends import Backend, Policy
from grader.cases import request_params
from grader.containers import Container
from grader.kernel import MAX_FIGURE_BYTES, MAX_STREAM_BYTES
from grader.results import ChildResult
from grader.rubric import Item, Rubric
from grader.sandbox import STARTUP_TIMEOUT_S, Exchange, Limits

GRADER_FAULT = "grader_fault"
T = TypeVar("T")
MAX_NOTEBOOK_BYTES = 20 * 1024**2
MAX_FIGURES = 50
MAX_FIGURES_BYTES = 20 * 1024**2
# What the grader keeps of one notebook's outputs (printed text, figures, tracebacks): the rest is
# dropped as it arrives, so a cell that prints gigabytes cannot fill the grader's memory or reports.
MAX_OUTPUT_BYTES = 32 * 1024**2
MAX_MESSAGE_BYTES = 8 * 1024**2
MAX_QUEUED_MESSAGES = 4
# How long a kernel has to stop a cell once interrupted before it is killed (and the rest of its
# notebook is lost).
INTERRUPT_GRACE_S = 5.0
# How long reading a value the notebook computed may take (a number's conversion, nothing more).
READ_TIMEOUT_S = 10.0
# Runs before the student's first cell: numpy and the grader's modules are imported
# from site-packages, and only then is the submission folder put on the path, last,
# so that a student file named numpy.py cannot stand in for numpy.
SETUP_CODE = "import os as _os, sys as _sys, numpy as _np\n_sys.path.append(_os.getcwd())\ndel _os, _sys, _np"


@dataclass(frozen=True)
class CellError:
    index: int  # in the student's notebook, from 0
    name: str
    value: str
    first_line: str


@dataclass(frozen=True)
class NotebookRun:
    """What executing one notebook produced. `status`: ok, error, timeout, dead, missing, invalid, or
    GRADER_FAULT (the kernel could not start or be set up before any student cell ran)."""

    notebook: str
    status: str
    message: str
    duration_s: float
    errors: tuple[CellError, ...] = ()
    figures: tuple[tuple[str, bytes], ...] = field(default_factory=tuple)
    # For rubric items about objects the notebook defines: item id -> one result per case.
    probes: dict[str, list[ChildResult]] = field(default_factory=dict)
    # Variables read in the kernel right after the locked cell that computes them: name -> the read,
    # and name -> that cell's index (from 0, as CellError's) and first line.
    values: dict[str, ChildResult] = field(default_factory=dict)
    value_cells: dict[str, tuple[int, str]] = field(default_factory=dict)
    interrupted: tuple[int, ...] = ()  # the cells interrupted at their limit, from 0


@dataclass(frozen=True)
class ValueRead:
    """A variable to read in the kernel right after a locked cell (found by its id and the course's
    source, which the grader put back before the run) has run."""

    variable: str
    cell_id: str
    source: str
    probe: str  # the kind's probe that reads it, as 'kind:probe'


@dataclass(frozen=True)
class ProbeWork:
    """Cases to run, after the notebook, on an object the notebook defines."""

    item: Item
    cases: list[dict[str, Any]]
    case_params: list[dict[str, Any]]


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


class BoundedClient(NotebookClient):
    """An nbclient client that keeps at most MAX_OUTPUT_BYTES of a notebook's outputs, and interrupts
    a cell past its limit instead of giving up on the whole notebook."""

    kept_bytes = 0
    dropped = 0
    # When the whole notebook's time is up (monotonic); a cell running past it is not interrupted.
    deadline = math.inf
    interrupted: tuple[int, ...] = ()  # indices of the cells interrupted at their limit

    async def _async_handle_timeout(self, timeout: int, cell: Any = None) -> dict[str, Any] | None:
        """nbgrader's policy: a cell past its limit is interrupted and the notebook goes on, so that
        what later cells define is still graded. nbclient's own interrupt waits a full cell limit
        again and again for a kernel that ignores it; here a kernel that has not answered within
        INTERRUPT_GRACE_S (a student's `except:` around the loop, or a call that cannot be
        interrupted), or a notebook out of time, is given up on: CellTimeoutError, and the caller
        kills the kernel."""
        assert self.km is not None and self.kc is not None and cell is not None
        index = next((i for i, c in enumerate(self.nb.cells) if c is cell), -1)
        if index <= 0 or time.monotonic() >= self.deadline - 0.2:
            raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", timeout, cell)
        await ensure_async(self.km.interrupt_kernel())
        try:
            # The only request on the shell channel is this cell's: its reply is the next message.
            reply: dict[str, Any] = await ensure_async(self.kc.shell_channel.get_msg(timeout=INTERRUPT_GRACE_S))
        except Empty:
            raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", timeout, cell) from None
        self.interrupted = (*self.interrupted, index)
        return reply

    async def async_start_new_kernel_client(self) -> Any:
        """nbclient's own, with the client's sockets limited before they connect (the options apply
        to later connections only): a message larger than MAX_MESSAGE_BYTES (one print of hundreds
        of MB) drops the connection instead of being received whole, and at most MAX_QUEUED_MESSAGES
        wait unread, so a kernel that prints faster than the grader reads loses output instead of
        filling the grader's memory."""
        assert self.km is not None
        try:
            self.kc = self.km.client()
            self.kc.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            self.kc.context.setsockopt(zmq.RCVHWM, MAX_QUEUED_MESSAGES)
            self.kc.start_channels()
            await _ready(self.kc, self.startup_timeout)
        except Exception:
            await self._async_cleanup_kernel()
            raise
        self.kc.allow_stdin = False
        await run_hook(self.on_notebook_start, notebook=self.nb)
        return self.kc

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        size = _output_size(msg.get("content", {}))
        msg_type = msg.get("msg_type")
        if msg_type == "stream" and size > MAX_STREAM_BYTES:
            content = msg["content"]
            msg = {**msg, "content": {**content, "text": str(content.get("text", ""))[:MAX_STREAM_BYTES]}}
            size = MAX_STREAM_BYTES
        if msg_type != "error" and self.kept_bytes + size > MAX_OUTPUT_BYTES:
            self.dropped += 1
            return None
        self.kept_bytes += size
        return super().output(outs, msg, display_id, cell_index)


async def _ready(kc: Any, timeout: float) -> None:
    """jupyter_client's wait_for_ready, without the 0.2 s of silence on IOPub it waits for at the end
    (a fifth of a second of every notebook). The kernel is ready once it has answered kernel_info on
    the shell channel and IOPub has carried that request's idle status, so IOPub is connected too.
    What IOPub carried before is not flushed: nbclient reads only the messages of its own requests.

    Any of the requests asked counts: a kernel slower to answer than the one second waited (a loaded
    machine) answers the earlier requests after the later ones are sent, and waiting for the reply to
    the last one only would go on asking, one reply behind, until the deadline."""
    deadline = time.monotonic() + timeout
    asked: set[str] = set()
    while True:
        asked.add(kc.kernel_info())
        with contextlib.suppress(Empty):
            reply = await ensure_async(kc.shell_channel.get_msg(timeout=1))
            if reply["msg_type"] == "kernel_info_reply" and reply["parent_header"].get("msg_id") in asked:
                kc._handle_kernel_info_reply(reply)  # the protocol version, as wait_for_ready sets it
                # A subscriber joins late (ZeroMQ's slow joiner): if this request's messages were
                # published before it joined, ask again, as wait_for_ready does.
                while True:
                    message = await ensure_async(kc.iopub_channel.get_msg(timeout=0.2))
                    idle = message["msg_type"] == "status" and message["content"].get("execution_state") == "idle"
                    if idle and message["parent_header"].get("msg_id") in asked:
                        return
        if not await ensure_async(kc.is_alive()):
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")


def _output_size(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, dict):
        return sum(_output_size(v) for v in content.values())
    if isinstance(content, list):
        return sum(_output_size(v) for v in content)
    return 8


def _figures(nb: Any, stem: str) -> tuple[tuple[str, bytes], ...]:
    """The PNGs the notebook drew, named by cell and by their order among that cell's images. Not by
    their place among all its outputs: printed text arrives when the kernel flushes it, before or
    after a figure, so that place changes from one run to the next."""
    out: list[tuple[str, bytes]] = []
    total = 0
    for index, cell in enumerate(nb.cells):
        images = 0
        for output in cell.get("outputs", []):
            data = output.get("data", {}) if isinstance(output, dict) else {}
            png = data.get("image/png")
            if not isinstance(png, str):
                continue
            images += 1
            if len(out) < MAX_FIGURES and len(png) <= MAX_FIGURE_BYTES and total + len(png) <= MAX_FIGURES_BYTES:
                total += len(png)
                try:
                    out.append((f"{stem}-cell{index}-{images}.png", base64.b64decode(png)))
                except ValueError:
                    continue
    return tuple(out)


def _errors(nb: Any) -> tuple[CellError, ...]:
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(
                    CellError(
                        index,
                        str(output.get("ename", "Error")),
                        str(output.get("evalue", ""))[:500],
                        _first_line(cell.source),
                    )
                )
                break
    return tuple(found)


def _serving_cell(request_file: Path, reply_file: Path) -> Any:
    """A hidden cell that answers one request in the notebook's own namespace, through the exchange."""
    return nbformat.v4.new_code_cell(
        f"__import__('grader.child', fromlist=['_']).serve_in_namespace({str(request_file)!r}, "
        f"{str(reply_file)!r}, globals())"
    )


def _unrun(work: list[ProbeWork], status: str, message: str) -> dict[str, list[ChildResult]]:
    return {w.item.id: [ChildResult(status, meta={"message": message}) for _ in w.cases] for w in work}


async def _serve_probes(
    client: BoundedClient,
    work: list[ProbeWork],
    exchange: Exchange,
    deadline: float,
    cell_timeout_s: float,
    limits: Limits,
) -> dict[str, list[ChildResult]]:
    """Each case as one hidden cell in the notebook's own kernel; only data files come back."""
    results: dict[str, list[ChildResult]] = {}
    stuck: ChildResult | None = None  # a probe the kernel would not stop: nothing else can run in it
    for w in work:
        out: list[ChildResult] = []
        for inputs, extra in zip(w.cases, w.case_params):
            if stuck is None and time.monotonic() >= deadline - 0.2:
                stuck = ChildResult("timeout", meta={"message": "the notebook's time limit was spent"})
            if stuck is not None:
                out.append(stuck)
                continue
            if out and out[-1].status in ("timeout", "crashed"):
                out.append(ChildResult(out[-1].status, meta=out[-1].meta))
                continue
            params = {**request_params(w.item), **extra}
            request_file, reply_file = exchange.post("", w.item.qualname, w.item.probe(), params, inputs)
            timeout = min(w.item.timeout_s, cell_timeout_s, deadline - time.monotonic())
            client.timeout = max(1, math.ceil(timeout))
            cell = _serving_cell(request_file, reply_file)
            started = time.perf_counter()
            client.nb.cells.append(cell)  # executed at its own index, then removed: the notebook is unchanged
            interrupted = len(client.interrupted)
            try:
                await client.async_execute_cell(cell, len(client.nb.cells) - 1)
            except CellTimeoutError:
                spent = time.monotonic() >= deadline - 0.2
                why = "the notebook's time limit was spent" if spent else "the kernel did not stop when interrupted"
                stuck = ChildResult("timeout", meta={"message": why})
                out.append(stuck)
                continue
            except DeadKernelError:
                out.append(ChildResult("crashed", meta={"message": "the notebook's kernel died"}))
                continue
            finally:
                client.nb.cells.pop()
            if len(client.interrupted) > interrupted:
                client.interrupted = client.interrupted[:interrupted]  # a probe's, not a notebook cell's
                # The limit was the item's, unless the notebook's cell limit or remaining time is shorter.
                shorter = client.timeout < w.item.timeout_s
                limit = {"message": f"no answer within {client.timeout} s, the notebook's limit"} if shorter else {}
                out.append(ChildResult("timeout", meta=limit))
                continue
            out.append(exchange.collect(reply_file, time.perf_counter() - started, limits.result_bytes))
        results[w.item.id] = out
    return results


async def _read_value(client: BoundedClient, read: ValueRead, exchange: Exchange, limits: Limits) -> ChildResult:
    """The variable's value, read in the kernel as a hidden cell (at the notebook's end, then removed)
    that answers through the exchange as a probe does: only data comes back."""
    variable = read.variable
    request_file, reply_file = exchange.post("", variable, read.probe, {"target": variable}, {})
    client.timeout = max(1, math.ceil(min(READ_TIMEOUT_S, client.deadline - time.monotonic())))
    cell = _serving_cell(request_file, reply_file)
    started = time.perf_counter()
    client.nb.cells.append(cell)
    interrupted = len(client.interrupted)
    try:
        await client.async_execute_cell(cell, len(client.nb.cells) - 1)
    finally:
        client.nb.cells.pop()
    if len(client.interrupted) > interrupted:
        client.interrupted = client.interrupted[:interrupted]  # the read's, not a notebook cell's
        return ChildResult("timeout", meta={"message": f"reading {variable} did not finish within the cell limit"})
    return exchange.collect(reply_file, time.perf_counter() - started, limits.result_bytes)


def _read(path: Path, work: list[ProbeWork]) -> Any:
    """The notebook, or a NotebookRun saying why it cannot be run."""
    name = path.name
    if not untrusted.is_regular_file(path):  # an earlier notebook's kernel could have put anything here
        return NotebookRun(
            name,
            "missing",
            f"{name} is not in the submission",
            0.0,
            probes=_unrun(work, "crashed", f"{name} is not in the submission"),
        )
    try:
        text = untrusted.read_file(path, MAX_NOTEBOOK_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        message = f"{name} cannot be read (larger than {MAX_NOTEBOOK_BYTES // 2**20} MB, or not UTF-8): {exc}"
        return NotebookRun(name, "invalid", message[:400], 0.0, probes=_unrun(work, "crashed", message[:400]))
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for a corrupt file
        message = f"{name} is not a readable notebook: {str(exc)[:300]}"
        return NotebookRun(name, "invalid", message, 0.0, probes=_unrun(work, "crashed", message))


async def _execute(
    path: Path,
    cwd: Path,
    cell_timeout_s: float,
    timeout_s: float,
    kernel: kernels.Kernel,
    limits: Limits,
    work: list[ProbeWork],
    exchange: Exchange | None,
    reads: tuple[ValueRead, ...] = (),
    later: asyncio.Future[list[ProbeWork]] | None = None,
) -> NotebookRun:
    """One notebook run to its end, then its probes: `work`, or with `later`, those it gives once the
    cells have run (another run's outcome decides them)."""
    name = path.name
    started = time.monotonic()
    nb = _read(path, work)
    if isinstance(nb, NotebookRun):
        return nb
    nb.cells.insert(0, nbformat.v4.new_code_cell(SETUP_CODE))
    deadline = started + timeout_s
    client = BoundedClient(
        nb,
        km=kernel.km,
        timeout=max(1, math.ceil(cell_timeout_s)),
        allow_errors=True,
        interrupt_on_timeout=False,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )

    reached = [-1]  # the index of the cell started last; 0 is the grader's set-up cell
    notebook_cells = len(nb.cells)

    def on_cell_start(cell_index: int, **_: Any) -> None:
        if cell_index >= notebook_cells:
            return  # a probe's or a read's hidden cell: its caller has set its limit
        reached[0] = cell_index
        # nbclient takes whole seconds; rounding up keeps within a second of the limit. The set-up
        # cell only imports numpy, but on a loaded machine that can take longer than a student cell may.
        limit = STARTUP_TIMEOUT_S if cell_index == 0 else min(cell_timeout_s, deadline - time.monotonic())
        client.timeout = max(1, math.ceil(limit))

    client.on_cell_start = on_cell_start
    client.deadline = deadline
    values: dict[str, ChildResult] = {}
    value_cells: dict[str, tuple[int, str]] = {}
    if reads and exchange is not None:
        reading = [False]

        async def on_cell_executed(cell: Any, cell_index: int, **_: Any) -> None:
            if reading[0] or cell_index == 0:
                return
            due = [r for r in reads if r.cell_id == cell.get("id") and r.source == cell.get("source")]
            reading[0] = True
            try:
                for r in due:
                    value_cells[r.variable] = (cell_index - 1, _first_line(r.source))  # the set-up cell is 0
                    values[r.variable] = await _read_value(client, r, exchange, limits)
            finally:
                reading[0] = False

        client.on_cell_executed = on_cell_executed
    status, message = "ok", ""
    probe_results: dict[str, list[ChildResult]] = {}
    try:
        await kernel.started
        await client.async_execute()
        if later is not None:
            waited = time.monotonic()
            work = await later
            # The wait is the other run's time: this notebook's limit counts only its own.
            deadline += time.monotonic() - waited
            client.deadline = deadline
        if work:
            assert exchange is not None
            probe_results = await _serve_probes(client, work, exchange, deadline, cell_timeout_s, limits)
    except CellTimeoutError:
        whole = time.monotonic() >= deadline - 0.2
        status = "timeout"
        message = (
            f"{name} did not finish within its {timeout_s:g} s limit"
            if whole
            else f"a cell of {name} ran longer than {cell_timeout_s:g} s and did not stop when interrupted"
        )
    except DeadKernelError:
        status, message = "dead", f"the kernel running {name} died (os._exit, a crash, or a memory limit)"
    except Exception as exc:  # noqa: BLE001 - a kernel that cannot start or answer
        status, message = "error", f"{name} could not be run: {type(exc).__name__}: {str(exc)[:300]}"
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
        await kernel.stop()
        # nbclient registers this at start and forgets it when the kernel fails to start; at exit it
        # would then try to clean up a kernel that is long gone.
        atexit.unregister(client._cleanup_kernel)
    if status != "ok" and reached[0] <= 0:
        # Nothing of the student's had run yet (the kernel runs in isolated mode with a fresh home):
        # a kernel that could not start or set up is the grader's fault.
        status, message = GRADER_FAULT, f"the kernel for {name} could not start: {message}"

    setup_cell = nb.cells.pop(0)
    if status == "ok" and any(o.get("output_type") == "error" for o in setup_cell.get("outputs", [])):
        status, message = GRADER_FAULT, f"the kernel for {name} could not be set up"
    interrupted = [i - 1 for i in client.interrupted if i - 1 < len(nb.cells)]  # the set-up cell is gone
    errors = tuple(e for e in _errors(nb) if e.index not in interrupted)
    if status == "ok" and interrupted:
        status, message = "timeout", _interrupted_message(nb, name, interrupted, cell_timeout_s)
    elif status == "ok" and errors:
        status = "error"
    running = reached[0] - 1  # the set-up cell is gone
    if status == "timeout" and not interrupted and 0 <= running < len(nb.cells):
        message += f" (cell {running + 1}: {_first_line(nb.cells[running].source)!r})"
    if work and not probe_results:
        probe_results = _unrun(work, "crashed", f"{name} did not run to its end: {message}")
    return NotebookRun(
        name,
        status,
        message,
        round(time.monotonic() - started, 3),
        errors,
        _figures(nb, path.stem),
        probe_results,
        values,
        value_cells,
        tuple(interrupted),
    )


def _interrupted_message(nb: Any, name: str, interrupted: list[int], cell_timeout_s: float) -> str:
    first = interrupted[0]
    more = f" ({len(interrupted) - 1} more cell(s) were interrupted too)" if len(interrupted) > 1 else ""
    return (
        f"cell {first + 1} of {name} ({_first_line(nb.cells[first].source)!r}) ran longer than "
        f"{cell_timeout_s:g} s and was interrupted{more}; the cells after it ran, and what they define is graded"
    )


@dataclass(frozen=True)
class NotebookJob:
    path: Path
    cell_timeout_s: float
    timeout_s: float
    probes: list[ProbeWork] = field(default_factory=list)
    reads: tuple[ValueRead, ...] = ()


@dataclass(frozen=True)
class NotebookBatch:
    """Notebook jobs run in order in one folder (`cwd`), exchanging requests in `workdir`, under a policy."""

    jobs: list[NotebookJob]
    cwd: Path
    workdir: Path
    policy: Policy


# What a run beside another is to probe, by notebook, once the other's runs are known.
LaterProbes = Callable[[list["NotebookRun"]], Mapping[str, list[ProbeWork]]]


async def _run_in_order(
    jobs: list[NotebookJob],
    cwd: Path,
    extra_env: dict[str, str] | None,
    limits: Limits,
    workdir: Path | None,
    hidden: tuple[Path, ...],
    readable: tuple[Path, ...],
    container: Container | None = None,
    later: Mapping[str, asyncio.Future[list[ProbeWork]]] | None = None,
) -> list[NotebookRun]:
    shape = kernels.Shape.of(extra_env, limits, hidden, readable, container)
    if not jobs:
        return []
    taken = await kernels.take(cwd, workdir, shape)
    current: kernels.Kernel | None
    exchange: Exchange | None
    server: kernels.Server | None = None
    following: kernels.Kernel | None = None
    try:
        if taken is not None:
            current, exchange, server = taken
        else:
            exchange = Exchange(workdir) if workdir is not None else None
            server = kernels.start_server(cwd, exchange, shape, len(jobs))
            current = kernels.start(cwd, exchange, shape, server)
        runs = []
        for index, job in enumerate(jobs):
            assert current is not None
            following = None
            if index + 1 < len(jobs):
                following = kernels.start(cwd, exchange, shape, server)  # boots while this notebook runs
            else:
                kernels.start_next(cwd, workdir, shape, len(jobs))  # in a batch, the next submission's first
            try:
                run = await _execute(
                    job.path,
                    cwd,
                    job.cell_timeout_s,
                    job.timeout_s,
                    current,
                    limits,
                    job.probes,
                    exchange,
                    job.reads,
                    (later or {}).get(job.path.name),
                )
                runs.append(run)
            finally:
                await current.stop()  # a no-op when _execute stopped it; needed when it returned early
            current = following
        return runs
    finally:
        if following is not None and following is not current:
            await following.stop()  # started ahead for a notebook that will not run (interrupted)
        if server is not None:
            server.stop()


class _Loop(asyncio.SelectorEventLoop):
    """The event loop notebooks run on. For the length of a notebook nbclient puts its own SIGINT and
    SIGTERM handlers on the loop, then resets both to Python's defaults: a batch worker would lose its
    own (it leaves Ctrl-C to its parent, and on SIGTERM stops its children and removes its folders)
    and die at the next SIGTERM with its folders left behind. This loop refuses handlers, as a loop
    outside the main thread does, and nbclient goes on without them."""

    def add_signal_handler(self, sig: int, callback: Any, *args: Any) -> None:  # type: ignore[override]
        raise RuntimeError("the process's own signal handlers stay")

    def remove_signal_handler(self, sig: int) -> bool:
        return False


_loops = threading.local()


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """The coroutine run to its end on this thread's notebook loop, which is kept (a kernel started
    ahead belongs to it). Interrupted (SIGTERM's SystemExit), it is cancelled, with what it started,
    and run again to its end, so that its kernels are stopped and their folders removed before the
    exception goes on."""
    loop: _Loop | None = getattr(_loops, "loop", None)
    if loop is None:
        loop = _loops.loop = _Loop()
    task = loop.create_task(coroutine)
    try:
        return loop.run_until_complete(task)
    except BaseException:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]  # nbclient's pollers too
        for t in pending:
            t.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        raise


def execute(
    path: Path,
    cwd: Path,
    cell_timeout_s: float,
    timeout_s: float,
    extra_env: dict[str, str] | None = None,
    limits: Limits = Limits(),
    probes: list[ProbeWork] | None = None,
    workdir: Path | None = None,
    hidden: tuple[Path, ...] = (),
    readable: tuple[Path, ...] = (),
) -> NotebookRun:
    """Run one notebook top to bottom, then any probes on what it defined; never raises for
    anything the notebook does."""
    job = NotebookJob(path, cell_timeout_s, timeout_s, probes or [])
    return _run(_run_in_order([job], cwd, extra_env, limits, workdir, hidden, readable))[0]


def _in_order(
    batch: NotebookBatch,
    container: Container | None,
    later: Mapping[str, asyncio.Future[list[ProbeWork]]] | None = None,
) -> Coroutine[Any, Any, list[NotebookRun]]:
    policy = batch.policy
    return _run_in_order(
        batch.jobs,
        batch.cwd,
        dict(policy.env),
        policy.limits,
        batch.workdir,
        policy.hidden,
        policy.readable,
        container,
        later,
    )


def run_jobs(
    jobs: list[NotebookJob], cwd: Path, workdir: Path, policy: Policy, container: Container | None = None
) -> list[NotebookRun]:
    """A backend's notebook runs: each job in a kernel of its own, in order (in `container`, if any)."""
    return _run(_in_order(NotebookBatch(jobs, cwd, workdir, policy), container))


def run_jobs_beside(
    first: NotebookBatch, second: NotebookBatch, later: LaterProbes | None, container: Container | None = None
) -> tuple[list[NotebookRun], list[NotebookRun]]:
    """A backend's two batches at once. With `later`, the second's probes are drawn from the first's
    runs and served once both are done; without, the second serves its jobs' own probes as it goes."""

    async def both() -> tuple[list[NotebookRun], list[NotebookRun]]:
        loop = asyncio.get_running_loop()
        waiting = {job.path.name: loop.create_future() for job in second.jobs} if later is not None else None
        beside = loop.create_task(_in_order(second, container, waiting))
        runs = await _in_order(first, container)
        if later is not None and waiting is not None:
            work = later(runs)  # raising, it leaves `beside` to _run, which cancels and ends it
            for name, future in waiting.items():
                future.set_result(list(work.get(name, [])))
        return runs, await beside

    return _run(both())


def notebook_batch(
    rubric: Rubric,
    scratch: Path,
    work: Mapping[str, list[ProbeWork]],
    workdir: Path,
    policy: Policy = Policy(),
    reads: Mapping[str, tuple[ValueRead, ...]] | None = None,
    names: Collection[str] | None = None,
) -> NotebookBatch:
    """The rubric's notebooks (those in `names`, if given) as one batch in `scratch`, in the rubric's
    order, each job with its limits, its probes in `work` and the values it reads."""
    chosen = [n for n in rubric.notebooks if names is None or n in names]
    return NotebookBatch(_jobs(rubric, scratch, chosen, work, reads), scratch, workdir, policy)


def by_notebook(batch: NotebookBatch, runs: list[NotebookRun]) -> dict[str, NotebookRun]:
    return {job.path.name: run for job, run in zip(batch.jobs, runs)}


def run_notebooks(
    rubric: Rubric,
    scratch: Path,
    work: dict[str, list[ProbeWork]],
    workdir: Path,
    policy: Policy = Policy(),
    backend: Backend | None = None,
    reads: Mapping[str, tuple[ValueRead, ...]] | None = None,
    only_probed: bool = False,
) -> dict[str, NotebookRun]:
    """Every notebook the rubric names (with `only_probed`, those with probes to serve), each in a
    fresh kernel (the next one started while the current notebook runs), with the probes of the
    objects it defines and the values it computes."""
    names = [n for n in rubric.notebooks if work.get(n)] if only_probed else None
    batch = notebook_batch(rubric, scratch, work, workdir, policy, reads, names)
    return by_notebook(batch, (backend or backends.default()).notebooks(batch.jobs, scratch, workdir, policy))


def run_notebooks_beside(
    first: NotebookBatch,
    second: NotebookBatch,
    later: Callable[[dict[str, NotebookRun]], Mapping[str, list[ProbeWork]]] | None,
    backend: Backend | None = None,
) -> tuple[dict[str, NotebookRun], dict[str, NotebookRun]]:
    """Both batches at the same time, each run by name. With `later`, the second's jobs are probed
    once the first are done with what it draws from the first's runs (a replay's reference runs its
    cells while the student's recording run runs); without, each batch is probed with its own work
    (the reference's notebooks answer the hidden cases while the student's notebooks run)."""

    def probes(runs: list[NotebookRun]) -> Mapping[str, list[ProbeWork]]:
        assert later is not None
        return later(by_notebook(first, runs))

    mine, theirs = (backend or backends.default()).notebooks_beside(first, second, probes if later else None)
    return by_notebook(first, mine), by_notebook(second, theirs)


def _jobs(
    rubric: Rubric,
    scratch: Path,
    names: list[str],
    work: Mapping[str, list[ProbeWork]],
    reads: Mapping[str, tuple[ValueRead, ...]] | None = None,
) -> list[NotebookJob]:
    """A job for each notebook named, with its limits from the rubric (its run item's, if any)."""
    jobs = []
    for name in names:
        run_item = next(
            (i for i in rubric.notebook_items if i.notebook == name and kinds.get(i.kind).sets_notebook_limits), None
        )
        own = run_item.params.get("cell_timeout_s") if run_item else None
        cell_timeout = float(own) if own is not None else rubric.cell_timeout_s
        total = run_item.timeout_s if run_item else rubric.notebook_timeout_s
        jobs.append(NotebookJob(scratch / name, cell_timeout, total, work.get(name, []), (reads or {}).get(name, ())))
    return jobs
