"""Kernels kept warm across a batch (grader.kernels): a batch worker starts the next submission's first
kernel while the current one runs its last notebook. Each kernel still serves one student only, sees
the files copied into its folder after it started, and none is left running when the batch ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from types import SimpleNamespace
from typing import Any

import nbformat
import numpy as np
import pytest
from bugs import TEST_SEED
from conftest import CS231N, cs231n_submissions, ctrl_c, processes_mentioning

from grader import engine, isolation, kernels, notebooks
from grader.authoring import cli as build_cli
from grader.backends import Policy
from grader.notebooks import NotebookBatch, NotebookJob, NotebookRun, ProbeWork, run_jobs, run_jobs_beside
from grader.project import Layout

# The kernel's age against its folder's files', read in the kernel: a kernel started before the
# files were copied in is the older.
AGES = """\
import os, time
_ticks = os.sysconf("SC_CLK_TCK")
_uptime = float(open("/proc/uptime").read().split()[0])
_started = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]) / _ticks
kernel_age = _uptime - _started
file_age = time.time() - os.stat("helper.py").st_mtime
"""
# Anything one student's kernel leaves behind would be seen by the next student's cells.
SHARED = """\
import builtins, numpy
assert not hasattr(numpy, "graded_before") and not hasattr(builtins, "graded_before"), "a kernel served twice"
numpy.graded_before = builtins.graded_before = True
"""


def _submission(scratch: Path, name: str, kept: Path | None, warm: bool) -> Path:
    """A submission whose notebook imports its own module, checks whether its kernel is the one kept
    (the kept kernel's spec folder holds its connection file) and, if so, that it is older than the
    submission's files, and that no other student's notebook ran in it; each failed check is a cell
    error."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "helper.py").write_text(f"VALUE = {name!r}\n")
    cells = [f"from helper import VALUE\nassert VALUE == {name!r}, VALUE", SHARED]
    if kept is not None:
        served = f"get_connection_file().startswith({str(kept) + '/'!r})"
        check = f"assert {served}, get_connection_file()" if warm else f"assert not {served}"
        cells.append(f"from ipykernel.connect import get_connection_file\n{check}")
    if warm:
        cells.append(AGES + "assert kernel_age > file_age, (kernel_age, file_age)")
    path = scratch / "work.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
    return path


def _run(
    folder: Path, name: str, kept: Path | None = None, warm: bool = False, policy: Policy = Policy()
) -> NotebookRun:
    notebook = _submission(folder / kernels.SCRATCH, name, kept, warm)
    (folder / kernels.REQUESTS).mkdir(exist_ok=True)
    [run] = run_jobs([NotebookJob(notebook, 30, 120)], folder / kernels.SCRATCH, folder / kernels.REQUESTS, policy)
    return run


def _pid(kept: object) -> int:
    pid = kept.kernel.km.provisioner.pid  # type: ignore[attr-defined]
    assert isinstance(pid, int)
    return pid


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


@pytest.fixture
def warm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if isolation.level() == "user":
        pytest.skip("at the level user, each kernel starts with its submission: its folder is handed to its user")
    monkeypatch.setattr(kernels, "_warm", True)  # keep_warm() would stay on for the rest of this process
    try:
        yield
    finally:
        kernels._discard()


@pytest.mark.usefixtures("warm")
def test_the_next_submission_gets_a_kernel_started_ahead_that_serves_it_alone() -> None:
    with kernels.workspace() as first:
        run = _run(first, "first")
        assert (run.status, run.errors) == ("ok", ())
        kept = kernels._kept
        assert kept is not None and kept.path != first and (kept.path / kernels.SCRATCH).is_dir()
    assert not first.exists()

    with kernels.workspace() as second:
        assert second == kept.path  # graded where its kernel waits
        pid = _pid(kept)
        run = _run(second, "second", Path(kept.kernel.spec_root.name), warm=True)
        # Its module imported, its kernel the kept one and older than its files, nothing of the first
        # student's seen.
        assert (run.status, run.errors) == ("ok", ())
        assert _gone(pid)  # stopped with its notebook, as any kernel is
        following = kernels._kept
        assert following is not None and following is not kept
    assert not second.exists()


@pytest.mark.usefixtures("warm")
def test_a_kept_kernel_that_does_not_fit_is_stopped_unused() -> None:
    with kernels.workspace() as first:
        assert _run(first, "first").errors == ()
    kept = kernels._kept
    assert kept is not None
    with kernels.workspace() as second:
        pid = _pid(kept)
        # Another policy than the kept kernel's (a data set's variable): a kernel of its own, started now.
        other = Policy(env={"NN_GRADER_DATASET": "other"})
        run = _run(second, "second", Path(kept.kernel.spec_root.name), policy=other)
        assert (run.status, run.errors) == ("ok", ())
        assert _gone(pid)
    kept = kernels._kept
    assert kept is not None
    pid = _pid(kept)
    with kernels.workspace() as third:  # graded without notebooks
        assert third == kept.path
    assert kernels._kept is None and _gone(pid) and not third.exists()


def test_a_stopped_kernels_end_is_awaited_without_reaping_it_and_a_live_one_only_until_the_timeout() -> None:
    """`_ended` lets a kernel's stop go on once its killed process has ended (jupyter_client then
    reaps it), and gives up after its timeout on one that has not."""
    ended = subprocess.Popen(["sleep", "30"])
    alive = subprocess.Popen(["sleep", "30"])
    try:
        ended.kill()
        asyncio.run(kernels._ended(ended.pid, 30))
        assert ended.poll() == -signal.SIGKILL  # ended, and still there for its Popen to reap
        asyncio.run(kernels._ended(alive.pid, 0.2))
        assert alive.poll() is None
    finally:
        for process in (ended, alive):
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cs231n_style")
    shutil.copytree(CS231N / "reference", root / "reference")
    assert build_cli.main(["--course", str(root)]) == 0
    return root


# Appended to each student's notebook: a kernel that served another student breaks this one's ReLU.
BREAKS_IF_SHARED = """\
import numpy as _np
if hasattr(_np, "graded_before"):
    def relu_forward(x):
        return x * 0, None
_np.graded_before = True
"""


def test_a_run_beside_another_serves_the_probes_drawn_from_it_and_its_wait_is_not_its_time(course: Path) -> None:
    """A replay's reference runs its cells while the student's recording run goes on, then serves the
    probes drawn from that run. The student's run here takes longer than the reference's whole limit:
    the wait is the other run's time, so the reference still answers every case, as the student's
    notebook (the same code) did."""
    layout = Layout(course, "twolayer")
    assignment = engine.load_assignment(layout.fixtures, layout.reference)
    item = assignment.rubric.item("two_layer.ipynb:relu_forward")
    plans, _ = engine._plan(assignment, TEST_SEED, (item,))
    work = ProbeWork(item, [case.inputs for case in plans[item.id]], engine._case_params(plans, (item,))[item.id])
    reference = nbformat.read(layout.reference / "two_layer.ipynb", as_version=4)
    code = [c for c in reference.cells if c.cell_type == "code"]
    defines = [code[0], *(c for c in code if "def relu_forward" in c.source)]  # numpy imported, then the function
    limit = 8
    drawn: list[list[NotebookRun]] = []

    def later(runs: list[NotebookRun]) -> dict[str, list[ProbeWork]]:
        drawn.append(runs)
        return {"two_layer.ipynb": [work]}

    with _grading_folder("nn-grader-recording-") as recording, _grading_folder("nn-grader-replay-") as replay:
        batches = []
        for folder, last in ((recording, f"import time\ntime.sleep({limit + 4})"), (replay, "")):
            scratch = folder / kernels.SCRATCH
            nbformat.write(
                nbformat.v4.new_notebook(cells=[*defines, nbformat.v4.new_code_cell(last)]), scratch / "two_layer.ipynb"
            )
            first = folder == recording
            job = NotebookJob(scratch / "two_layer.ipynb", 30, 120 if first else limit, [work] if first else [])
            batches.append(NotebookBatch([job], scratch, folder / kernels.REQUESTS, Policy()))
        [student], [replayed] = run_jobs_beside(batches[0], batches[1], later)
    assert drawn == [[student]] and student.status == "ok"
    assert [r.status for r in student.probes[item.id]] == ["ok"] * len(work.cases)
    assert replayed.status == "ok", replayed.message
    assert [r.status for r in replayed.probes[item.id]] == ["ok"] * len(work.cases)
    np.testing.assert_equal([r.outputs for r in replayed.probes[item.id]], [r.outputs for r in student.probes[item.id]])


@pytest.mark.parametrize("zipped", [False, True], ids=["folders", "zips"])
def test_a_batch_gives_each_student_a_kernel_of_their_own_and_leaves_nothing_running(
    zipped: bool, course: Path, tmp_path: Path
) -> None:
    """One worker grades the class in turn, each next kernel started ahead: every total is the one a
    TA gives, so no student's notebook ran in a kernel another's had used; once the batch is done, no
    kernel runs and no folder is left in the temp folder. A class of zips is extracted, each in turn,
    into one folder of the worker's, which it leaves behind neither."""
    make = cs231n_submissions()
    make.write(tmp_path / "all")
    names = ("s01_correct", "s10_softmax_without_shift", "s12_reg_without_half")
    for name in names:
        shutil.copytree(tmp_path / "all" / name, tmp_path / "class" / name)
        path = tmp_path / "class" / name / "two_layer.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(BREAKS_IF_SHARED))
        nbformat.write(nb, path)
        if zipped:
            shutil.make_archive(str(tmp_path / "zips" / name), "zip", tmp_path / "class", name)
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "seed").write_text(TEST_SEED)
    layout = Layout(course, "twolayer")
    # The workers' temp folder: outside pytest's own (which only its owner may enter), since a child
    # may run as a user of its own.
    scratch = Path(tempfile.mkdtemp(prefix="nn-grader-warm-"))
    scratch.chmod(0o755)
    try:
        args = [str(tmp_path / ("zips" if zipped else "class")), "--assignment", "twolayer", "--course", str(course),
                "--reference", str(layout.reference), "--hidden-seed-file", str(tmp_path / "secret" / "seed"),
                "--jobs", "1", "--quiet", "--out", str(tmp_path / "out")]  # fmt: skip
        grade = str(Path(sys.executable).parent / "grade")
        done = subprocess.run(
            [grade, *args],
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ, "TMPDIR": str(scratch)},
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        time.sleep(0.5)
        assert processes_mentioning(str(scratch)) == []
        assert sorted(p.name for p in scratch.iterdir()) == []
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    reports = json.loads((tmp_path / "out" / "reports.json").read_text())
    totals = {Path(r["submission"]).name: r["total"] for r in reports}
    students = make.STUDENTS
    assert totals == {name: students[name].points for name in names}


