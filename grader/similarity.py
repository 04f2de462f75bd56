"""Code similarity across a class and against known solutions: it flags pairs for a person to look
at, and never changes a score.

Only what students wrote is compared: each function the rubric grades (in modules and notebooks)
and each code cell of the notebooks, against the same function or cell (by its id) of every other
submission. A function or a cell still as the template left it is not compared; the template's own
code around a stub (signature, docstring, the lines before and after) is boilerplate; and a
fingerprint a good part of the class shares is an idiom of the assignment (`np.maximum(0, x)`), not
evidence. The fingerprints are copydetect's: the code's tokens with every name, string and comment
normalised away, hashed in k-grams, so renaming variables, rewording comments or reordering
functions changes nothing.

A pair's similarity is the share of one side's fingerprinted code that the other side also has,
summed over the functions (and cells) both wrote; a pair is flagged when that share is at least the threshold
for either side and the code in common is long enough to mean something.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from grader.fingerprints import code_cells, function_fingerprints, functions
from grader.parsing import parse
from grader.rubric import Rubric
from grader.submissions import SubmissionError, extract_zip
from grader.untrusted import read_file

if TYPE_CHECKING:
    from copydetect import CodeFingerprint

# copydetect is imported where it is used, not here: its package imports matplotlib.pyplot, half a
# second that every `grade` would pay, since the class reports import this module's result types.

# copydetect's own defaults for code of this size: 25 normalised characters make a fingerprint (about
# one statement), and every one is kept (a window of 1), since a function is short.
K = 25
WINDOW = 1
THRESHOLD = 0.75
# Below this many normalised characters in common a pair is two short functions alike, not a copy.
MIN_MATCHED = 200
# A fingerprint in more than this share of the class (and more than COMMON_AT_LEAST submissions) is an
# idiom of the assignment. A group of copiers larger than that share hides in it: measured on the
# generated classes of tests/test_similarity.py, half the class let independent pairs of a class of 200
# reach the threshold by chance, a quarter kept every independent pair 20 points under it.
COMMON_SHARE = 0.25
COMMON_AT_LEAST = 4
MAX_SOURCE_BYTES = 2 * 1024**2
MAX_NOTEBOOK_BYTES = 20 * 1024**2  # as the grader reads a notebook to run it: outputs and figures included
SOURCE_SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class Source:
    """One submission's (or one known solution's) functions, by the rubric's `file:qualname`."""

    name: str
    functions: Mapping[str, str]
    known: bool = False


@dataclass(frozen=True)
class Match:
    """One function two sources have in common: each side's code and where the common parts are."""

    function: str
    code: tuple[str, str]
    spans: tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]
    matched: int


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    known: bool  # b is a known solution, not a classmate
    shares: tuple[float, float]  # the share of a's and of b's compared code found in the other
    matched: int  # normalised characters in common
    matches: tuple[Match, ...]

    @property
    def similarity(self) -> float:
        return max(self.shares)


@dataclass(frozen=True)
class Result:
    pairs: tuple[Pair, ...]  # flagged, most similar first
    compared: int  # sources with at least one function compared
    notes: tuple[str, ...]  # what was not compared, and why ("alice: nndl/fc_net.py could not be read as code")
    threshold: float


def targets(rubric: Rubric) -> dict[str, tuple[str, str]]:
    """The functions students write: `file:qualname` -> (file, qualname)."""
    return {f"{i.source_file}:{i.qualname}": (i.source_file, i.qualname) for i in rubric.code_items if i.qualname}


def _module_functions(source: str) -> Iterator[tuple[str, str, str]]:
    """(qualname, the function as compared, its fingerprint) of each function a module defines. As
    compared: its syntax unparsed (so layout, comments, parentheses and quotes are the same for
    all), without its docstring (the template's, or prose)."""
    prints = function_fingerprints(source)
    for qual, node in functions(parse(source)):
        body = node.body
        if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            node.body = body[1:]
        yield qual, ast.unparse(node), prints[qual]


