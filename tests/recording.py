"""A backend that records every request the engine makes and lets the local backend do it, and the
references graded through it once per test session: the tests of the whole-assignment grading and
those of the execution seam read the same run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bugs import TEST_SEED
from conftest import ROOT

from grader.backends import Backend, Policy, Session
from grader.backends.local import LocalBackend
from grader.engine import Assignment, grade, load_assignment
from grader.notebooks import LaterProbes, NotebookBatch, NotebookJob, NotebookRun, ProbeWork
from grader.options import GradeOptions
from grader.project import Layout
from grader.results import ChildResult, Report


@dataclass
class Record:
    what: str  # "session" or "notebooks"
    root: Path
    policy: Policy
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (module or notebook, target, probe)
    beside: bool = False  # notebooks run at the same time as the other batch of the pair


class RecordingSession:
    def __init__(self, inner: Session, record: Record) -> None:
        self.inner, self.record = inner, record

    def start(self) -> None:
        self.inner.start()

    def run(
        self, module: str, qualname: str, probe: str, params: dict[str, Any], inputs: Any, timeout_s: float
    ) -> ChildResult:
        self.record.requests.append((module, qualname, probe))
        return self.inner.run(module, qualname, probe, params, inputs, timeout_s)

    def __enter__(self) -> Self:
        self.inner.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.inner.__exit__(kind, value, traceback)


class Recording:
    """Records what the engine asks for, and lets another backend do it."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.records: list[Record] = []

    def session(self, root: Path, workdir: Path, policy: Policy) -> Session:
        record = Record("session", root, policy)
        self.records.append(record)
        return RecordingSession(self.inner.session(root, workdir, policy), record)

    def notebooks(self, jobs: list[NotebookJob], cwd: Path, workdir: Path, policy: Policy) -> list[NotebookRun]:
        record = Record("notebooks", cwd, policy)
        record.requests = [(job.path.name, w.item.qualname, w.item.probe()) for job in jobs for w in job.probes]
        self.records.append(record)
        return self.inner.notebooks(jobs, cwd, workdir, policy)

    def notebooks_beside(
        self, first: NotebookBatch, second: NotebookBatch, later: LaterProbes | None
    ) -> tuple[list[NotebookRun], list[NotebookRun]]:
        mine = Record("notebooks", first.cwd, first.policy, beside=True)
        mine.requests = [(job.path.name, w.item.qualname, w.item.probe()) for job in first.jobs for w in job.probes]
        theirs = Record("notebooks", second.cwd, second.policy, beside=True)
        theirs.requests = [(job.path.name, w.item.qualname, w.item.probe()) for job in second.jobs for w in job.probes]
        self.records += [mine, theirs]
        if later is None:
            return self.inner.notebooks_beside(first, second, None)

        def recorded_later(runs: list[NotebookRun]) -> Mapping[str, list[ProbeWork]]:
            work = later(runs)
            theirs.requests = [(name, w.item.qualname, w.item.probe()) for name, ws in work.items() for w in ws]
            return work

        return self.inner.notebooks_beside(first, second, recorded_later)

    def summary(self) -> str:
        return self.inner.summary()


@cache
def loaded(name: str, mode: str) -> Assignment:
    layout = Layout(ROOT, name)
    return load_assignment(layout.fixtures, layout.reference if mode == "instructor" else None)


@cache
def graded_reference(name: str, mode: str) -> tuple[Report, tuple[Record, ...]]:
    """An assignment's reference graded in a mode, through a recording backend: the report and what
    the engine asked the backend for."""
    backend = Recording(LocalBackend())
    report = grade(
        Layout(ROOT, name).reference, loaded(name, mode), GradeOptions(hidden_seed=TEST_SEED), backend=backend
    )
    return report, tuple(backend.records)
