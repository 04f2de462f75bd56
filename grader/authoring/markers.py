"""Solution markers: the dialects a reference may mark its solutions in, and what each leaves to students.

Courses come with solutions marked for another tool, so `grade-build` reads the common dialects:

- this project's: `# BEGIN SOLUTION` ... `# END SOLUTION` becomes `pass` at the marker's indentation,
  or the region's `# STUB: <code>` lines when the skeleton needs something else;
- nbgrader's: `### BEGIN SOLUTION` ... `### END SOLUTION` (two or more `#`) becomes `# YOUR CODE HERE`
  and `raise NotImplementedError()`, `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` is removed, and
  so is the whole of a cell nbgrader's metadata marks as a solution when it holds no region;
- otter's: `# BEGIN SOLUTION NO PROMPT` regions leave nothing, `x = 2  # SOLUTION` becomes `x = ...`
  and any other statement ending in `# SOLUTION` becomes `...`; lines ending in `# SOLUTION NO PROMPT`
  are removed, and the `# BEGIN PROMPT` / `# END PROMPT` lines around a prompt are dropped.

A marker of none of these (`# <SOLUTION>`, `# START ANSWER`) would reach students with the solution
under it, so a comment that reads like one is refused, as is a template that no longer parses where
the reference did. What a region leaves is data (`STUBS`), kept apart from the reading.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

from grader.parsing import parse

# What a region leaves, by the marker that opens it.
STUBS = {
    "this project": ("pass",),
    "nbgrader": ("# YOUR CODE HERE", "raise NotImplementedError()"),
    "otter, no prompt": (),
    "hidden tests": (),
}
NBGRADER_TEXT_STUB = "YOUR ANSWER HERE"
STUB = "# STUB:"
KNOWN = (
    "`# BEGIN SOLUTION`/`# END SOLUTION` with `# STUB:` lines (this project's), "
    "`### BEGIN SOLUTION`/`### END SOLUTION` and `### BEGIN HIDDEN TESTS`/`### END HIDDEN TESTS` (nbgrader's), "
    "`# BEGIN SOLUTION NO PROMPT`, `# SOLUTION`, `# SOLUTION NO PROMPT`, `# BEGIN PROMPT`/`# END PROMPT` (otter's)"
)

_REGION = re.compile(
    r"^(?P<indent>\s*)(?P<hashes>#+)\s*(?P<edge>BEGIN|END)\s+(?P<what>SOLUTION|HIDDEN TESTS)"
    r"(?P<no_prompt>\s+NO PROMPT)?\s*#*\s*$"
)
_DROPPED_LINE = re.compile(r"#\s*(SOLUTION NO PROMPT|BEGIN PROMPT|END PROMPT)\s*$")
_SOLUTION_LINE = re.compile(r"^(?P<indent>\s*)(?P<code>[^#\s].*?)\s*#\s*SOLUTION\s*$")
# An assignment's target (`x =`, `self.W[0] =`, `a, b =`), not a comparison or a keyword argument's `=`.
_ASSIGNMENT = re.compile(r"^(?P<target>[\w.\[\], ]+?)\s*(?P<op>[-+*/@%]?=)(?!=)")
# A comment that reads like a solution marker of no known dialect: a begin/end word beside
# solution/answer/hidden, or a lone SOLUTION/ANSWER.
_LOOKS_LIKE_A_MARKER = re.compile(
    r"^\W*(?:(?:begin|end|start|stop)s?\W+(?:of\W+)?(?:the\W+)?(?:solution|answer|hidden)"
    r"|(?:solution|answer)s?\W+(?:begin|end|start|stop)s?"
    r"|solution|answer)\b\W*$",
    re.IGNORECASE,
)


class MarkerError(ValueError):
    """A reference file's solution markers are malformed or unknown; the message names file and line."""


@dataclass(frozen=True)
class Stripped:
    """A source with its solutions taken out, and the stripped lines it no longer holds."""

    text: str
    removed: frozenset[str]


def _dialect(hashes: str, what: str, no_prompt: bool) -> str:
    if what == "HIDDEN TESTS":
        return "hidden tests"
    if no_prompt:
        return "otter, no prompt"
    return "this project" if len(hashes) == 1 else "nbgrader"


def _solution_line(match: re.Match[str]) -> str:
    """What otter leaves of a statement ending in `# SOLUTION`."""
    code, indent = match["code"], match["indent"]
    assignment = _ASSIGNMENT.match(code)
    if assignment and assignment["op"] == "=":
        return f"{indent}{assignment['target'].rstrip()} = ...\n"
    return f"{indent}...\n"


