"""A batch on a Dask distributed cluster: `grade submissions/ --scheduler ADDRESS`.

The `grade` process stays the client: it keeps the cache, so only what changed is sent. Each
submission to grade travels as its files (a zip made in memory) with the assignment's name, the
settings that decide its grade and the options. A worker finds its own copy of the course (its
`$GRADER_COURSE`, else the client's paths: a shared file system), refuses it unless it is the
client's (rubric, fixtures, reference, mode, options and grader version alike), and grades the
submission as a local batch worker does, through the same backend, returning the report. Each
worker computes the reference's answers to the hidden cases once, before the first submission, and
keeps them (answers computed here and scattered would be lost with the first worker that dies).

A worker that dies while grading (killed, out of memory) costs the submission nothing: the
scheduler gives it to another worker. When the workers grading it died as many times as the
scheduler allows (its `distributed.scheduler.allowed-failures`; the README says how to make that
once), the submission gets an error report saying so, as a timeout would.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import __version__, backends, batch, isolation, messages
from grader.engine import SetupError, check_sandbox, load_assignment
from grader.options import GradeOptions
from grader.project import COURSE_ENV, Layout
from grader.results import GRADER_ERROR
from grader.submissions import MAX_TOTAL_BYTES

if TYPE_CHECKING:
    from grader.batch import Execute, Job, Submission

INSTALL = "pip install 'nn-grader[cluster]'"
WAIT_FOR_WORKERS_S = 60.0
SKIPPED = {".git", "__pycache__"}  # as the cache key skips them: they decide no grade


@dataclass(frozen=True)
class Task:
    """One submission, as a worker receives it."""

    name: str
    archive: bytes  # a zip of the submission's files
    assignment: str
    fixtures: str  # the client's paths, used by a worker without $GRADER_COURSE
    reference: str | None
    settings: dict[str, Any]
    options: GradeOptions
    allow_unisolated: bool = False  # --allow-unisolated: instructor mode on a worker without isolation
    # The submission's path on the client: where a worker sees it too (a shared file system), the
    # folder holding it (the classmates' work) is hidden from the children there, as in a local run.
    handed_in: str | None = None


def pack(path: Path) -> bytes:
    """A submission's files as a zip, in memory: a .zip as it is, a folder's regular files (links and
    git's folder left out), bounded as an unpacked zip is. A folder's files go under one top folder,
    which the worker's unzipping takes as the submission, whatever the folder holds (were a lone
    subfolder at the top, it would take that instead)."""
    if path.is_file():
        if path.stat().st_size > MAX_TOTAL_BYTES:
            raise ValueError(f"a zip of more than {MAX_TOTAL_BYTES // 2**20} MB")
        return path.read_bytes()
    buffer = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for file in sorted(path.rglob("*")):
            rel = file.relative_to(path)
            if file.is_symlink() or not file.is_file() or SKIPPED & set(rel.parts):
                continue
            total += file.stat().st_size
            if total > MAX_TOTAL_BYTES:
                raise ValueError(f"more than {MAX_TOTAL_BYTES // 2**20} MB of files")
            zf.write(file, f"submission/{rel.as_posix()}")
    return buffer.getvalue()


_jobs: dict[str, Job] = {}


def _job(task: Task) -> Job:
    """This worker's job for the task's run: its own course, checked to be the client's."""
    from grader.batch import Job

    key = json.dumps([task.assignment, task.fixtures, task.reference, task.settings], sort_keys=True)
    if key in _jobs:
        return _jobs[key]
    course = os.environ.get(COURSE_ENV)
    if course:
        layout = Layout(Path(course), task.assignment)
        fixtures, reference = layout.fixtures, layout.reference if task.reference else None
        where = f"${COURSE_ENV}={course}"
    else:
        fixtures, reference = Path(task.fixtures), Path(task.reference) if task.reference else None
        where = "the client's course paths (this worker has no $GRADER_COURSE)"
    if not fixtures.is_dir() or (reference is not None and not reference.is_dir()):
        raise SetupError(f"worker: no course for {task.assignment!r} at {where}; set {COURSE_ENV} on the workers")
    assignment = load_assignment(fixtures, reference)
    # The client's secrets that exist here too (a shared file system) stay hidden from children.
    options = replace(task.options, secrets=tuple(p for p in task.options.secrets if p.exists()))
    mine = batch.settings_of(assignment, options)
    differ = sorted(k for k in set(mine) | set(task.settings) if mine.get(k) != task.settings.get(k))
    if differ:
        raise SetupError(
            f"worker: its course at {where} is not the client's ({', '.join(differ)} differ); install the same "
            "course and grader on every worker"
        )
    if reference is not None and options.image is None and isolation.level() == "none" and not task.allow_unisolated:
        raise SetupError(
            f"worker: instructor mode without isolation: on this worker {isolation.UNISOLATED_RISKS}. Install "
            "bubblewrap there, or pass --allow-unisolated if every submission is trusted"
        )
    # This worker's own canary, before its first student.
    check_sandbox(assignment, options.secrets, backend=backends.of(options))
    _jobs.clear()  # one run at a time per worker: the last one's course is let go
    _jobs[key] = Job(assignment, options)
    return _jobs[key]


