"""Student template = reference with every solution replaced as its markers say (`markers`).

In a reference `.py` file a solution region is

    # BEGIN SOLUTION
    ...the instructor's code...
    # END SOLUTION

and becomes `pass` at the region's indentation, or the lines written inside the
region as `# STUB: <code>` when the skeleton needs something else; nbgrader's and
otter's markers are read too. The `# YOUR CODE HERE` banners, docstrings and
signatures live outside the regions and so reach students unchanged.

Notebooks get the same treatment cell by cell; in addition every outputs list is
emptied, and a markdown cell tagged `answer:<name>` (an inline question's answer)
becomes the answer placeholder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from grader.answer_cells import ANSWER_PLACEHOLDER, answer_tag
from grader.authoring import markers
from grader.authoring.markers import Stripped
from grader.fingerprints import function_fingerprints, notebook_fingerprints

if TYPE_CHECKING:
    from grader.rubric import Rubric

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
STUB = markers.STUB
# A reference's markers are malformed or unknown, or its template would hand out a solution.
TemplateError = markers.MarkerError
# What running the reference leaves behind; never part of the template.
GENERATED_DIRS = {"__pycache__", ".ipynb_checkpoints", "grading_outputs", "figures"}
# Shorter lines of a solution (`pass`, `return dx`, `else:`) say nothing a template does not.
MIN_SECRET_CHARS = 12


def strip_solutions(source: str, name: str) -> str:
    """Replace every solution of one Python source as its markers say."""
    stripped = markers.strip(source, name)
    markers.still_parses(source, stripped.text, name)
    return stripped.text


def solution_lines(source: str) -> tuple[set[str], set[str]]:
    """The stripped lines a template of this source no longer holds, and those it shows (every line
    outside the regions, and each stub's code)."""
    stripped = markers.strip(source, "")
    return set(stripped.removed), {line.strip() for line in stripped.text.splitlines()}


def _nbgrader_solution_cell(cell: Any) -> bool:
    """A cell nbgrader's metadata marks as the student's to write."""
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))


def _magics_commented(source: str) -> str:
    """A cell's source as Python: IPython's `%magic` and `!shell` lines become comments, in place."""
    return "\n".join(f"# {line}" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def template_cell(cell: Any, name: str) -> Stripped:
    """What students get of one notebook cell's source, and the lines it no longer holds."""
    source = cell.source
    if cell.cell_type == "code":
        stripped = markers.strip(source, name)
        if _nbgrader_solution_cell(cell) and stripped.text == source:  # nbgrader's cell without a region
            lines = frozenset(line.strip() for line in source.splitlines() if line.strip())
            return Stripped("\n".join(markers.STUBS["nbgrader"]), lines)
        markers.still_parses(_magics_commented(source), _magics_commented(stripped.text), name)
        return Stripped(stripped.text.rstrip("\n"), stripped.removed)
    if cell.cell_type == "markdown" and answer_tag(cell):
        return Stripped(ANSWER_PLACEHOLDER, frozenset(line.strip() for line in source.splitlines() if line.strip()))
    if cell.cell_type == "markdown" and _nbgrader_solution_cell(cell) and "BEGIN SOLUTION" not in source:
        lines = frozenset(line.strip() for line in source.splitlines() if line.strip())
        return Stripped(markers.NBGRADER_TEXT_STUB, lines)
    if cell.cell_type == "markdown":
        return markers.text_regions(source, name)
    return Stripped(source, frozenset())


def reference_secrets(reference_root: Path, excluded: set[str]) -> tuple[set[str], set[str]]:
    """Lines no student may read, and the lines a template shows (stripped). Secret are the lines of
    the reference's solution regions and inline answers that occur nowhere a template shows, and every
    line of its instructor-only code (held-out data), longer than a trivial statement (`pass`,
    `return out`). The rubric is not one: its public form is published, and the variants' edits it
    leaves out are lines of solution regions."""
    inside: set[str] = set()
    shown: set[str] = set()
    for path in sorted(reference_root.rglob("*")):
        rel = path.relative_to(reference_root).as_posix()
        if not path.is_file() or GENERATED_DIRS & set(path.parts) or path.suffix not in (".py", ".ipynb"):
            continue
        text = path.read_text(encoding="utf-8")
        if rel == "rubric.toml":
            continue
        if rel in excluded or any(rel.startswith(e.rstrip("/") + "/") for e in excluded):
            inside |= {line.strip() for line in text.splitlines()}
        elif path.suffix == ".ipynb":
            for index, cell in enumerate(nbformat.reads(text, as_version=4).cells):
                stripped = template_cell(cell, f"{rel} cell {index}")
                inside |= stripped.removed
                shown |= {line.strip() for line in stripped.text.splitlines()}
        elif path.suffix == ".py":
            secret, public = solution_lines(text)
            inside, shown = inside | secret, shown | public
    return {line for line in inside - shown if len(line) >= MIN_SECRET_CHARS}, shown


def strip_notebook(data: bytes, name: str) -> bytes:
    """The student's version of a reference notebook."""
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    for index, cell in enumerate(nb.cells):
        cell.source = template_cell(cell, f"{name} cell {index}").text
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return (str(nbformat.writes(nb)) + "\n").encode("utf-8")


def render(reference_root: Path, excluded: set[str]) -> dict[str, bytes]:
    """Every template file as relative path -> bytes."""
    files: dict[str, bytes] = {}
    for path in sorted(reference_root.rglob("*")):
        rel = path.relative_to(reference_root).as_posix()
        if not path.is_file() or GENERATED_DIRS & set(path.parts) or path.suffix == ".pyc":
            continue
        if rel in excluded or any(rel.startswith(e.rstrip("/") + "/") for e in excluded):
            continue
        data = path.read_bytes()
        if path.suffix == ".py":
            data = strip_solutions(data.decode("utf-8"), rel).encode("utf-8")
        elif path.suffix == ".ipynb":
            data = strip_notebook(data, rel)
        files[rel] = data
    return files


def _objects(rel: str, data: bytes) -> dict[str, str]:
    """Fingerprints of a file's functions and methods, by qualname ({} where it does not parse)."""
    try:
        return notebook_fingerprints(data) if rel.endswith(".ipynb") else function_fingerprints(data.decode("utf-8"))
    except (SyntaxError, ValueError, UnicodeDecodeError):
        return {}


def leaked_objects(rubric: Rubric, reference_root: Path, files: dict[str, bytes]) -> list[str]:
    """The graded functions and classes whose template is the reference's own code: every function
    in them the same syntax tree as the reference's. Each one names the file and the object; a
    solution a template hands out is found here, before any student sees it."""
    leaks: dict[tuple[str, str], str] = {}
    for item in rubric.code_items:
        rel, qualname = item.source_file, item.qualname
        if rel not in files or not (reference_root / rel).is_file() or (rel, qualname) in leaks:
            continue
        reference = {
            q: fp
            for q, fp in _objects(rel, (reference_root / rel).read_bytes()).items()
            if q == qualname or q.startswith(qualname + ".")
        }
        given = _objects(rel, files[rel])
        if reference and all(given.get(q) == fp for q, fp in reference.items()):
            leaks[(rel, qualname)] = (
                f"{rel}: {qualname} (graded by {item.id}) is the reference's code in the template: no solution "
                f"region in it was recognised. Mark its solution with one of: {markers.KNOWN}."
            )
    return list(leaks.values())
