"""Student template = reference with every solution region replaced by its stub.

In a reference `.py` file a solution region is

    # BEGIN SOLUTION
    ...the instructor's code...
    # END SOLUTION

and becomes `pass` at the region's indentation, or the lines written inside the
region as `# STUB: <code>` when the skeleton needs something else. The `# YOUR
CODE HERE` banners, docstrings and signatures live outside the regions and so
reach students unchanged.

Notebooks get the same treatment cell by cell; in addition every outputs list is
emptied, and a markdown cell tagged `answer:<name>` (an inline question's answer)
becomes the answer placeholder.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader.answer_cells import ANSWER_PLACEHOLDER, answer_tag

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
STUB = "# STUB:"
# What running the reference leaves behind; never part of the template.
GENERATED_DIRS = {"__pycache__", ".ipynb_checkpoints", "grading_outputs", "figures"}
# Shorter lines of a solution (`pass`, `return dx`, `else:`) say nothing a template does not.
MIN_SECRET_CHARS = 12


class TemplateError(ValueError):
    """A reference file's solution markers are malformed; the message names file and line."""


def strip_solutions(source: str, name: str) -> str:
    """Replace every solution region of one Python source with its stub."""
    out: list[str] = []
    region_start: int | None = None
    indent = ""
    stub: list[str] = []
    for lineno, line in enumerate(source.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if region_start is not None:
                raise TemplateError(f"{name}:{lineno}: {BEGIN} inside the region opened at line {region_start}")
            region_start, indent, stub = lineno, line[: len(line) - len(line.lstrip())], []
        elif marker == END:
            if region_start is None:
                raise TemplateError(f"{name}:{lineno}: {END} without a {BEGIN}")
            out.extend(stub or [f"{indent}pass\n"])
            region_start = None
        elif region_start is not None:
            if marker.startswith(STUB):
                stub.append(f"{indent}{marker[len(STUB) :].strip()}\n")
        else:
            out.append(line)
    if region_start is not None:
        raise TemplateError(f"{name}:{region_start}: {BEGIN} is never closed")
    return "".join(out)


def solution_lines(source: str) -> tuple[set[str], set[str]]:
    """The stripped lines inside solution regions, and those a template shows (outside every region,
    and each stub's code). Markers are assumed well-formed: strip_solutions checks them."""
    inside: set[str] = set()
    shown: set[str] = set()
    in_region = False
    for line in source.splitlines():
        marker = line.strip()
        if marker in (BEGIN, END):
            in_region = marker == BEGIN
        elif in_region and marker.startswith(STUB):
            shown.add(marker[len(STUB) :].strip())
        else:
            (inside if in_region else shown).add(marker)
    return inside, shown


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
            for cell in nbformat.reads(text, as_version=4).cells:
                if cell.cell_type == "code":
                    secret, public = solution_lines(cell.source)
                    inside, shown = inside | secret, shown | public
                elif cell.cell_type == "markdown" and answer_tag(cell):
                    inside |= {line.strip() for line in cell.source.splitlines()}
                else:
                    shown |= {line.strip() for line in cell.source.splitlines()}
        elif path.suffix == ".py":
            secret, public = solution_lines(text)
            inside, shown = inside | secret, shown | public
    return {line for line in inside - shown if len(line) >= MIN_SECRET_CHARS}, shown


def strip_notebook(data: bytes, name: str) -> bytes:
    """The student's version of a reference notebook."""
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, f"{name} cell {index}").rstrip("\n")
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown" and answer_tag(cell):
            cell.source = ANSWER_PLACEHOLDER
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
