"""Execution backends: where and how a submission's code runs.

The engine never starts a process itself. It asks a `Backend` for a `Session` (one
child serving probe requests on a scratch copy of a submission) or for notebook runs
(each notebook in a kernel of its own, with the probes of the objects it defines),
always under a `Policy`: the limits, the paths no child may see, the paths it may
read, its environment. Whatever a backend returns is untrusted data, read through
`grader.sandbox.Exchange`; a backend that cannot start a child raises
`grader.sandbox.SandboxError`, which the engine reports as its own fault.

`LocalBackend` (`local.py`) runs children as processes of this machine, at the
isolation level `grader.isolation.level()` picks; `ContainerBackend` (`container.py`) runs each
in a container of its own. `of(options)` is the one the options ask for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from grader.results import ChildResult
from grader.sandbox import Limits

if TYPE_CHECKING:
    from grader.notebooks import LaterProbes, NotebookBatch, NotebookJob, NotebookRun
    from grader.options import GradeOptions


@dataclass(frozen=True)
class Policy:
    """What a submission's children may see and spend. Network access is never given: every level
    but `none` runs children without a network (see `grader.isolation`)."""

    limits: Limits = field(default_factory=Limits)
    env: Mapping[str, str] = field(default_factory=dict)  # beyond the scrubbed environment (a data set's name)
    hidden: tuple[Path, ...] = ()  # no child may read these (fixtures, reference, secrets, other students)
    readable: tuple[Path, ...] = ()  # a child may read these besides its own copy (a data folder)


class Session(Protocol):
    """One child serving probe requests, in order, on a scratch copy of a submission."""

    def start(self) -> None:
        """Start the child now (otherwise the first request does); raises SandboxError."""

    def run(
        self, module: str, qualname: str, probe: str, params: dict[str, Any], inputs: Any, timeout_s: float
    ) -> ChildResult:
        """One probe request; the student's failures come back as the result's status."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None: ...


class Backend(Protocol):
    """Where a submission's code runs."""

    def session(self, root: Path, workdir: Path, policy: Policy) -> Session:
        """A child rooted at `root` (a scratch copy it may write), exchanging requests in `workdir`."""
        ...

    def notebooks(self, jobs: list[NotebookJob], cwd: Path, workdir: Path, policy: Policy) -> list[NotebookRun]:
        """Each notebook job in a kernel of its own, in order, with its probes; never raises for
        anything a notebook does."""
        ...

    def notebooks_beside(
        self, first: NotebookBatch, second: NotebookBatch, later: LaterProbes | None
    ) -> tuple[list[NotebookRun], list[NotebookRun]]:
        """Both batches as `notebooks` runs each, at the same time. With `later`, the second's probes
        are drawn by it from the first's runs and served once both batches' cells have run; without,
        each batch serves its jobs' own probes."""
        ...

    def summary(self) -> str:
        """A few words for each report: how the children were isolated and their processes capped."""
        ...


def default() -> Backend:
    from grader.backends.local import LocalBackend

    return LocalBackend()


def of(options: GradeOptions) -> Backend:
    """The backend `options` ask for: containers of `options.image`, or this machine's processes. A
    container backend with no runtime or image here raises SandboxError when it is first asked for a
    child or kernel (the canary, `engine.check_sandbox`)."""
    if options.image is None:
        return default()
    from grader.backends.container import ContainerBackend

    return ContainerBackend(options.image)


__all__ = ["Backend", "Policy", "Session", "default", "of"]
