"""The local backend: children and kernels as processes of this machine, at the isolation level
`grader.isolation.level()` picks (bubblewrap, a user of their own, namespaces, or none)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from grader import isolation
from grader.backends import Policy
from grader.sandbox import ChildSession

if TYPE_CHECKING:
    from grader.notebooks import LaterProbes, NotebookBatch, NotebookJob, NotebookRun


class LocalBackend:
    def session(self, root: Path, workdir: Path, policy: Policy) -> ChildSession:
        return ChildSession(root, workdir, policy.limits, dict(policy.env), policy.hidden, policy.readable)

    def notebooks(self, jobs: list[NotebookJob], cwd: Path, workdir: Path, policy: Policy) -> list[NotebookRun]:
        from grader.notebooks import run_jobs

        return run_jobs(jobs, cwd, workdir, policy)

    def notebooks_beside(
        self, first: NotebookBatch, second: NotebookBatch, later: LaterProbes | None
    ) -> tuple[list[NotebookRun], list[NotebookRun]]:
        from grader.notebooks import run_jobs_beside

        return run_jobs_beside(first, second, later)

    def summary(self) -> str:
        return isolation.summary()