def test_ctrl_c_during_a_notebook_batch_stops_it_at_once_and_leaves_nothing(course: Path, tmp_path: Path) -> None:
    """Ctrl-C while one worker runs a notebook whose cells never end and the other waits with its next
    kernel started: the batch stops in under 2 s, and no kernel or folder of either is left. (nbclient
    resets a worker's SIGTERM handler to the default after each notebook: the worker then died at
    once, leaving its scratch copy, its kernels' folders and its kept kernel's folder behind.)"""
    make = cs231n_submissions()
    make.write(tmp_path / "all")
    for name in ("s01_correct", "s02_matmul", "s05_correct", "s18_infinite_loop"):
        shutil.copytree(tmp_path / "all" / name, tmp_path / "class" / name)
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "seed").write_text(TEST_SEED)
    layout = Layout(course, "twolayer")
    scratch = Path(tempfile.mkdtemp(prefix="nn-grader-ctrl-c-notebooks-"))
    scratch.chmod(0o755)
    out = tmp_path / "out"
    try:
        args = [str(tmp_path / "class"), "--course", str(course), "--reference", str(layout.reference),
                "--hidden-seed-file", str(tmp_path / "secret" / "seed"), "--jobs", "2", "--quiet",
                "--out", str(out)]  # fmt: skip
        grade = str(Path(sys.executable).parent / "grade")
        proc = subprocess.Popen(
            [grade, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            env={**os.environ, "TMPDIR": str(scratch)},
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list((out / "cache").glob("*.json"))) < 3:
            time.sleep(0.1)
        if len(list((out / "cache").glob("*.json"))) < 3:
            # Three short notebooks take seconds: say where the batch waits instead of failing below
            # with "no child was grading" once the looping one is done too.
            raise AssertionError(_stuck(proc, out / "cache"))
        time.sleep(1.0)  # the looping notebook's cell runs; the other worker's next kernel waits
        took, err = ctrl_c(proc, scratch)
        assert proc.returncode == 130 and took < 2.0, (proc.returncode, took, err)
        assert "Traceback" not in err and "Task was destroyed" not in err, err
        time.sleep(0.5)
        assert processes_mentioning(str(scratch)) == []
        assert sorted(p.name for p in scratch.iterdir()) == []
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _stuck(proc: subprocess.Popen[str], cache: Path) -> str:
    """What a batch that did not finish its short submissions in time was doing: each of its
    processes (state, what it waits in, its command line), then its stderr once it is killed."""
    lines = [f"graded: {sorted(p.name for p in cache.glob('*.json'))}"]
    todo = [proc.pid]
    while todo:
        pid = Path(f"/proc/{todo.pop()}")
        with contextlib.suppress(OSError, IndexError, ValueError):
            state = (pid / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            lines.append(f"{pid.name} {state} {(pid / 'wchan').read_text()} {cmdline[:300]}")
            for task in (pid / "task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    return "\n".join([*lines, "stderr:", err[-4000:]])


class _SlowKernel:
    """A kernel client whose kernel answers each kernel_info request `delay` seconds after it was sent,
    on the shell channel and with its idle status on IOPub."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.sent: list[tuple[str, float]] = []
        self.answered = 0
        self.shell: list[dict[str, Any]] = []
        self.iopub: list[dict[str, Any]] = []
        self.shell_channel = SimpleNamespace(get_msg=lambda timeout: self._get(self.shell, timeout))
        self.iopub_channel = SimpleNamespace(get_msg=lambda timeout: self._get(self.iopub, timeout))

    def kernel_info(self) -> str:
        msg_id = f"request-{len(self.sent)}"
        self.sent.append((msg_id, time.monotonic()))
        return msg_id

    async def _get(self, queue: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while True:
            while self.answered < len(self.sent) and time.monotonic() >= self.sent[self.answered][1] + self.delay:
                parent = {"msg_id": self.sent[self.answered][0]}
                self.answered += 1
                self.shell.append({"msg_type": "kernel_info_reply", "parent_header": parent})
                idle = {"msg_type": "status", "content": {"execution_state": "idle"}, "parent_header": parent}
                self.iopub.append(idle)
            if queue:
                return queue.pop(0)
            if time.monotonic() >= end:
                raise Empty
            await asyncio.sleep(0.01)

    def _handle_kernel_info_reply(self, reply: dict[str, Any]) -> None:
        pass

    async def is_alive(self) -> bool:
        return True


def test_a_kernel_slower_to_answer_than_a_second_is_ready_once_it_answers() -> None:
    """A kernel that answers each request 2 s late (a loaded machine, a kernel server still importing)
    is ready once it has answered: the check does not go on asking, one reply behind, until its
    deadline (it did, and the notebook was reported as the grader's fault after 60 s)."""
    started = time.monotonic()
    asyncio.run(notebooks._ready(_SlowKernel(2.0), timeout=20))
    assert time.monotonic() - started < 5
    with pytest.raises(RuntimeError, match="didn't respond in 2 seconds"):
        asyncio.run(notebooks._ready(_SlowKernel(1000.0), timeout=2))


# Each cell of a notebook in the test below: the kernel records what it is and what it drew, and the
# first starts a process that leaves the kernel's session, as a student's background job might.
SERVED = """\
import json, os, subprocess, sys, numpy
from ipykernel.connect import get_connection_file
draw = float(numpy.random.rand())
record = {"served": "/grade-kernels-" in get_connection_file(), "draw": draw, "pid": os.getpid()}
import glob
record["servers_seen"] = glob.glob(os.path.join(GRADER_TMP, "**", "server.sock"), recursive=True)
record["debugger"] = sorted(m for m in ("debugpy", "pydevd") if m in sys.modules)
"""
# A student's own import of what the kernel does without.
IMPORTS_DEBUGPY = "import debugpy"
ESCAPE = """\
escaped = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", TOKEN], start_new_session=True)
record["escaped"] = escaped.pid
"""
STILL_THERE = """\
record["left_running"] = [p for p in os.listdir("/proc") if p.isdigit() and TOKEN in open(f"/proc/{p}/cmdline").read()]
"""


def _notebook(path: Path, cells: list[str]) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
    return path


@contextlib.contextmanager
def _grading_folder(prefix: str) -> Iterator[Path]:
    """A submission's grading folder with its scratch copy's and its requests' folders, outside
    pytest's temp folder (only its owner may enter it): a kernel may run as a user of its own."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    try:
        (folder / kernels.SCRATCH).mkdir()
        (folder / kernels.REQUESTS).mkdir()
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_submissions_notebooks_each_get_a_fresh_kernel_from_its_kernel_server(tmp_path: Path) -> None:
    """Two notebooks of one submission: each kernel is forked by the submission's kernel server (where
    kernels are served), and each is fresh: the second sees nothing the first left in its modules, draws
    other random numbers, and a process the first started outside its session is gone, where a pids
    cgroup catches it, before the second starts; and nothing is left once they are done, wherever a
    sandbox or a pids cgroup holds the kernels' processes."""
    token = f"nn-grader-escaped-{os.getpid()}-{time.monotonic_ns()}"
    setup = f"TOKEN, GRADER_TMP = {token!r}, {tempfile.gettempdir()!r}"
    with _grading_folder("nn-grader-served-") as folder:
        scratch = folder / kernels.SCRATCH
        first = _notebook(
            scratch / "first.ipynb",
            [setup, SHARED, SERVED, ESCAPE, "json.dump(record, open('first.json', 'w'))"],
        )
        second = _notebook(
            scratch / "second.ipynb",
            [setup, SHARED, SERVED, STILL_THERE, IMPORTS_DEBUGPY, "json.dump(record, open('second.json', 'w'))"],
        )
        runs = run_jobs(
            [NotebookJob(first, 30, 120), NotebookJob(second, 30, 120)], scratch, folder / kernels.REQUESTS, Policy()
        )
        assert [(r.status, r.errors) for r in runs] == [("ok", ()), ("ok", ())]
        one, two = (json.loads((scratch / f"{n}.json").read_text()) for n in ("first", "second"))
        time.sleep(0.2)
        assert processes_mentioning(str(folder)) == []  # no kernel, server or launcher is left
    served = kernels.serving(kernels.Shape.of(None, Policy().limits, (), ()))
    assert one["served"] == two["served"] == served
    assert one["draw"] != two["draw"]
    assert one["debugger"] == two["debugger"] == []  # ipykernel's debugger, never used, is not loaded
    assert one["escaped"]
    if isolation.level() != "none":  # its kernel server's socket is out of a kernel's reach
        assert one["servers_seen"] == two["servers_seen"] == []
    cap = isolation.process_limit(1)
    cap.release()
    if cap.kind == "pids cgroup":
        assert two["left_running"] == []
    if isolation.level() != "none" or cap.kind == "pids cgroup":
        assert processes_mentioning(token) == []
    else:  # with no sandbox and no pids cgroup, a process in a session of its own escapes any grader
        with contextlib.suppress(ProcessLookupError):
            os.kill(one["escaped"], signal.SIGKILL)


def test_a_single_notebook_boots_its_kernel_in_full(tmp_path: Path) -> None:
    """A kernel server boots as a kernel does, and imports matplotlib besides: for one notebook it
    would cost more than it saves, and that notebook's kernel boots in full (without ipykernel's
    debugger either)."""
    with _grading_folder("nn-grader-single-") as folder:
        scratch = folder / kernels.SCRATCH
        setup = f"GRADER_TMP = {tempfile.gettempdir()!r}"
        only = _notebook(
            scratch / "only.ipynb", [setup, SERVED, IMPORTS_DEBUGPY, "json.dump(record, open('only.json', 'w'))"]
        )
        [run] = run_jobs([NotebookJob(only, 30, 120)], scratch, folder / kernels.REQUESTS, Policy())
        assert (run.status, run.errors) == ("ok", ())
        record = json.loads((scratch / "only.json").read_text())
        assert record["served"] is False
        assert record["debugger"] == []


def test_a_kernel_server_stopped_with_a_kernel_still_running_leaves_no_kernel_behind() -> None:
    """The grader stops a submission's kernel server while one of its kernels still runs (it was never
    stopped itself): the server kills it before it ends, also where no sandbox ends with it."""
    shape = kernels.Shape.of(None, Policy().limits, (), ())

    async def run(cwd: Path) -> None:
        server = kernels.start_server(cwd, None, shape, notebooks=2)
        if server is None:
            pytest.skip("kernels are not served here: each boots in full, and stops on its own")
        kernel = kernels.start(cwd, None, shape, server)
        try:
            await kernel.started
            kc = kernel.km.client()
            kc.start_channels()
            await notebooks._ready(kc, 60)
            await kc.execute_interactive("import os; open('pid', 'w').write(str(os.getpid()))", timeout=30)
            kc.stop_channels()
            server.stop()
            time.sleep(0.2)
            assert processes_mentioning(str(cwd)) == []
            if isolation.level() == "none":  # the kernel's own pid, as this process sees it
                assert _gone(int((cwd / "pid").read_text()))
        finally:
            server.stop()  # a no-op once stopped
            await kernel.stop()  # its launcher and folder

    with _grading_folder("nn-grader-server-stop-") as folder:
        asyncio.run(run(folder / kernels.SCRATCH))
