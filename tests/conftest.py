"""Shared paths and helpers for the project's own tests."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.engine import ReferenceAnswers

ROOT = Path(__file__).resolve().parent.parent
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
