"""`grade-build --publish DIR`: the course's public repository, one student repository per assignment.

`DIR/<assignment>/` is what a student's repository starts as (a GitHub Classroom starter repository):
the template, with its README, .gitignore and workflow, and the public fixtures in
`.nn-grader/fixtures/<assignment>/`, so that `pip install nn-grader==X && grade .` works in a fresh
clone. Nothing else derived from the reference is written: the fixtures must be the ones built from
the reference as it is now (their manifest says so), the rubric among them must be the public form,
and every file is searched for the reference's solution lines, inline answers and instructor-only
code before anything is written. The hidden seed is never read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat

from grader import __version__
from grader.authoring import fixtures as fixtures_build
from grader.authoring import student_files, template
from grader.project import EMBEDDED, Layout
from grader.rubric import RubricError, load

# A secret line this long is looked for inside other lines too; a shorter one only as a line of its
# own (`model.backward(dLoss)` is also part of the template's `dx = model.backward(dLoss)`).
MIN_EMBEDDED_CHARS = 24


class PublishError(ValueError):
    """What would be published is stale or holds something of the reference's; nothing was written."""


def public_fixtures(layout: Layout) -> dict[str, bytes]:
    """The assignment's fixtures, checked to be the public build of the reference as it is now."""
    fixtures, reference = layout.fixtures, layout.reference
    try:
        manifest = json.loads((fixtures / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise PublishError(f"{fixtures} has no readable manifest.json ({exc}); run `grade-build`") from exc
    on_disk = {
        p.relative_to(fixtures).as_posix(): p.read_bytes()
        for p in sorted(fixtures.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    listed = {**manifest.get("files", {}), "manifest.json": None}
    if set(on_disk) != set(listed) or any(
        fixtures_build.sha(on_disk[k]) != v for k, v in listed.items() if v is not None
    ):
        raise PublishError(f"{fixtures} is not what its manifest lists; run `grade-build`")
    sources = fixtures_build.reference_sources(reference)
    if manifest.get("reference_sources") != sources:
        changed = sorted(
            k
            for k in set(sources) | set(manifest.get("reference_sources", {}))
            if manifest.get("reference_sources", {}).get(k) != sources.get(k)
        )
        raise PublishError(
            f"the fixtures of {layout.name} are older than the reference ({', '.join(changed[:5])}); run `grade-build`"
        )
    if manifest.get("grader_version") != __version__:
        raise PublishError(
            f"the fixtures of {layout.name} were built by nn-grader {manifest.get('grader_version')}; "
            f"rebuild them with this one ({__version__})"
        )
    try:
        public = load(fixtures / "rubric.toml").public
    except RubricError as exc:
        raise PublishError(str(exc)) from exc
    if not public:
        raise PublishError(f"{fixtures}/rubric.toml is not the public form of the rubric; run `grade-build`")
    return on_disk


def _texts(rel: str, data: bytes) -> list[tuple[str, str]]:
    """(where, text) for a text file, and for each cell of a notebook; nothing for arrays."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return []  # arrays (.npz): numbers, not code
    if rel.endswith(".ipynb"):
        cells = nbformat.reads(text, as_version=4).cells
        return [(f"{rel} cell {i}", c.source) for i, c in enumerate(cells)]
    return [(rel, text)]


def leaks(files: dict[str, bytes], layout: Layout, excluded: set[str]) -> list[str]:
    """Where files hold a line of the reference's that no student may read, or a copy of an
    instructor-only file. A long secret line is found inside another line too (a string of the
    rubric, a comment), unless that line is one the template shows."""
    secrets, shown = template.reference_secrets(layout.reference, excluded)
    long = [s for s in sorted(secrets) if len(s) >= MIN_EMBEDDED_CHARS]
    found = []
    for rel, data in sorted(files.items()):
        for where, text in _texts(rel, data):
            for line in (line.strip() for line in text.splitlines()):
                hit = line if line in secrets else next((s for s in long if s in line and line not in shown), None)
                if hit is not None:
                    found.append(f"{where}: {hit[:60]!r}")
    private = {
        fixtures_build.sha(p.read_bytes()): p.relative_to(layout.reference).as_posix()
        for entry in excluded - {"rubric.toml"}
        for p in (
            [layout.reference / entry]
            if (layout.reference / entry).is_file()
            else sorted((layout.reference / entry).rglob("*"))
        )
        if p.is_file()
    }
    found += [
        f"{rel}: a copy of the instructor-only {private[fixtures_build.sha(data)]}"
        for rel, data in sorted(files.items())
        if fixtures_build.sha(data) in private
    ]
    return found


def render(layout: Layout, requirement: str | None = None) -> dict[str, bytes]:
    """Every file of the student repository of one assignment, checked; raises PublishError.
    `requirement` is what the student's pip installs (default: this grader's version on the index)."""
    try:
        rubric = load(layout.reference / "rubric.toml")
    except RubricError as exc:
        raise PublishError(str(exc)) from exc
    excluded = set(rubric.instructor_only)
    files = student_files.student_template(layout.reference, rubric) | student_files.requirement(requirement)
    files.update({f"{EMBEDDED}/fixtures/{layout.name}/{rel}": data for rel, data in public_fixtures(layout).items()})
    found = leaks(files, layout, excluded)
    if found:
        raise PublishError(
            f"{layout.name}: refusing to publish what holds the reference's own code:\n  " + "\n  ".join(found[:20])
        )
    return files


def write(files: dict[str, bytes], target: Path) -> None:
    """Make target hold exactly files, keeping a .git folder (target may be a clone of the public
    repository); refuses a non-empty folder that was not published here before."""
    if target.exists() and any(p.name != ".git" for p in target.iterdir()) and not (target / EMBEDDED).is_dir():
        raise PublishError(f"{target} holds files that grade-build did not publish; publish into an empty folder")
    if target.exists():
        for path in target.iterdir():
            if path.name == ".git":
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    for rel, data in sorted(files.items()):
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
