"""How a submission is graded, beyond what it is graded against: one value that travels from the
command line to every batch worker, and from which the cache key's options are derived."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class GradeOptions:
    hidden_seed: str | None = None  # instructor mode's secret seed; None in student mode
    timeout_override: float | None = None  # seconds per case, instead of each item's own
    dataset: str | None = None  # one of the rubric's data sets; None: its first
    data_dir: Path | None = None  # where that data set's files are, readable by the children
    notebooks: bool = True  # False: module items only (the notebooks' items are left out)
    # Paths no child may see besides the fixtures and the reference (the hidden seed's folder).
    secrets: tuple[Path, ...] = ()
    # The ids of the items to report (`--only`, resolved by `grader.selection`); () for all of them.
    only: tuple[str, ...] = ()
    # `--backend container`: the image every child and kernel runs in (`grader.containers`); None:
    # they run as processes of this machine, at its isolation level.
    image: str | None = None

    def cache_settings(self) -> dict[str, Any]:
        """Every option that can change a grade, for the cache key; the seed only as its hash, and
        not the secrets' paths (hiding them changes nothing a correct grade depends on)."""
        settings: dict[str, Any] = {
            "seed": hashlib.sha256(self.hidden_seed.encode()).hexdigest() if self.hidden_seed else None,
            "timeout": self.timeout_override,
            "dataset": self.dataset,
            "data_dir": str(self.data_dir.resolve()) if self.data_dir is not None else None,
            "notebooks": self.notebooks,
        }
        if self.only:  # a key only when given: a whole grade's key is the one it always was
            settings["only"] = list(self.only)
        if self.image is not None:  # another numpy may round otherwise
            settings["image"] = self.image
        return settings
