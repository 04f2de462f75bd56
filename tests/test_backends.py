"""The execution seam: every child and kernel of a grading run goes through one `Backend`, so a
second backend (here, one that records every request and delegates; one that cannot start
anything) changes where code runs without a change to the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from bugs import TEST_SEED
from conftest import ROOT

from grader.backends import Backend, Policy, Session
from grader.backends.local import LocalBackend
from grader.engine import grade, load_assignment
from grader.notebooks import NotebookJob, NotebookRun
from grader.options import GradeOptions
from grader.project import Layout
from grader.results import ChildResult
from grader.sandbox import SandboxError


@dataclass
class Record:
    what: str  # "session" or "notebooks"
    root: Path
    policy: Policy
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (module or notebook, target, probe)


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


class Refusing:
    """A backend whose children cannot start (a container runtime that is not there)."""

    def session(self, root: Path, workdir: Path, policy: Policy) -> Session:
        raise SandboxError("no container runtime on this host")

    def notebooks(self, jobs: list[NotebookJob], cwd: Path, workdir: Path, policy: Policy) -> list[NotebookRun]:
        raise SandboxError("no container runtime on this host")


def test_a_recording_backend_sees_every_child_and_kernel_and_changes_no_grade() -> None:
    """mlp_lib's reference: module functions (in children, the student's and the reference's on the
    hidden cases), an object its notebook defines (probed in the notebook's kernel, the student's, then
    the reference's), a threshold measured by trusted code in a child, an answer for a person."""
    layout = Layout(ROOT, "mlp_lib")
    assignment = load_assignment(layout.fixtures, layout.reference)
    backend = Recording(LocalBackend())
    report = grade(layout.reference, assignment, GradeOptions(hidden_seed=TEST_SEED), backend=backend)
    rubric = assignment.rubric
    manual = {i.id for i in rubric.items if i.kind == "manual"}
    assert [(i.id, i.status) for i in report.items if i.status != "pass" and i.id not in manual] == []
    assert report.total == sum(i.points for i in rubric.items if i.id not in manual)

    runs = [r for r in backend.records if r.what == "notebooks"]
    children = [r for r in backend.records if r.what == "session"]
    notebook_probes = {(i.notebook, i.qualname, i.probe()) for i in rubric.code_items if i.notebook}
    assert notebook_probes and len(runs) == 2  # the student's notebooks, then the reference's on hidden cases
    assert all(set(run.requests) == notebook_probes for run in runs)
    module_probes = {(i.module, i.qualname, i.probe()) for i in rubric.module_items}
    # Two children run the module items, at once: the student's, and the reference's on the hidden cases
    # of every item but those judged only against the student's own numerical gradient.
    with_answers = {(i.module, i.qualname, i.probe()) for i in rubric.module_items if not i.self_check}
    assert with_answers < module_probes
    # Each variant of the reference an item names runs that item's hidden cases in a child of its own.
    variant_work = sorted((i.module, i.qualname, i.probe()) for i in rubric.module_items for _ in i.variants)
    assert variant_work
    of_variants = [r for r in children if len(set(r.requests)) == 1 and r.requests[0] in variant_work]
    assert sorted(r.requests[0] for r in of_variants) == variant_work
    children = [r for r in children if r not in of_variants]
    assert sorted(set(r.requests) for r in children[:2]) == sorted([module_probes, with_answers])
    thresholds = [i for i in rubric.items if i.kind == "threshold"]
    assert [probe for r in children[2:] for _, _, probe in r.requests] == ["threshold:accuracy"] * len(thresholds)
    for record in backend.records:
        assert layout.fixtures.resolve() in record.policy.hidden
        assert layout.reference.resolve() in record.policy.hidden


@pytest.mark.parametrize("notebooks", [False, True])
def test_a_backend_that_cannot_start_is_the_graders_fault(notebooks: bool) -> None:
    layout = Layout(ROOT, "nndl")
    assignment = load_assignment(layout.fixtures, layout.reference)
    options = GradeOptions(hidden_seed=TEST_SEED, notebooks=notebooks)
    report = grade(layout.reference, assignment, options, backend=Refusing())
    assert {i.status for i in report.items} == {"grader_error"}
    assert report.total == 0 and len(report.grader_faults) == len(report.items)
    assert all("no container runtime on this host" in i.message for i in report.items)
