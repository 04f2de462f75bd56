"""Courses as data: a course folder found from --course, $GRADER_COURSE or where the submission lies;
the public form of the rubric; the public student repositories `grade-build --publish` writes, and
what a fresh clone of one grades with nothing but the grader installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from grader import __version__, cli, variants
from grader.authoring import cli as build_cli
from grader.authoring import publish
from grader.engine import load_assignment
from grader.project import EMBEDDED, Layout, assignments
from grader.rubric import load

EXAMPLE = ROOT / "examples" / "nndl_submission"
GRADE = [sys.executable, "-m", "grader.cli"]


def _grade(path: Path, *extra: str, cwd: Path, env: dict[str, str] | None = None) -> dict:
    out = cwd / "report.json"
    done = subprocess.run(
        [*GRADE, str(path), "--no-notebooks", "--quiet", "--json", str(out), *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    report: dict = json.loads(out.read_text())
    out.unlink()
    return report


def _points(report: dict) -> dict[str, float]:
    return {i["id"]: i["points"] for i in report["items"]}


@pytest.mark.parametrize("name", assignments(ROOT))
def test_the_fixtures_rubric_is_the_public_form_without_the_variants_edits(name: str) -> None:
    layout = Layout(ROOT, name)
    public = tomllib.loads((layout.fixtures / "rubric.toml").read_text())
    private = tomllib.loads((layout.reference / "rubric.toml").read_text())
    assert public["assignment"]["public"] is True
    assert all("old" not in v and "new" not in v for i in public["item"] for v in i.get("variant", []))
    # Everything else is the reference's rubric as it is.
    for item in private["item"]:
        for variant in item.get("variant", []):
            del variant["old"], variant["new"]
    assert {**public, "assignment": {**public["assignment"], "public": False}} == {
        **private,
        "assignment": {**private["assignment"], "public": False},
    }
    # Student mode reads the public copy; instructor mode the reference's own, with the edits.
    assert load_assignment(layout.fixtures, None).rubric.public
    instructor = load_assignment(layout.fixtures, layout.reference).rubric
    assert not instructor.public
    assert all(v.old and v.new for i in instructor.items for v in i.variants)


def test_a_public_rubric_cannot_run_a_variant(tmp_path: Path) -> None:
    rubric = load(Layout(ROOT, "nndl").fixtures / "rubric.toml")
    variant = next(v for i in rubric.items for v in i.variants)
    with pytest.raises(variants.VariantError, match="public copy"):
        variants.make(Layout(ROOT, "nndl").reference, variant, tmp_path / "v")


def test_fixtures_built_by_another_grader_version_are_a_clear_error(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures" / "nndl"
    shutil.copytree(Layout(ROOT, "nndl").fixtures, fixtures)
    manifest = json.loads((fixtures / "manifest.json").read_text())
    manifest["grader_version"] = "0.0.1"
    (fixtures / "manifest.json").write_text(json.dumps(manifest))
    done = subprocess.run(
        [*GRADE, str(EXAMPLE), "--fixtures", str(fixtures), "--student-mode", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert f"built by nn-grader 0.0.1, and this is nn-grader {__version__}" in done.stderr
    assert "pip install 'nn-grader==0.0.1'" in done.stderr


def _region_lines(path: Path) -> set[str]:
    """Lines between the solution markers of a reference file, read here without the grader's parser."""
    if path.suffix == ".ipynb":
        cells = nbformat.read(path, as_version=4).cells
        sources = [c.source for c in cells if c.cell_type == "code"]
        answers = {
            line.strip()
            for c in cells
            if c.cell_type == "markdown" and any(t.startswith("answer:") for t in c.metadata.get("tags", []))
            for line in c.source.splitlines()
        }
    else:
        sources, answers = [path.read_text()], set()
    inside, lines = False, set()
    for source in sources:
        for line in source.splitlines():
            if line.strip() in ("# BEGIN SOLUTION", "# END SOLUTION"):
                inside = line.strip() == "# BEGIN SOLUTION"
            elif inside and not line.strip().startswith("# STUB:"):
                lines.add(line.strip())
    return lines | answers


def _lines(rel: str, content: str) -> set[str]:
    if rel.endswith(".ipynb"):
        return {line.strip() for c in nbformat.reads(content, as_version=4).cells for line in c.source.splitlines()}
    return {line.strip() for line in content.splitlines()}


