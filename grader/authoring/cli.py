"""`grade-build`: regenerate, or `--check`, the student template and fixtures of assignments.

grade-build                     rebuild every assignment under reference/
grade-build nndl --check        exit 1, naming each stale, missing or extra file
grade-build --publish public/   write each assignment's student repository (template, README,
                                workflow, public fixtures) into public/<assignment>/; nothing else
                                of the reference's, and nothing is rebuilt
grade-build new NAME            start an assignment: reference/NAME/ with one item of every check
                                kind and a test submission, built at once
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from grader import __version__, containers
from grader.authoring import fixtures, gradescope_package, publish, scaffold, student_files, template
from grader.cli import hidden_seed
from grader.engine import SetupError
from grader.gradescope import VISIBILITIES
from grader.project import COURSE_ENV, Layout, assignments, find_project_root
from grader.rubric import RubricError, load


def comparable(rel: str, data: bytes) -> bytes:
    """Manifest bytes without the numpy version, which alone does not make fixtures stale."""
    if rel != "manifest.json":
        return data
    manifest = json.loads(data)
    manifest.pop("numpy_version", None)
    return json.dumps(manifest, sort_keys=True).encode()


def _changed_sources(manifest_path: Path, fresh: bytes) -> list[str]:
    """Reference files whose hash differs from the one the fixtures were built from."""
    try:
        old = json.loads(manifest_path.read_text()).get("reference_sources", {})
    except (OSError, ValueError):
        return []
    new = json.loads(fresh).get("reference_sources", {})
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def differences(target: Path, files: dict[str, bytes]) -> list[str]:
    """What differs between a folder on disk and what the build would write there."""
    problems = []
    on_disk = (
        {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        if target.is_dir()
        else set()
    )
    for rel in sorted(files):
        path = target / rel
        if rel not in on_disk:
            problems.append(f"missing: {path}")
        elif comparable(rel, path.read_bytes()) != comparable(rel, files[rel]):
            problems.append(f"stale:   {path}")
            if rel == "manifest.json":
                problems += [f"  (reference changed: {name})" for name in _changed_sources(path, files[rel])]
    for rel in sorted(on_disk - set(files)):
        problems.append(f"extra:   {target / rel}")
    return problems


def write_tree(target: Path, files: dict[str, bytes]) -> int:
    """Make target hold exactly files; returns how many files changed."""
    changed = 0
    for rel, data in sorted(files.items()):
        path = target / rel
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        changed += 1
    if target.is_dir():
        for path in sorted(target.rglob("*"), reverse=True):
            rel = path.relative_to(target).as_posix()
            if path.is_file() and rel not in files:
                path.unlink()
                changed += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return changed


def build(layout: Layout) -> tuple[dict[str, bytes], dict[str, bytes]]:
    rubric = load(layout.reference / "rubric.toml")
    template_files = student_files.student_template(layout.reference, rubric)
    fixture_files = fixtures.render(rubric, layout.reference, template_files)
    return template_files, fixture_files


def _course_root(given: Path | None) -> Path | None:
    env = os.environ.get(COURSE_ENV)
    return given or (Path(env) if env else None) or find_project_root(Path.cwd())


def new_main(argv: list[str]) -> int:
    """`grade-build new NAME`: write a new assignment, then build its template and fixtures."""
    parser = argparse.ArgumentParser(
        prog="grade-build new",
        description="Start an assignment that builds and grades at once: reference/NAME/ (the course's files with "
        "solution regions, a commented rubric.toml with one item of every check kind, a notebook that trains and "
        "saves a model, held-out data under instructor/) and a test submission with a known bug, then build it.",
    )
    parser.add_argument("name", help="the assignment's name, also the package students write in")
    parser.add_argument(
        "--course", type=Path, help=f"the course folder (default: ${COURSE_ENV}, else found from here, else here)"
    )
    args = parser.parse_args(argv)
    root = _course_root(args.course) or Path.cwd()
    try:
        written = scaffold.write(root, args.name)
    except ValueError as exc:
        print(f"grade-build new: {exc}", file=sys.stderr)
        return 2
    layout = Layout(root, args.name)
    try:
        template_files, fixture_files = build(layout)
    except (RubricError, template.TemplateError, fixtures.BuildError) as exc:  # a fault of the grader's own files
        print(f"grade-build new: the new assignment does not build (the grader's error): {exc}", file=sys.stderr)
        return 2
    write_tree(layout.template, template_files)
    write_tree(layout.fixtures, fixture_files)
    print(f"{args.name}: {len(written)} files written under {root}, built into {layout.template} and {layout.fixtures}")
    print("Next:")
    print(f"  grade {layout.reference}   the reference in instructor mode: full marks, the manual item open")
    print(f"  grade {layout.template}   the template: nothing")
    print(f"  edit {layout.reference / 'rubric.toml'} and the code (every key is in the grader's docs/rubric.md),")
    print("  then run grade-build and commit what it writes")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["new"]:
        return new_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="grade-build", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("assignment", nargs="*", help="assignment names (default: all under reference/)")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if the template or fixtures are out of date"
    )
    parser.add_argument(
        "--course",
        "--project",
        type=Path,
        help=f"course folder holding reference/ (default: ${COURSE_ENV}, else found from here)",
    )
    parser.add_argument(
        "--publish", type=Path, metavar="DIR", help="write the public student repositories into DIR/<assignment>/"
    )
    parser.add_argument(
        "--grader-requirement",
        metavar="SPEC",
        help="what the published repositories install, e.g. 'nn-grader @ git+https://github.com/ORG/nn-grader@v0.1.0' "
        f"(default: nn-grader=={__version__})",
    )
    parser.add_argument(
        "--gradescope",
        nargs=2,
        metavar=("ASSIGNMENT", "OUT_ZIP"),
        help="write Gradescope's autograder package for one assignment (it holds the reference and the hidden seed)",
    )
    parser.add_argument(
        "--hidden-seed-file",
        type=Path,
        help="the seed the Gradescope package grades with (default: the one `grade` uses)",
    )
    parser.add_argument(
        "--visibility",
        choices=VISIBILITIES,
        default="after_published",
        help="when Gradescope shows students the results that include hidden cases (default: after_published)",
    )
    image = parser.add_argument_group("the image of grade --backend container")
    image.add_argument(
        "--image",
        action="store_true",
        help="build the image children run in with podman or docker, and nothing else: a Python with numpy, "
        "ipykernel, matplotlib and scikit-learn at this environment's versions, and the grader; nothing of the course",
    )
    image.add_argument(
        "--base", metavar="IMAGE", default=containers.BASE_IMAGE, help="what it is built on (default: %(default)s)"
    )
    image.add_argument("--tag", metavar="TAG", help="its tag (default: the one grade --backend container looks for)")
    image.add_argument(
        "--with",
        dest="extra",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="also install this package (what the course's code imports besides), at this environment's version",
    )
    image.add_argument(
        "--wheels", type=Path, metavar="DIR", help="install the packages from these wheels instead of downloading them"
    )
    args = parser.parse_args(argv)
    if args.image:
        return _image(args)

    root = _course_root(args.course)
    if root is None:
        parser.error("no reference/ folder here or above; run from the course or pass --course DIR")
    names = args.assignment or assignments(root)
    if not names:
        parser.error(f"no assignment with a rubric.toml under {root / 'reference'}")
    if args.gradescope is not None:
        return _gradescope(root, args)
    if args.publish is not None:
        return _publish(root, names, args.publish, args.grader_requirement)
    stale: list[str] = []
    for name in names:
        layout = Layout(root, name)
        if not (layout.reference / "rubric.toml").is_file():
            parser.error(f"{layout.reference / 'rubric.toml'} does not exist")
        try:
            template_files, fixture_files = build(layout)
        except (RubricError, template.TemplateError, fixtures.BuildError) as exc:
            print(f"grade-build: {name}: {exc}", file=sys.stderr)
            return 2
        if args.check:
            stale += differences(layout.template, template_files)
            stale += differences(layout.fixtures, fixture_files)
        else:
            n = write_tree(layout.template, template_files) + write_tree(layout.fixtures, fixture_files)
            print(f"{name}: {n} file(s) written to {layout.template} and {layout.fixtures}")
    if args.check:
        if stale:
            print("Template or fixtures are out of date with the reference:", file=sys.stderr)
            for line in stale:
                print(f"  {line}", file=sys.stderr)
            print("Run `grade-build` and commit the result.", file=sys.stderr)
            return 1
        print(f"up to date: {', '.join(names)}")
    return 0


def _image(args: argparse.Namespace) -> int:
    tag = args.tag or containers.default_image()
    try:
        containers.build(tag, args.base, args.wheels, args.extra)
    except containers.ContainerError as exc:
        print(f"grade-build: {exc}", file=sys.stderr)
        return 2
    print(
        f"{tag}: built on {args.base}; grade with `grade --backend container`" + (f" --image {tag}" if args.tag else "")
    )
    return 0


def _gradescope(root: Path, args: argparse.Namespace) -> int:
    name, out = args.gradescope[0], Path(args.gradescope[1])
    layout = Layout(root, name)
    if not (layout.reference / "rubric.toml").is_file():
        print(f"grade-build: {layout.reference / 'rubric.toml'} does not exist", file=sys.stderr)
        return 2
    try:
        seed = hidden_seed(args.hidden_seed_file)
        files = gradescope_package.render(layout, seed, args.visibility, args.grader_requirement)
    except (SetupError, publish.PublishError) as exc:
        print(f"grade-build: {exc}", file=sys.stderr)
        return 2
    gradescope_package.write_zip(files, out)
    print(
        f"{name}: Gradescope's autograder package in {out} ({len(files)} files). It holds the reference and the "
        "hidden seed: upload it to Gradescope only."
    )
    return 0


def _publish(root: Path, names: list[str], out: Path, requirement: str | None) -> int:
    """Every assignment's student repository, checked in full before any is written."""
    rendered = {}
    for name in names:
        try:
            rendered[name] = publish.render(Layout(root, name), requirement)
        except publish.PublishError as exc:
            print(f"grade-build: {exc}", file=sys.stderr)
            return 2
    for name, files in rendered.items():
        try:
            publish.write(files, out / name)
        except publish.PublishError as exc:
            print(f"grade-build: {exc}", file=sys.stderr)
            return 2
        print(f"{name}: {len(files)} file(s) published to {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
