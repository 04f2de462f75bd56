"""Example submissions described as edits of the reference: what a student did, as data.

A folder under tests/submissions/ holds `bug.toml` (what the student wrote
differently, which items must lose points) and `expected.json` (the golden report).
The submission itself is the reference with the listed replacements applied, so a
bug stays a few readable lines and follows the reference when it changes.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import nbformat
from conftest import ROOT

SUBMISSIONS = ROOT / "tests" / "submissions"
TEST_SEED = "seed-for-the-project-tests"
SPEEDUP = re.compile(r"(is only )[0-9.]+( times faster)")


def bug_names(assignment: str | None = None) -> list[str]:
    """Every bug folder, or those written against one assignment."""
    names = sorted(p.name for p in SUBMISSIONS.iterdir() if (p / "bug.toml").is_file())
    return [n for n in names if assignment is None or assignment_of(load_bug(n)) == assignment]


def load_bug(name: str) -> dict[str, Any]:
    return tomllib.loads((SUBMISSIONS / name / "bug.toml").read_text())


def assignment_of(spec: dict[str, Any]) -> str:
    """The assignment a bug is written against (`assignment = "..."` in bug.toml; nndl by default)."""
    return str(spec.get("assignment", "nndl"))


def apply_spec(spec: dict[str, Any], dest: Path, name: str, placeholders: dict[str, str] | None = None) -> Path:
    """The reference at dest, changed as the spec says: `replace` (each `old` exactly once), `add`
    files, `remove` files, `stub` files (the template's version), `latin1` files, `symlink`s.
    `{NAME}` placeholders in new text and link targets become the given paths."""

    def fill(text: str) -> str:
        for key, value in (placeholders or {}).items():
            text = text.replace("{" + key + "}", value)
        return text

    assignment = assignment_of(spec)
    shutil.copytree(
        ROOT / "reference" / assignment, dest, ignore=shutil.ignore_patterns("rubric.toml", "__pycache__", "instructor")
    )
    for rel in spec.get("stub", []):
        shutil.copyfile(ROOT / "student_template" / assignment / rel, dest / rel)
    for edit in spec.get("replace", []):
        path = dest / edit["file"]
        if path.suffix == ".ipynb":  # in the cells' code, as the notebook shows it, not in its JSON
            _replace_in_cells(path, edit["old"], fill(edit["new"]), name)
            continue
        text = path.read_text()
        count = text.count(edit["old"])
        if count != 1:
            raise AssertionError(f"{name}: the text to replace occurs {count} times in {edit['file']}")
        path.write_text(text.replace(edit["old"], fill(edit["new"])))
    for rel in spec.get("latin1", []):
        path = dest / rel
        path.write_bytes(path.read_text().encode("latin-1"))
    for add in spec.get("add", []):
        path = dest / add["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fill(add["text"]))
    for rel in spec.get("remove", []):
        (dest / rel).unlink()
    for link in spec.get("symlink", []):
        (dest / link["path"]).symlink_to(fill(link["target"]))
    return dest


def _replace_in_cells(path: Path, old: str, new: str, name: str) -> None:
    nb = nbformat.read(path, as_version=4)
    count = sum(cell.source.count(old) for cell in nb.cells)
    if count != 1:
        raise AssertionError(f"{name}: the text to replace occurs {count} times in the cells of {path.name}")
    for cell in nb.cells:
        cell.source = cell.source.replace(old, new)
    nbformat.write(nb, path)


def touches_notebooks(spec: dict[str, Any]) -> bool:
    """Whether a bug is in a notebook's code, so that grading it must run the notebooks."""
    return any(edit["file"].endswith(".ipynb") for edit in spec.get("replace", []))


def materialize(name: str, dest: Path) -> Path:
    """The reference with the bug's replacements applied."""
    return apply_spec(load_bug(name), dest, name)


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what legitimately varies between runs: durations, measured speed-ups
    (a timing ratio, in a message), the scratch path, the flags (they name scratch paths; the
    tests that are about flags check them) and the host's isolation."""
    out = {k: v for k, v in report.items() if k not in ("flags", "isolation")}
    out["submission"] = Path(out["submission"]).name
    out["items"] = [
        {k: (SPEEDUP.sub(r"\1N\2", v) if k == "message" else v) for k, v in i.items() if k != "duration_s"}
        for i in out["items"]
    ]
    return out


def golden_path(name: str) -> Path:
    return SUBMISSIONS / name / "expected.json"


def check_golden(path: Path, report: dict[str, Any], regen: bool) -> None:
    """Compare a report with its golden file; --regen-golden (or a missing file) writes it instead."""
    data = comparable(report)
    if regen or not path.exists():
        path.write_text(json.dumps(data, indent=2) + "\n")
        if not regen:
            raise AssertionError(f"{path} did not exist; written now, review and commit it")
        return
    assert data == json.loads(path.read_text()), f"report differs from {path} (--regen-golden rewrites it)"
