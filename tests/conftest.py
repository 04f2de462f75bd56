"""Shared paths and helpers for the project's own tests."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.engine import ReferenceAnswers

ROOT = Path(__file__).resolve().parent.parent
CS231N = ROOT / "benchmarks" / "cs231n_style"
# The suite grades its own fixtures in instructor mode on hosts with and without bubblewrap; the
# refusal to grade unisolated is tested on its own (tests/test_isolation.py).
os.environ.setdefault("GRADER_ALLOW_UNISOLATED", "1")


@contextlib.contextmanager
def submission_on_path(root: Path, *top_level: str) -> Iterator[None]:
    """Import a submission's packages in-process for reference-only tests.

    The reference and the template both define `nndl` and `utils`; clearing them
    from sys.modules on the way in and out keeps one test's import from leaking
    into another's.
    """

    def _forget() -> None:
        for name in list(sys.modules):
            if name.split(".")[0] in top_level:
                del sys.modules[name]

    _forget()
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path.remove(str(root))
        _forget()


@pytest.fixture
def reference_nndl() -> Iterator[Path]:
    root = ROOT / "reference" / "nndl"
    with submission_on_path(root, "nndl", "utils"):
        yield root


@pytest.fixture(scope="session")
def shared_answers() -> ReferenceAnswers:
    """The reference's hidden answers, kept between the tests that grade many submissions in this
    process, as the command line keeps them between the paths it grades."""
    return ReferenceAnswers()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        help="rewrite the golden report files from the current grader instead of comparing",
    )


def cs231n_submissions() -> Any:
    """The CS231n-style class's generator (benchmarks/cs231n_style/make_submissions.py)."""
    spec = importlib.util.spec_from_file_location("make_submissions", CS231N / "make_submissions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def processes_mentioning(text: str) -> list[str]:
    """The command lines of this host's processes that name text (a test's own temporary folder)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if text in line:
                found.append(line)
    return found


def ctrl_c(proc: subprocess.Popen[str], scratch: Path) -> tuple[float, str]:
    """Ctrl-C to a `grade` started in a session of its own, while its children work in scratch (as a
    terminal sends it, to the whole foreground process group): how long it took to end, its stderr."""
    assert processes_mentioning(str(scratch)), "no child was grading when Ctrl-C came"
    os.killpg(proc.pid, signal.SIGINT)
    sent = time.monotonic()
    _, err = proc.communicate(timeout=30)
    return time.monotonic() - sent, err
