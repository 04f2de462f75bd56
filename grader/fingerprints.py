"""Fingerprints of functions: how the grader tells "not attempted" from "attempted and wrong".

`grade-build` records the template's fingerprints in the fixtures' manifest; the grader computes
a submission's and compares. Both sides import this module, so grading never imports the
authoring tool.
"""

from __future__ import annotations

import ast
import hashlib

import nbformat

from grader.parsing import parse

# A template's fingerprint for an object it does not define at all: a notebook cell nbgrader marks as a
# solution, which the template replaces whole by its stub. A submission that still does not define it
# has not attempted it.
ABSENT = "absent"


def functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function of a module, nested ones and methods included, with its qualname."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((prefix + child.name, child))
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")

    visit(tree, "")
    return found


def function_fingerprints(source: str) -> dict[str, str]:
    """sha256 of each function's syntax tree, by qualname, ignoring comments and layout."""
    return {
        qual: hashlib.sha256(ast.dump(node, include_attributes=False).encode()).hexdigest()
        for qual, node in functions(parse(source))
    }


def code_cells(data: bytes) -> list[tuple[str, str]]:
    """(id, source) of each code cell of a notebook, its magics and shell lines left out; a cell of a
    notebook older than cell ids is known by its place among the code cells."""
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    return [
        (
            str(cell.get("id") or f"code-cell-{n}"),
            "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))),
        )
        for n, cell in enumerate(code)
    ]


def notebook_fingerprints(data: bytes) -> dict[str, str]:
    """Function fingerprints of every code cell of a notebook; magics and shell lines ignored."""
    found: dict[str, str] = {}
    for _, source in code_cells(data):
        try:
            found.update(function_fingerprints(source))
        except SyntaxError:
            continue
    return found