def grade_task(task: Task) -> dict[str, Any]:
    """On a worker: one submission, as `batch.grade_one` grades it locally; never raises for what the
    submission does. A course that is not the client's is a grader fault, in the report."""
    try:
        job = _job(task)
    except (SetupError, OSError, ValueError) as exc:
        fault = messages.grader_fault(str(exc))
        report = batch.unreadable(task.name, task.assignment, fault, GRADER_ERROR)
        return {"report": batch.report_to_json(report), "seconds": 0.0}
    with tempfile.TemporaryDirectory(prefix="grade-cluster-") as tmp:
        archive = Path(tmp) / "submission.zip"
        archive.write_bytes(task.archive)
        handed_in = Path(task.handed_in) if task.handed_in else None
        return batch.grade_one(job, task.name, archive, handed_in if handed_in and handed_in.exists() else None)


def check_worker(version: str, task: Task) -> str | None:
    """Run on every worker before the batch: what keeps it from grading this run, or None. A worker
    that can grade it computes the reference's answers to the hidden cases now, before any student,
    and keeps them for every submission it grades (a worker started later computes them beside its
    first submission, as a local batch worker whose parent could not prepare them does)."""
    if version != __version__:
        return f"grader {__version__} installed, the client's is {version}"
    try:
        job = _job(task)
    except (SetupError, OSError, ValueError) as exc:
        return str(exc)
    batch.start_worker(batch.prepared(job, []))
    return None


def _client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError as exc:
        raise SetupError(f"--scheduler needs Dask's distributed package: {INSTALL}") from exc
    try:
        return Client(address, timeout="30s")
    except (OSError, TimeoutError) as exc:
        raise SetupError(
            f"cannot reach the Dask scheduler at {address} ({exc}); start it with `dask scheduler` and pass the "
            "address it prints"
        ) from exc


def executor(address: str, settings: dict[str, Any], allow_unisolated: bool = False) -> Execute:
    """Grading on the cluster whose scheduler is at `address` (e.g. tcp://10.0.0.5:8786)."""

    def task(job: Job, sub: Submission, archive: bytes) -> Task:
        a = job.assignment
        return Task(
            sub.name,
            archive,
            a.rubric.name,
            str(a.fixtures.resolve()),
            str(a.reference.resolve()) if a.reference else None,
            settings,
            job.options,
            allow_unisolated,
            str(sub.path.resolve()),
        )

    def execute(todo: list[Submission], job: Job) -> Iterator[tuple[Submission, dict[str, Any]]]:
        from distributed import as_completed

        client = _client(address)
        try:
            _check_cluster(client, address, task(job, todo[0], b""))
            # As many submissions in flight as the workers grade at once, no more: a worker then holds
            # only the submission it grades (its death counts against that one alone), and the
            # scheduler never holds a whole class's files.
            queue = list(reversed(todo))
            in_flight: dict[Any, Submission] = {}
            done = as_completed()
            while queue or in_flight:
                slots = max(1, sum(client.nthreads().values())) - len(in_flight)
                while slots > 0 and queue:
                    sub = queue.pop()
                    try:
                        archive = pack(sub.path)
                    except ValueError as exc:  # too large: the student's, as a local scratch copy says
                        yield sub, _error(sub, job, f"the submission was not graded: {exc}", "error")
                        continue
                    except OSError as exc:  # this host cannot read what it was given: a local batch's fault too
                        fault = messages.grader_fault(f"its files could not be read to send to the cluster: {exc}")
                        yield sub, _error(sub, job, fault, GRADER_ERROR)
                        continue
                    future = client.submit(grade_task, task(job, sub, archive), pure=False, retries=0)
                    in_flight[future] = sub
                    done.add(future)
                    slots -= 1
                if in_flight:
                    future = next(done)
                    sub = in_flight.pop(future)
                    yield sub, _outcome(future, sub, job)
        finally:
            client.close()

    return execute


_KILLED = (
    "each worker that graded this submission died while doing so (killed, or out of memory) as many times as "
    "the cluster allows, so it was not graded. Look for what makes the code use so much memory or run so long"
)


def _outcome(future: Any, sub: Submission, job: Job) -> dict[str, Any]:
    from distributed.scheduler import KilledWorker

    try:
        return dict(future.result())
    except KilledWorker:
        return _error(sub, job, _KILLED, "error")
    except Exception as exc:  # noqa: BLE001 - the cluster's fault: that submission's grader error
        fault = messages.grader_fault(f"the cluster could not grade it: {type(exc).__name__}: {exc}")
        return _error(sub, job, fault, GRADER_ERROR)


def _error(sub: Submission, job: Job, why: str, status: Any) -> dict[str, Any]:
    report = batch.unreadable(sub.name, job.assignment.rubric.name, why, status)
    return {"report": batch.report_to_json(report), "seconds": 0.0}


def _check_cluster(client: Any, address: str, probe: Task) -> None:
    """Workers there, one submission at a time each, and every one of them with this run's course."""
    try:
        client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
    except TimeoutError as exc:
        raise SetupError(
            f"the scheduler at {address} has no workers after {WAIT_FOR_WORKERS_S:g} s; start them with "
            f"`dask worker {address} --nthreads 1 --nworkers N`"
        ) from exc
    workers = client.scheduler_info()["workers"]
    threaded = sorted(w for w, info in workers.items() if info.get("nthreads", 1) != 1)
    if threaded:
        raise SetupError(
            f"worker(s) {', '.join(threaded[:5])} run several tasks at once in one process; a submission is graded "
            "per worker process: start workers with `--nthreads 1 --nworkers N`"
        )
    problems = {w: p for w, p in client.run(check_worker, __version__, probe).items() if p}
    if problems:
        said = "; ".join(f"{w}: {p}" for w, p in sorted(problems.items())[:5])
        raise SetupError(f"{len(problems)} of {len(workers)} worker(s) cannot grade this run: {said}")