def _file_functions(data: bytes, suffix: str) -> Iterator[tuple[str, str, str]]:
    if suffix == ".ipynb":
        for _, cell in code_cells(data):
            with contextlib.suppress(SyntaxError, RecursionError, ValueError):
                yield from list(_module_functions(cell))
    else:
        yield from _module_functions(data.decode("utf-8"))


def _limit(path: Path) -> int:
    return MAX_NOTEBOOK_BYTES if path.suffix == ".ipynb" else MAX_SOURCE_BYTES


def _as_compared(source: str) -> str:
    """A notebook cell as compared: its syntax unparsed (layout and comments dropped) where it parses."""
    try:
        return ast.unparse(parse(source))
    except (SyntaxError, ValueError, RecursionError):
        return source


def notebooks(rubric: Rubric) -> tuple[str, ...]:
    """The notebooks students write in."""
    return tuple(sorted({i.notebook for i in rubric.items if i.notebook}))


def read_cells(
    folder: Path, names: Sequence[str], template: Mapping[str, str] | None
) -> tuple[dict[str, str], list[str]]:
    """The code cells of the notebooks, by `notebook#cell-id`, except those still as the `template`
    has them (all of them when there is no template to tell), and why some could not be read."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for name in names:
        if not (folder / name).exists():
            continue  # not handed in: nothing to compare, and nothing wrong with reading it
        try:
            cells = code_cells(read_file(folder / name, MAX_NOTEBOOK_BYTES))
        except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
            problems.append(f"{name} could not be read as a notebook ({type(exc).__name__})")
            continue
        for cell_id, source in cells:
            key, text = f"{name}#{cell_id}", _as_compared(source)
            if text.strip() and (template is None or template.get(key) != text):
                found[key] = text
    return found, problems


def read_functions(
    folder: Path, wanted: Mapping[str, tuple[str, str]], stubs: Mapping[str, str], anywhere: bool = False
) -> tuple[dict[str, str], list[str]]:
    """The functions of `wanted` a folder holds, except those still the template's stub (`stubs`: the
    template's fingerprint by key), and why some files could not be read. With `anywhere` (a known
    solution collected from the web), a function is found by its qualname in any file of the folder
    when its own file is absent."""
    found: dict[str, str] = {}
    problems: list[str] = []
    by_file: dict[str, dict[str, tuple[str, str]]] = {}

    def functions_of(path: Path, rel: str) -> dict[str, tuple[str, str]]:
        if rel not in by_file:
            by_file[rel] = {}
            if not path.exists():
                return by_file[rel]  # not handed in
            try:
                data = read_file(path, _limit(path))
                by_file[rel] = {q: (t, p) for q, t, p in _file_functions(data, path.suffix)}
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError, RecursionError) as exc:
                problems.append(f"{rel} could not be read as code ({type(exc).__name__})")
        return by_file[rel]

    others: list[Path] = []
    if anywhere:
        others = sorted(p for p in folder.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file())
    for key, (rel, qual) in wanted.items():
        hit = functions_of(folder / rel, rel).get(qual)
        for other in others if hit is None else ():
            hit = functions_of(other, other.relative_to(folder).as_posix()).get(qual)
            if hit is not None:
                break
        if hit is not None and hit[1] != stubs.get(key):
            found[key] = hit[0]
    return found, problems


def _fingerprint(code: str, boilerplate: Sequence[int]) -> CodeFingerprint:
    from copydetect import CodeFingerprint

    return CodeFingerprint(
        "f.py", K, WINDOW, np.array(sorted(boilerplate), dtype=np.int64), True, "python", io.StringIO(code)
    )


def compare(
    sources: Sequence[Source],
    template: Mapping[str, str],
    threshold: float = THRESHOLD,
    min_matched: int = MIN_MATCHED,
    notes: Sequence[str] = (),
) -> Result:
    """Every pair of sources that shares at least `threshold` of one side's code; `template` holds the
    template's version of each function (its code is boilerplate). Known solutions are compared with
    the class only."""
    class_size = sum(not s.known for s in sources)
    common_over = max(COMMON_AT_LEAST, math.floor(COMMON_SHARE * class_size))
    keys = sorted({k for s in sources for k in s.functions})
    # Per function: the template's fingerprints, then those too common in the class to mean anything.
    prints: dict[str, dict[int, CodeFingerprint]] = {}
    for key in keys:
        base = list(_fingerprint(template[key], []).hashes) if key in template else []
        first = {i: _fingerprint(s.functions[key], base) for i, s in enumerate(sources) if key in s.functions}
        seen = Counter(h for i, fp in first.items() if not sources[i].known for h in fp.hashes)
        common = [h for h, n in seen.items() if n > common_over]
        prints[key] = {i: _fingerprint(sources[i].functions[key], base + common) for i in first} if common else first
    # Candidate pairs: those that share at least one fingerprint of one function.
    candidates: set[tuple[int, int]] = set()
    for key in keys:
        holders: dict[int, list[int]] = defaultdict(list)
        for i, fp in prints[key].items():
            for h in fp.hashes:
                holders[h].append(i)
        for group in holders.values():
            candidates.update(
                (a, b)
                for x, a in enumerate(group)
                for b in group[x + 1 :]
                if not (sources[a].known and sources[b].known)
            )
    pairs = []
    for x, y in sorted(candidates):
        a, b = (y, x) if sources[x].known else (x, y)
        both = [(k, prints[k][a], prints[k][b]) for k in keys if a in prints[k] and b in prints[k]]
        pair = _pair(sources[a], sources[b], both, threshold, min_matched)
        if pair is not None:
            pairs.append(pair)
    pairs.sort(key=lambda p: (-p.similarity, -p.matched, p.a, p.b))
    compared = sum(1 for i in range(len(sources)) if any(i in prints[k] for k in keys))
    return Result(tuple(pairs), compared, tuple(notes), threshold)


def _spans(slices: np.ndarray) -> tuple[tuple[int, int], ...]:
    if len(slices) == 0 or len(slices[0]) == 0:
        return ()
    return tuple((int(s), int(e)) for s, e in zip(slices[0], slices[1]))


def _matched(fa: CodeFingerprint, fb: CodeFingerprint) -> tuple[int, int]:
    """Normalised characters of each side that the other side also has."""
    from copydetect.utils import find_fingerprint_overlap, get_copied_slices

    idx_a, idx_b = find_fingerprint_overlap(fa.hashes, fb.hashes, fa.hash_idx, fb.hash_idx)
    slices = get_copied_slices(idx_a, K), get_copied_slices(idx_b, K)
    a, b = (int(np.sum(s[1] - s[0])) if len(s[0]) else 0 for s in slices)
    return a, b


def _pair(
    a: Source,
    b: Source,
    common: Sequence[tuple[str, CodeFingerprint, CodeFingerprint]],
    threshold: float,
    min_matched: int,
) -> Pair | None:
    """The pair, when it is to be flagged; where the common code lies is worked out only then."""
    from copydetect import compare_files

    matched = [0, 0]
    covered = [0, 0]
    overlapping = []
    for key, fa, fb in common:
        covered[0] += int(fa.token_coverage)
        covered[1] += int(fb.token_coverage)
        ma, mb = _matched(fa, fb)
        if ma:
            matched[0] += ma
            matched[1] += mb
            overlapping.append((key, fa, fb, ma))
    shares = tuple(min(m / c, 1.0) if c else 0.0 for m, c in zip(matched, covered))
    if max(shares) < threshold or max(matched) < min_matched:
        return None
    matches = []
    for key, fa, fb, ma in overlapping:
        _, _, (sa, sb) = compare_files(fa, fb)
        matches.append(Match(key, (a.functions[key], b.functions[key]), (_spans(sa), _spans(sb)), ma))
    return Pair(a.name, b.name, b.known, (shares[0], shares[1]), max(matched), tuple(matches))


@contextlib.contextmanager
def opened(path: Path) -> Iterator[Path]:
    """A submission's folder: itself, or a .zip extracted (defensively) to a temporary folder."""
    if path.is_dir():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="grade-similarity-") as tmp:
        yield extract_zip(path, Path(tmp))


