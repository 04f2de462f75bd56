"""A whole class at once: find the submissions, grade them in parallel, cache, resume.

Each submission's report is cached in `<out>/cache/` under a key made of the
submission's content and everything else that decides its grade (rubric, fixtures,
grader version, mode, seed, data set, options), written atomically the moment it is
graded. A rerun grades only what changed; a batch killed halfway resumes where it
stopped; `--force` regrades everything. One student's failure, timeout or hostile
code is that student's report, never the batch's end.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import multiprocessing.util
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from grader import __version__, messages
from grader.atomic import atomic_write
from grader.options import GradeOptions
from grader.project import MARKER, MarkerError, marked_assignment
from grader.results import GRADER_ERROR, ItemResult, Report, Status, file_stem
from grader.submissions import SubmissionError, extract_zip

if TYPE_CHECKING:
    from grader.engine import Assignment, ReferenceAnswers

CACHE_VERSION = 2  # 2: reports say which isolation graded them


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path  # a folder or a .zip


def is_batch(folder: Path, named: bool = False) -> bool:
    """A folder of submissions, rather than one submission: it has no grade.toml of its own, and at
    least half of what it holds are submissions (a subfolder with a grade.toml, or a .zip), so that a
    folder that merely holds folders (a home, /tmp) is not graded as a class. When the assignment is
    `named` on the command line, any folder of subfolders is a class."""
    if not folder.is_dir() or (folder / MARKER).exists():
        return False
    subs = discover(folder)
    if named:
        return bool(subs)
    marked = sum(s.path.suffix == ".zip" or (s.path / MARKER).is_file() for s in subs)
    return marked > 0 and 2 * marked >= len(subs)


def discover(folder: Path) -> list[Submission]:
    """One submission per subfolder or `.zip` (a GitHub Classroom roster clone is such a folder)."""
    found = []
    entries = sorted(folder.iterdir())
    folders = {e.name for e in entries if e.is_dir() and not e.is_symlink()}
    for entry in entries:
        if entry.name.startswith((".", "_")) or entry.is_symlink():
            continue
        if entry.is_dir():
            found.append(Submission(entry.name, entry))
        elif entry.suffix == ".zip" and entry.is_file():
            # alice/ and alice.zip are two submissions: the zip keeps its suffix in its name.
            found.append(Submission(entry.name if entry.stem in folders else entry.stem, entry))
    return found


def content_hash(path: Path) -> str:
    """sha256 of every regular file's relative path and bytes (links and caches ignored)."""
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
        return digest.hexdigest()
    for file in sorted(path.rglob("*")):
        rel = file.relative_to(path)
        if file.is_symlink() or not file.is_file() or any(p in ("__pycache__", ".git") for p in rel.parts):
            continue
        digest.update(rel.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def cache_key(submission: Path, settings: dict[str, Any]) -> str:
    payload = json.dumps(
        {"cache": CACHE_VERSION, "grader": __version__, "content": content_hash(submission), **settings}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def report_to_json(report: Report) -> dict[str, Any]:
    return {
        **report.to_dict(),
        "notes": list(report.notes),
        "figures": [[name, base64.b64encode(data).decode()] for name, data in report.figures],
    }


def report_from_json(data: dict[str, Any]) -> Report:
    items = tuple(ItemResult(**i) for i in data["items"])
    return Report(
        data["assignment"],
        data["mode"],
        data["grader_version"],
        data["submission"],
        items,
        tuple(data.get("notes", ())),
        tuple((n, base64.b64decode(b)) for n, b in data.get("figures", ())),
        str(data.get("isolation", "")),
    )


_worker_answers: ReferenceAnswers | None = None


def start_worker(answers: ReferenceAnswers | None, warm: bool = False) -> None:
    """A worker starts with the answers its parent prepared (see engine.prepare_answers). With
    `warm`, it grades from one thread, and keeps the next submission's first kernel warm
    (`grader.kernels`).

    Ctrl-C is the parent's to handle (it stops the workers); a worker stopped with SIGTERM unwinds,
    so that the children and kernels of the submission it was grading are stopped and its scratch
    folders removed."""
    global _worker_answers  # noqa: PLW0603 - one per worker process, which the pool starts
    _worker_answers = answers
    if warm:
        from grader import kernels

        global _warm  # noqa: PLW0603 - one setting per worker process
        _warm = True
        kernels.keep_warm()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_term)


def _exit_on_term(signum: int, frame: object) -> None:
    from grader.sandbox import STOPPING

    # Once: the pool sends another SIGTERM to the workers left when one of them has ended, which
    # would cut this one's unwinding short (its kernels' folders left behind). SIGKILL still ends it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The threads grading the submission wait for its children: stopped first, and no new one
    # started, they return at once.
    STOPPING.set()
    _kill_children()
    raise SystemExit(128 + signum)


def _kill_children() -> None:
    """SIGKILL this process's children, each with its process group when it leads one (a sandboxed
    child and a kernel each do)."""
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp
            pid, ppid, group = int(stat.parent.name), int(state[1]), int(state[2])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == me:
            with contextlib.suppress(OSError):
                if group == pid:
                    os.killpg(group, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)


def prepared(job: Job, paths: list[Path]) -> ReferenceAnswers | None:
    """The reference's hidden answers, computed once here; None when that fails (each worker then
    computes them, and reports a fault of its own as that submission's grader error)."""
    from grader.engine import prepare_answers

    try:
        return prepare_answers(job.assignment, job.options, tuple(paths))
    except Exception as exc:  # noqa: BLE001 - the workers try again, and report what fails
        print(
            f"grade: the reference's answers could not be prepared ({exc}); each worker computes them", file=sys.stderr
        )
        return None


def _answers() -> ReferenceAnswers:
    """This worker process's reference answers, reused for every submission it grades."""
    global _worker_answers  # noqa: PLW0603 - one per worker process, which the pool starts
    if _worker_answers is None:
        from grader.engine import ReferenceAnswers

        _worker_answers = ReferenceAnswers()
    return _worker_answers


@dataclass(frozen=True)
class Job:
    """What grading any submission of a batch takes besides the submission: loaded once by the
    parent, handed to each worker as it is."""

    assignment: Assignment
    options: GradeOptions


_warm = False  # this worker keeps kernels warm (start_worker)
_unpacked: tempfile.TemporaryDirectory[str] | None = None


@contextlib.contextmanager
def _unpacking_folder() -> Iterator[Path]:
    """Where a zipped submission is extracted, removed after. A worker that keeps kernels warm
    extracts each into the same folder: the folder around the submission, which the sandbox hides,
    is then the same for every zip, and the kernel kept for the next submission fits it."""
    global _unpacked  # noqa: PLW0603 - one per worker process
    if not _warm:
        with tempfile.TemporaryDirectory(prefix="grade-batch-") as tmp:
            yield Path(tmp) / "unzipped"
        return
    if _unpacked is None:
        _unpacked = tempfile.TemporaryDirectory(prefix="grade-batch-")
        # A pool's worker leaves through os._exit, after multiprocessing's finalizers: not atexit's.
        multiprocessing.util.Finalize(None, _unpacked.cleanup, exitpriority=10)
    folder = Path(_unpacked.name) / "unzipped"
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def grade_one(job: Job, name: str, given: Path, handed_in: Path | None = None) -> dict[str, Any]:
    """In a worker process: grade one submission, never raise. `handed_in` is where the submission
    lies when `given` is a copy of it (a cluster's worker receives a zip of its files)."""
    from grader.engine import grade

    started = time.monotonic()
    path = given
    try:
        with _unpacking_folder() as unpacked:
            if path.suffix == ".zip" and path.is_file():
                path = extract_zip(path, unpacked)
            other = _other_assignment(path, job.assignment.rubric.name)
            if other is not None:
                raise SubmissionError(
                    f"this is a submission of {other!r} (its {MARKER} says so), not of "
                    f"{job.assignment.rubric.name!r}, which this class folder is graded as: grade it with "
                    f"the other submissions of {other!r}"
                )
            where = handed_in or (given if path != given else None)
            report = grade(path, job.assignment, job.options, name, answers=_answers(), handed_in=where)
    except SubmissionError as exc:
        report = unreadable(name, job.assignment.rubric.name, str(exc))
    except Exception as exc:  # noqa: BLE001 - an internal fault must not end the batch; it is reported
        report = unreadable(
            name,
            job.assignment.rubric.name,
            messages.grader_fault(f"internal error {type(exc).__name__}: {str(exc)[:300]}"),
            GRADER_ERROR,
        )
    return {"report": report_to_json(report), "seconds": round(time.monotonic() - started, 3)}


def _other_assignment(path: Path, graded_as: str) -> str | None:
    """The assignment a submission's grade.toml names, if it names one other than graded_as."""
    try:
        named = marked_assignment(path)
    except (OSError, MarkerError):
        return None  # no marker, or a broken one: graded as the class is, as before
    return named if named != graded_as else None


def unreadable(name: str, assignment: str, why: str, status: Status = "error") -> Report:
    """A submission that cannot be graded still gets a report: zero, with the reason."""
    return Report(
        assignment=assignment,
        mode="none",
        grader_version=__version__,
        submission=name,
        items=(ItemResult("submission:readable", "The submission can be opened", 0.0, 0.0, status, why, 0.0),),
    )


class Progress(Protocol):
    """Told which submissions are about to be graded, then of each as it is done (`grader.terminal`
    draws it)."""

    def begin(self, names: Sequence[str]) -> None: ...

    def update(self, name: str, detail: str) -> None: ...


def _store(entry: Path, data: bytes) -> None:
    """Write a cache entry, replacing whatever took its place (a folder, a link); a cache that cannot
    be written costs a regrade next time, never this batch."""
    try:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        atomic_write(entry, data)
    except OSError as exc:
        print(f"grade: cannot write the cache entry {entry}: {exc}; it will be graded again next time", file=sys.stderr)


# Grades the submissions it is given, yielding each with `grade_one`'s result as it is done.
Execute = Callable[[list[Submission], "Job"], Iterator[tuple[Submission, dict[str, Any]]]]


def local(jobs: int) -> Execute:
    """Grading on this machine: `jobs` worker processes, each starting with the reference's answers
    prepared here once."""

    def execute(todo: list[Submission], job: Job) -> Iterator[tuple[Submission, dict[str, Any]]]:
        answers = prepared(job, [sub.path for sub in todo])
        with ProcessPoolExecutor(max_workers=max(1, jobs), initializer=start_worker, initargs=(answers, True)) as pool:
            pending = {pool.submit(grade_one, job, sub.name, sub.path): sub for sub in todo}
            try:
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield pending.pop(future), future.result()
            finally:
                if pending:  # stopped early (Ctrl-C, or the caller's error): not one more submission
                    _stop_workers(pool)

    return execute


def _stop_workers(pool: ProcessPoolExecutor, grace_s: float = 1.0) -> None:
    """Stop a pool's workers now: SIGTERM (each unwinds the submission it grades), SIGKILL after
    grace_s for any still running."""
    # The executor has no public way to stop its workers (before Python 3.14); shutdown forgets them.
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    deadline = time.monotonic() + grace_s
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            worker.kill()
            worker.join()


def settings_of(assignment: Assignment, options: GradeOptions) -> dict[str, Any]:
    """Everything besides the submission that decides its grade: the cache key's part, and what a
    shard or a cluster worker must share with the run it belongs to."""
    return {
        "rubric": assignment.rubric.sha256,
        "fixtures": hashlib.sha256((assignment.fixtures / "manifest.json").read_bytes()).hexdigest(),
        "reference": content_hash(assignment.reference) if assignment.reference else None,
        "mode": assignment.mode,
        **options.cache_settings(),
    }


def run_batch(
    submissions: list[Submission],
    job: Job,
    settings: dict[str, Any],
    out: Path,
    execute: Execute,
    force: bool,
    progress: Progress | None = None,
    on_report: Callable[[Report], None] | None = None,
) -> tuple[list[Report], dict[str, float], int]:
    """Grade every submission not already cached; returns reports (in order), seconds each, and how
    many were graded now (the rest came from the cache)."""
    cache = out / "cache"
    reports: dict[str, Report] = {}
    seconds: dict[str, float] = {}
    todo: list[Submission] = []
    keys: dict[str, str] = {}
    for sub in submissions:
        key = keys[sub.name] = cache_key(sub.path, settings)
        entry = cache / f"{file_stem(sub.name)}.json"
        if not force and entry.is_file() and not entry.is_symlink():
            try:
                cached = json.loads(entry.read_text())
                if cached.get("key") == key:
                    reports[sub.name] = report_from_json(cached["report"])
                    seconds[sub.name] = float(cached.get("seconds", 0.0))
                    continue
            except (ValueError, KeyError, TypeError):
                pass  # a damaged cache entry is graded again
        todo.append(sub)
    if progress:
        progress.begin([sub.name for sub in todo])
    if todo:
        for sub, result in execute(todo, job):
            report = report_from_json(result["report"])
            if not report.grader_faults:  # a grader fault is not a grade: the next run tries again
                _store(
                    cache / f"{file_stem(sub.name)}.json",
                    json.dumps(
                        {"key": keys[sub.name], "seconds": result["seconds"], "report": result["report"]}
                    ).encode(),
                )
            reports[sub.name] = report
            seconds[sub.name] = result["seconds"]
            if on_report:
                on_report(report)
            if progress:
                progress.update(sub.name, f"{report.total:g}/{report.max_total:g} ({result['seconds']:.1f} s)")
    return [reports[s.name] for s in submissions], seconds, len(todo)