def strip(source: str, name: str) -> Stripped:
    """Every solution of one Python source replaced as its dialect says; raises MarkerError naming the
    line of a malformed region or of a comment that looks like a marker of no known dialect."""
    out: list[str] = []
    removed: set[str] = set()
    kept: set[int] = set()
    opened: tuple[int, str, str, str] | None = None  # line, what, dialect, the marker as written
    indent = ""
    stub: list[str] = []
    for lineno, line in enumerate(source.splitlines(keepends=True), start=1):
        region = _REGION.match(line)
        if region and region["edge"] == "BEGIN":
            if opened is not None:
                raise MarkerError(f"{name}:{lineno}: {line.strip()} inside the region opened at line {opened[0]}")
            dialect = _dialect(region["hashes"], region["what"], bool(region["no_prompt"]))
            opened, indent, stub = (lineno, region["what"], dialect, line.strip()), region["indent"], []
        elif region:
            if opened is None or opened[1] != region["what"]:
                raise MarkerError(
                    f"{name}:{lineno}: {line.strip()} without a {region['hashes']} BEGIN {region['what']} before it"
                )
            out.extend(stub or [f"{indent}{code}\n" for code in STUBS[opened[2]]])
            opened = None
        elif opened is not None:
            if line.strip().startswith(STUB):
                stub.append(f"{indent}{line.strip()[len(STUB) :].strip()}\n")
            else:
                removed.add(line.strip())
        elif dropped := _DROPPED_LINE.search(line):
            if dropped[1] == "SOLUTION NO PROMPT":
                removed.add(line.strip())
        elif solution := _SOLUTION_LINE.match(line):
            out.append(_solution_line(solution))
            removed.add(line.strip())
        else:
            out.append(line)
            kept.add(lineno)
    if opened is not None:
        raise MarkerError(f"{name}:{opened[0]}: {opened[3]} is never closed")
    _refuse_unknown_markers(source, kept, name)
    return Stripped("".join(out), frozenset(line for line in removed if line))


def _comments(text: str) -> list[tuple[int, str]]:
    """Each comment of a source with its line; the whole-line ones only where it does not tokenize."""
    try:
        return [
            (token.start[0], token.string)
            for token in tokenize.generate_tokens(io.StringIO(text).readline)
            if token.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError):
        return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.lstrip().startswith("#")]


def _refuse_unknown_markers(source: str, kept: set[int], name: str) -> None:
    """Raise MarkerError at the first comment students would get that reads like a solution marker."""
    for lineno, comment in _comments(source):
        if lineno in kept and _LOOKS_LIKE_A_MARKER.match(comment.lstrip("#").strip()):
            raise MarkerError(
                f"{name}:{lineno}: {comment!r} looks like a solution marker that grade-build does not know, and what "
                f"it marks would reach students. Mark solutions with one of: {KNOWN}."
            )


def text_regions(source: str, name: str) -> Stripped:
    """A Markdown cell's nbgrader regions (`BEGIN SOLUTION` ... `END SOLUTION` on lines of their own, as
    comments or headings) replaced by nbgrader's text stub; raises MarkerError for one never closed."""
    out: list[str] = []
    removed: set[str] = set()
    opened = 0
    for lineno, line in enumerate(source.splitlines(keepends=True), start=1):
        if "BEGIN SOLUTION" in line:
            opened = lineno
            out.append(f"{NBGRADER_TEXT_STUB}\n")
        elif "END SOLUTION" in line:
            opened = 0
        elif opened:
            removed.add(line.strip())
        else:
            out.append(line)
    if opened:
        raise MarkerError(f"{name}:{opened}: BEGIN SOLUTION is never closed")
    return Stripped("".join(out), frozenset(line for line in removed if line))


def still_parses(reference: str, template: str, name: str) -> None:
    """Raise MarkerError when the template of a source no longer parses as Python where the reference
    did: a region whose stub does not fit where it stands (an emptied body, an unclosed bracket)."""
    try:
        parse(reference)
    except SyntaxError:
        return  # not Python the grader reads (a cell of shell lines); students get it as it is
    try:
        parse(template)
    except SyntaxError as exc:
        raise MarkerError(
            f"{name}: the template would not parse ({exc.msg}, at its line {exc.lineno}) although the reference does: "
            "a solution region leaves nothing where Python needs a statement; add a `# STUB: <code>` line inside it"
        ) from None