def class_sources(
    submissions: Sequence[tuple[str, Path]],
    rubric: Rubric,
    stubs: Mapping[str, str],
    against: Path | None = None,
    template_cells: Mapping[str, str] | None = None,
) -> tuple[list[Source], list[str]]:
    """The class's sources (and each known solution's, from the folders or files in `against`), and
    what could not be read, by name. A notebook's cell is left out when it is still as in
    `template_cells` (None: no template to tell)."""
    wanted = targets(rubric)
    sources: list[Source] = []
    problems: list[str] = []
    books = notebooks(rubric)
    for name, path in submissions:
        try:
            with opened(path) as folder:
                found, trouble = read_functions(folder, wanted, stubs)
                cells, unread = read_cells(folder, books, template_cells)
        except SubmissionError as exc:
            found, cells, trouble, unread = {}, {}, [str(exc)], []
        sources.append(Source(name, {**found, **cells}))
        trouble += unread
        problems += [f"{name}: {t}" for t in trouble]
    if against is not None:
        for entry in sorted(against.iterdir()):
            if entry.name.startswith(".") or not (entry.is_dir() or entry.suffix in SOURCE_SUFFIXES):
                continue
            if entry.is_dir():
                found, trouble = read_functions(entry, wanted, stubs, anywhere=True)
                cells, unread = read_cells(entry, books, template_cells)
                found, trouble = {**found, **cells}, trouble + unread
            else:
                found, trouble = _loose_file(entry, wanted, stubs)
            sources.append(Source(entry.name, found, known=True))
            problems += [f"{entry.name}: {t}" for t in trouble]
    return sources, problems


