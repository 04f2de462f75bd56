"""The container backend (`grade --backend container`): each child and each kernel in a container of
its own, started by podman or docker from the image `grade-build --image` builds (`grader.containers`),
with no network, a read-only root and only its submission's folders mounted."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from grader import containers
from grader.backends import Policy
from grader.sandbox import ChildSession, SandboxError

if TYPE_CHECKING:
    from grader.notebooks import LaterProbes, NotebookBatch, NotebookJob, NotebookRun

# How long a child that was asked to end (its requests' pipe closed) has before it is killed.
GRACE_S = 5.0


class ContainerSession(ChildSession):
    """A child in a container: it says "ready" and "done" on the container's stdout."""

    def __init__(self, container: containers.Container, root: Path, workdir: Path, policy: Policy) -> None:
        super().__init__(root, workdir, policy.limits, dict(policy.env), policy.hidden, policy.readable)
        self.container = container
        self.name: str | None = None

    def _spawn(self, log: Path, hidden: str, write_fd: int) -> subprocess.Popen[bytes]:
        self.limit = containers.PROCESS_LIMIT
        inbox, outbox = self.exchange.inbox, self.exchange.outbox
        confinement = containers.confinement(self.limits, self.hidden, [self.root, outbox, inbox, *self.readable])
        self.name = containers.new_name()
        # The control line is the container's stdout, the child's fd 1.
        child = [containers.PYTHON, "-I", "-m", "grader.child", str(self.root), "1", str(log), hidden]
        argv = self.container.run_argv(
            [*child, confinement.encode()],
            name=self.name,
            cwd=self.root,
            writable=[self.root, outbox],
            readable=[*self.readable, inbox],
            env=self.child_env(),
            limits=self.limits,
            hidden=self.hidden,
        )
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=write_fd,
                stderr=subprocess.PIPE,
                cwd=self.root,
                env=containers.client_env(),
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start the container runtime ({argv[0]}): {exc}") from exc

    def _kill(self) -> None:
        super()._kill()
        if self.name is not None:
            self.container.remove(self.name)  # killing its client leaves the container running
            self.name = None

    def close(self) -> None:
        # A child whose requests' pipe closes ends, and its container with it: quicker than removing it.
        proc = self.proc
        if proc is not None and proc.stdin is not None and proc.poll() is None:
            try:
                proc.stdin.close()
                proc.wait(timeout=GRACE_S)
                self.name = None
            except (OSError, subprocess.TimeoutExpired):
                pass
        super().close()


class ContainerBackend:
    def __init__(self, image: str) -> None:
        self.image = image

    def _container(self, what: str) -> containers.Container:
        """The image's container, once the runtime and the image are there; raises SandboxError (the
        grader's set-up, reported before any student is graded by `engine.check_sandbox`)."""
        try:
            container = containers.Container(self.image, containers.runtime())
        except containers.ContainerError as exc:
            raise SandboxError(f"no {what} can start in a container: {exc}") from exc
        problem = container.problem()
        if problem is not None:
            raise SandboxError(f"no {what} can start in a container: {problem}")
        return container

    def session(self, root: Path, workdir: Path, policy: Policy) -> ContainerSession:
        return ContainerSession(self._container("child"), root, workdir, policy)

    def notebooks(self, jobs: list[NotebookJob], cwd: Path, workdir: Path, policy: Policy) -> list[NotebookRun]:
        from grader.notebooks import run_jobs

        return run_jobs(jobs, cwd, workdir, policy, self._container("kernel"))

    def notebooks_beside(
        self, first: NotebookBatch, second: NotebookBatch, later: LaterProbes | None
    ) -> tuple[list[NotebookRun], list[NotebookRun]]:
        from grader.notebooks import run_jobs_beside

        return run_jobs_beside(first, second, later, self._container("kernel"))

    def summary(self) -> str:
        return f"container {self.image}; the runtime's pids limit"
