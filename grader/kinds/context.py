"""What a notebook kind is given to score its items (the parent's side only)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.results import ChildResult


@dataclass(frozen=True)
class TrustedCall:
    """One request to trusted code (the reference, or the course's provided files)."""

    module: str
    qualname: str
    probe: str
    params: dict[str, Any]
    inputs: dict[str, Any]


@dataclass(frozen=True)
class NotebookContext:
    """What a notebook kind may read to score its items: nothing that runs student code."""

    runs: Mapping[str, Any]  # notebook name -> notebooks.NotebookRun
    original: Path  # the submission as handed in
    scratch: Path  # the copy the notebooks ran in, with what they saved
    dataset: str
    mode: str  # a results.Mode
    # Runs calls to trusted code in a child of its own, in order.
    run_trusted: Callable[[list[TrustedCall]], list[ChildResult]] = field(repr=False)

    @property
    def instructor(self) -> bool:
        return self.mode == "instructor"