def _loose_file(
    path: Path, wanted: Mapping[str, tuple[str, str]], stubs: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """A known solution that is one file: each wanted function found in it by qualname."""
    try:
        functions_in = {q: (t, p) for q, t, p in _file_functions(read_file(path, _limit(path)), path.suffix)}
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        return {}, [f"could not be read as code ({type(exc).__name__})"]
    found = {}
    for key, (_, qual) in wanted.items():
        hit = functions_in.get(qual)
        if hit is not None and hit[1] != stubs.get(key):
            found[key] = hit[0]
    return found, []


def template_code(template: Path, rubric: Rubric) -> dict[str, str] | None:
    """The template's version of each function students write and of each notebook cell (None when
    the template is absent)."""
    if not template.is_dir():
        return None
    found, _ = read_functions(template, targets(rubric), {})
    cells, _ = read_cells(template, notebooks(rubric), None)
    return {**found, **cells}


def stubs(rubric: Rubric, manifest: Mapping[str, object]) -> dict[str, str]:
    """The template's fingerprint of each function students write, from the fixtures' manifest."""
    prints = manifest.get("template_fingerprints", {})
    assert isinstance(prints, dict)
    return {f"{i.source_file}:{i.qualname}": prints[i.id] for i in rubric.code_items if i.qualname and i.id in prints}


def run(
    submissions: Sequence[tuple[str, Path]],
    rubric: Rubric,
    manifest: Mapping[str, object],
    template: Path,
    against: Path | None = None,
    threshold: float = THRESHOLD,
    min_matched: int = MIN_MATCHED,
) -> Result:
    """The flagged pairs of a class (and of each against the known solutions in `against`)."""
    stub_prints = stubs(rubric, manifest)
    boilerplate = template_code(template, rubric)
    sources, notes = class_sources(submissions, rubric, stub_prints, against, boilerplate)
    if boilerplate is None:
        notes.insert(
            0,
            f"no template at {template}: the code it gives around each stub counts as the students' own "
            "(fingerprints most of the class shares are still left out)",
        )
    return compare(sources, boilerplate or {}, threshold, min_matched, notes)
