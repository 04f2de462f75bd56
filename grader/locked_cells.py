"""Locked notebook cells: the course's own cells (its tests, the training run, the line that saves a
model for grading) that students may read but not change.

The instructor locks a cell in the reference notebook with the tag `locked` (or nbgrader's
`"nbgrader": {"locked": true}` metadata). `grade-build` keeps the template's version of every locked
cell in the fixtures (`locked/<notebook>.json`, by the cell's id, which Jupyter keeps stable); before a
submission's notebooks run, each is put back as the course wrote it, found by its id, or inserted at
its place when the student deleted it. The cells it had to put back are a flag in the report.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import nbformat

from grader import untrusted
from grader.notebooks import MAX_NOTEBOOK_BYTES  # larger, the run itself refuses it
from grader.parsing import parse

TAG = "locked"
FOLDER = "locked"


def is_locked(cell: Any) -> bool:
    metadata = cell.get("metadata", {})
    return TAG in metadata.get("tags", []) or bool(metadata.get("nbgrader", {}).get("locked", False))


def locked_cells(data: bytes, name: str) -> list[dict[str, Any]]:
    """The locked cells of a notebook (its template's version), each with its id, type, source and
    index; raises ValueError for a locked cell without an id."""
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    found = []
    for index, cell in enumerate(nb.cells):
        if not is_locked(cell):
            continue
        if not cell.get("id"):
            raise ValueError(
                f"{name} cell {index} is locked but has no id: save the notebook with Jupyter (notebook format "
                "4.5 or later gives every cell a stable id)"
            )
        found.append({"id": cell["id"], "index": index, "cell_type": cell.cell_type, "source": cell.source})
    return found


def fixture_files(template_files: dict[str, bytes]) -> dict[str, bytes]:
    """`locked/<notebook>.json` for every template notebook with a locked cell."""
    files = {}
    for rel, data in sorted(template_files.items()):
        if rel.endswith(".ipynb") and (cells := locked_cells(data, rel)):
            files[f"{FOLDER}/{rel}.json"] = (json.dumps({"cells": cells}, indent=1, sort_keys=True) + "\n").encode()
    return files


def _cell(locked: dict[str, Any]) -> Any:
    """A new cell as the course wrote it, with its id."""
    if locked["cell_type"] == "code":
        cell = nbformat.v4.new_code_cell(locked["source"])
    else:
        cell = nbformat.v4.new_markdown_cell(locked["source"])
    cell["id"] = locked["id"]
    return cell


def restore(scratch: Path, locked_root: Path) -> list[str]:
    """Put back every locked cell of the scratch copy's notebooks; returns the cells that had been
    edited or deleted ("train.ipynb: cell-2 (edited)"). A notebook that is missing or does not read is
    left as it is: its run reports why."""
    changed: list[str] = []
    if not locked_root.is_dir():
        return changed
    for record in sorted(locked_root.rglob("*.ipynb.json")):
        rel = record.relative_to(locked_root).as_posix()[: -len(".json")]
        path = scratch / rel
        if not untrusted.is_regular_file(path):
            continue
        try:  # the student's file, read as every untrusted notebook is: bounded, any fault caught
            nb = nbformat.reads(untrusted.read_file(path, MAX_NOTEBOOK_BYTES).decode("utf-8"), as_version=4)
        except Exception:  # noqa: BLE001 - nbformat raises many kinds (and RecursionError) for a corrupt file
            continue
        here = []
        for locked in json.loads(record.read_text(encoding="utf-8"))["cells"]:
            index = next((i for i, c in enumerate(nb.cells) if c.get("id") == locked["id"]), None)
            if index is None:
                nb.cells.insert(min(locked["index"], len(nb.cells)), _cell(locked))
                here.append(f"{rel}: {locked['id']} (deleted)")
            elif (nb.cells[index].cell_type, nb.cells[index].source) != (locked["cell_type"], locked["source"]):
                nb.cells[index] = _cell(locked)
                here.append(f"{rel}: {locked['id']} (edited)")
        if here:
            # Plain JSON: nbformat's writer validates, and a notebook it read but would not write must
            # not keep the cells it changed.
            path.write_text(json.dumps(nb), encoding="utf-8")
            changed += here
    return changed


def assigns(source: str, variable: str) -> bool:
    """Whether the cell's code binds `variable` at the notebook's top level."""
    try:
        tree = parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    except SyntaxError:
        return False
    return any(
        isinstance(node, ast.Name) and node.id == variable and isinstance(node.ctx, ast.Store)
        for statement in tree.body
        for node in ast.walk(statement)
        if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
    )


def recorded(locked_root: Path, notebook: str) -> list[dict[str, Any]]:
    """The locked cells the fixtures keep for a notebook (none when it has no record)."""
    record = locked_root / f"{notebook}.json"
    return json.loads(record.read_text(encoding="utf-8"))["cells"] if record.is_file() else []


def assigning_cell(cells: list[dict[str, Any]], variable: str) -> dict[str, Any] | None:
    """The last of the locked cells that is code and assigns `variable`."""
    found = [c for c in cells if c["cell_type"] == "code" and assigns(c["source"], variable)]
    return found[-1] if found else None
