"""Scratch copies of submissions: the child works on a copy, never on the original."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from grader.project import EMBEDDED

# ".home" is where the grader points the child's HOME: one handed in could hold IPython start-up
# files that a kernel would run before the grader's own set-up.
SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".venv", "node_modules", ".home", EMBEDDED}
MAX_FILE_BYTES = 50 * 1024**2
MAX_TOTAL_BYTES = 200 * 1024**2
# Where the provided helper's save_for_grading writes in the scratch copy: only what the notebooks
# save while they are graded counts, so the folder is emptied before they run.
SAVED_DIR = "grading_outputs"


class ScratchError(ValueError):
    """The submission cannot be copied (too large, unreadable)."""


def copy_submission(src: Path, dst: Path) -> list[str]:
    """Copy regular files only; links are skipped and reported, so nothing outside the submission is read.
    The whole is measured before anything is copied: one over the limit raises ScratchError."""
    skipped: list[str] = []
    folders: list[str] = []
    files: list[str] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        here = Path(dirpath)
        rel_dir = here.relative_to(src)
        kept = []
        for d in sorted(dirnames):
            if d in SKIP_DIRS:
                continue
            if (here / d).is_symlink():
                skipped.append((rel_dir / d).as_posix())
                continue
            kept.append(d)
        dirnames[:] = kept
        folders.append(rel_dir.as_posix())
        for name in sorted(filenames):
            path = here / name
            rel = (rel_dir / name).as_posix()
            if path.is_symlink() or not path.is_file():
                skipped.append(rel)
                continue
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                skipped.append(rel)
                continue
            total += size
            if total > MAX_TOTAL_BYTES:
                raise ScratchError(f"the submission is larger than {MAX_TOTAL_BYTES // 1024**2} MB")
            files.append(rel)
    dst.mkdir(parents=True, exist_ok=True)
    for rel in folders:
        (dst / rel).mkdir(parents=True, exist_ok=True)
    for rel in files:
        shutil.copyfile(src / rel, dst / rel)
    return skipped


def restore_provided(scratch: Path, provided: Path) -> list[str]:
    """Put back the course's own copy of every provided file; returns those the student had changed
    (a missing provided file is restored without comment).

    A submission cannot change how it is graded by editing utils/solver.py or
    utils/gradient_check.py: grading always runs with the originals.
    """
    changed: list[str] = []
    if not provided.is_dir():
        return changed
    for path in sorted(provided.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(provided)
        target = scratch / rel
        original = path.read_bytes()
        if target.is_symlink() or not target.is_file() or target.read_bytes() != original:
            if target.exists() or target.is_symlink():
                changed.append(rel.as_posix())
            if target.is_symlink() or target.is_dir():
                shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(original)
    return changed
