"""The execution seam: every child and kernel of a grading run goes through one `Backend`, so a
second backend (here, one that records every request and delegates; one that cannot start
anything) changes where code runs without a change to the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from bugs import TEST_SEED
from conftest import ROOT
from recording import graded_reference, loaded

from grader import kernels
from grader.backends import Policy, Session
from grader.engine import grade, load_assignment
from grader.notebooks import LaterProbes, NotebookBatch, NotebookJob, NotebookRun
from grader.options import GradeOptions
from grader.project import Layout
from grader.sandbox import SandboxError


class Refusing:
    """A backend whose children cannot start (a container runtime that is not there)."""

    def session(self, root: Path, workdir: Path, policy: Policy) -> Session:
        raise SandboxError("no container runtime on this host")

    def notebooks(self, jobs: list[NotebookJob], cwd: Path, workdir: Path, policy: Policy) -> list[NotebookRun]:
        raise SandboxError("no container runtime on this host")

    def notebooks_beside(
        self, first: NotebookBatch, second: NotebookBatch, later: LaterProbes | None
    ) -> tuple[list[NotebookRun], list[NotebookRun]]:
        raise SandboxError("no container runtime on this host")

    def summary(self) -> str:
        return "nowhere"


def test_a_recording_backend_sees_every_child_and_kernel_and_changes_no_grade() -> None:
    """mlp_lib's reference: module functions (in children, the student's and the reference's on the
    hidden cases), an object its notebook defines (probed in the notebook's kernel, the student's, then
    the reference's), a threshold measured by trusted code in a child, an answer for a person."""
    layout = Layout(ROOT, "mlp_lib")
    assignment = loaded("mlp_lib", "instructor")
    report, records = graded_reference("mlp_lib", "instructor")  # the run test_assignments also reads
    rubric = assignment.rubric
    manual = {i.id for i in rubric.items if i.kind == "manual"}
    assert [(i.id, i.status) for i in report.items if i.status != "pass" and i.id not in manual] == []
    assert report.total == sum(i.points for i in rubric.items if i.id not in manual)

    runs = [r for r in records if r.what == "notebooks"]
    children = [r for r in records if r.what == "session"]
    notebook_probes = {(i.notebook, i.qualname, i.probe()) for i in rubric.code_items if i.notebook}
    # The student's notebooks, and at the same time (a one-off grade) the reference's on the hidden cases.
    assert notebook_probes and len(runs) == 2 and all(run.beside for run in runs)
    assert all(set(run.requests) == notebook_probes for run in runs)
    assert runs[0].root.name == kernels.SCRATCH and runs[1].root.name == "reference"
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
    for record in records:
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