def _published_text(folder: Path) -> dict[str, str]:
    found = {}
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix != ".npz":
            found[path.relative_to(folder).as_posix()] = path.read_text()
    return found


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("public")
    assert build_cli.main(["--course", str(ROOT), "--publish", str(out)]) == 0
    return out


def test_publish_writes_no_solution_no_answer_no_instructor_file_and_no_seed(
    published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sorted(p.name for p in published.iterdir()) == assignments(ROOT)
    for name in assignments(ROOT):
        layout = Layout(ROOT, name)
        rubric = tomllib.loads((layout.reference / "rubric.toml").read_text())
        text = _published_text(published / name)
        secret = set()
        for path in layout.reference.rglob("*"):
            if path.suffix in (".py", ".ipynb") and "__pycache__" not in path.parts:
                secret |= {line for line in _region_lines(path) if len(line) >= 12}
        # A line the template shows anyway (a region repeating the skeleton's code) is no secret.
        secret -= {line for rel, t in _published_text(layout.template).items() for line in _lines(rel, t)}
        assert secret, name  # the check below can fail
        for rel, content in text.items():
            lines = _lines(rel, content)
            assert not lines & secret, (name, rel, sorted(lines & secret)[:3])
            for item in rubric["item"]:
                for variant in item.get("variant", []):
                    if variant["old"].strip() not in (layout.template / variant["file"]).read_text():
                        assert variant["old"].strip() not in content, (name, rel, variant["name"])
        instructor = {p.read_bytes() for p in (layout.reference / "instructor").rglob("*") if p.is_file()}
        assert instructor, name
        assert not instructor & {p.read_bytes() for p in (published / name).rglob("*") if p.is_file()}
        assert not (published / name / "rubric.toml").exists()
        assert load(published / name / EMBEDDED / "fixtures" / name / "rubric.toml").public
        assert {".gitignore", "README.md", "grade.toml"} <= {p.name for p in (published / name).iterdir()}
    # The hidden seed is never read, so it cannot be written: publishing with one set changes nothing.
    seed = tmp_path / "seed"
    seed.write_text("a-secret-seed-that-must-stay-private\n")
    monkeypatch.setenv("GRADER_HIDDEN_SEED_FILE", str(seed))
    again = tmp_path / "again"
    assert build_cli.main(["--course", str(ROOT), "--publish", str(again), "nndl"]) == 0
    assert _published_text(again / "nndl") == _published_text(published / "nndl")
    assert not any("a-secret-seed" in t for t in _published_text(again).values())


def test_publish_refuses_a_solution_line_and_stale_fixtures(tmp_path: Path) -> None:
    layout = Layout(ROOT, "nndl")
    secret = max(publish.template.reference_secrets(layout.reference, {"instructor"})[0], key=len)
    files = {"notes.md": f"a hint that gives it away:\n    {secret}\n".encode(), "a.toml": f"old = <{secret}>".encode()}
    assert publish.leaks(files, layout, {"instructor"}) == [f"a.toml: {secret[:60]!r}", f"notes.md: {secret[:60]!r}"]
    held_out = next(p for p in (layout.reference / "instructor").rglob("*.py"))
    assert publish.leaks({"data.py": held_out.read_bytes()}, layout, {"instructor"})

    course = tmp_path / "course"
    for part in ("reference", "fixtures"):
        shutil.copytree(ROOT / part / "nndl", course / part / "nndl")
    with (course / "reference" / "nndl" / "nndl" / "layers.py").open("a") as f:
        f.write("\n# changed after the last build\n")
    done = subprocess.run(
        [sys.executable, "-m", "grader.authoring.cli", "--course", str(course), "--publish", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "the fixtures of nndl are older than the reference (nndl/layers.py); run `grade-build`" in done.stderr
    assert not (tmp_path / "out").exists()


def test_publish_keeps_a_clone_s_git_folder_and_refuses_a_folder_it_did_not_write(
    published: Path, tmp_path: Path
) -> None:
    target = tmp_path / "nndl"
    shutil.copytree(published / "nndl", target)
    (target / ".git").mkdir()
    (target / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (target / "stale.py").write_text("")
    publish.write(publish.render(Layout(ROOT, "nndl")), target)
    assert (target / ".git" / "HEAD").is_file() and not (target / "stale.py").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("")
    with pytest.raises(publish.PublishError, match="did not publish"):
        publish.write({}, other)
    assert (other / "thesis.tex").is_file()


def test_a_fresh_clone_of_the_published_template_grades_with_the_course_found_as_a_student_or_ta_would(
    published: Path, tmp_path: Path
) -> None:
    """Student mode from the clone's own public fixtures, instructor mode with --course or
    $GRADER_COURSE, each with the scores the checkout's own course gives."""
    origin = tmp_path / "origin"
    shutil.copytree(published / "nndl", origin)
    git = ["git", "-c", "user.name=Course Staff", "-c", "user.email=staff@example.edu"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(origin)], check=True)
    subprocess.run([*git, "-C", str(origin), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(origin), "commit", "-q", "-m", "starter"], check=True)
    clone = tmp_path / "alice"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    for folder in ("nndl",):  # the student's work: the example's code in the clone
        shutil.rmtree(clone / folder)
        shutil.copytree(EXAMPLE / folder, clone / folder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    as_student = _grade(clone, cwd=clone)
    expected_student = _grade(EXAMPLE, "--student-mode", cwd=elsewhere)
    assert as_student["mode"] == "student"
    assert _points(as_student) == _points(expected_student)
    assert as_student["total"] < as_student["max_total"]  # the example's bugs still cost points

    expected_instructor = _grade(EXAMPLE, cwd=elsewhere)
    assert expected_instructor["mode"] == "instructor"
    with_course = _grade(clone, "--course", str(ROOT), cwd=elsewhere)
    from_env = _grade(clone, cwd=elsewhere, env={**os.environ, "GRADER_COURSE": str(ROOT)})
    for report in (with_course, from_env):
        assert report["mode"] == "instructor"
        assert _points(report) == _points(expected_instructor)


def test_a_reference_inside_a_submission_is_never_the_course(tmp_path: Path) -> None:
    """A student who adds reference/ and fixtures/ to their repository gets no say in how it is graded:
    the course is looked for above the submission, never in it."""
    alice = tmp_path / "alice"
    shutil.copytree(EXAMPLE, alice)
    fake = alice / "reference" / "nndl"
    shutil.copytree(Layout(ROOT, "nndl").reference, fake)
    (fake / "rubric.toml").write_text((fake / "rubric.toml").read_text().replace("points = 2", "points = 0"))
    shutil.copytree(Layout(ROOT, "nndl").fixtures, alice / "fixtures" / "nndl")
    report = _grade(alice, cwd=tmp_path)
    assert report["mode"] == "instructor" and report["max_total"] == 58  # the installed checkout's course
    assert cli.main([str(alice), "--course", str(tmp_path / "nowhere"), "--quiet"]) == 2


@pytest.mark.parametrize("name", assignments(ROOT))
def test_the_template_tells_students_how_to_check_and_ignores_what_grade_writes(name: str, tmp_path: Path) -> None:
    template = Layout(ROOT, name).template
    readme = (template / "README.md").read_text()
    assert "pip install -r .nn-grader/requirements.txt" in readme and ".venv/bin/grade ." in readme
    assert (template / EMBEDDED / "requirements.txt").read_text() == f"nn-grader=={__version__}\n"
    assert "student mode" in readme and "instructor mode" in readme
    repo = tmp_path / "repo"
    shutil.copytree(template, repo)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    written = ["figures/x.png", "grading_outputs/best_net.npz", "grade-output/gradebook.csv", "report.json"]
    ignored = subprocess.run(
        ["git", "-C", str(repo), "check-ignore", *written], capture_output=True, text=True, check=False
    )
    assert ignored.stdout.split() == written
    assert "README.md" not in ignored.stdout and "grade.toml" not in ignored.stdout


def test_a_course_can_pin_a_grader_from_elsewhere(published: Path) -> None:
    spec = "nn-grader @ git+https://github.com/example-course/nn-grader@v0.1.0"
    files = publish.render(Layout(ROOT, "nndl"), spec)
    assert files[f"{EMBEDDED}/requirements.txt"] == f"{spec}\n".encode()
    default = (published / "nndl" / EMBEDDED / "requirements.txt").read_text()
    assert default == f"nn-grader=={__version__}\n"
    workflow = files[".github/workflows/grade.yml"].decode()
    assert f"pip install -r {EMBEDDED}/requirements.txt" in workflow
    assert f"cache-dependency-path: {EMBEDDED}/requirements.txt" in workflow
