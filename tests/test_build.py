"""The instructor's build: template and fixtures regenerate deterministically and `--check` catches drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from grader import codec
from grader.authoring import cli, template
from grader.cases import public_cases
from grader.compare import compare_init, compare_value
from grader.kinds.model import SEEDS_SUFFIX, SPREAD_PARTS
from grader.project import Layout, assignments
from grader.rubric import load
from grader.runner import run_cases


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    for folder in ("reference", "student_template", "fixtures"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


@pytest.fixture(scope="module")
def fresh_build() -> dict[str, tuple[dict[str, bytes], dict[str, bytes]]]:
    """Every assignment's template and fixtures as a build from the committed references gives them,
    made once for the tests that compare them with what is committed."""
    return {name: cli.build(Layout(ROOT, name)) for name in assignments(ROOT)}


def test_committed_template_and_fixtures_are_up_to_date(fresh_build: dict) -> None:
    for name, (template_files, fixture_files) in fresh_build.items():
        layout = Layout(ROOT, name)
        stale = cli.differences(layout.template, template_files) + cli.differences(layout.fixtures, fixture_files)
        assert stale == [], f"{name}: run `grade-build` and commit the result"


def test_rebuild_from_scratch_is_byte_identical(fresh_build: dict, tmp_path: Path) -> None:
    """A build written into empty folders gives, byte for byte, the committed build, which another
    process made earlier (the numpy version in the manifests aside)."""
    for name, (template_files, fixture_files) in fresh_build.items():
        layout = Layout(ROOT, name)
        for built, committed in ((template_files, layout.template), (fixture_files, layout.fixtures)):
            target = tmp_path / committed.parent.name / name
            assert cli.write_tree(target, built) == len(built)
            after = {p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*") if p.is_file()}
            before = {
                p.relative_to(committed).as_posix(): p.read_bytes()
                for p in committed.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts
            }
            assert after.keys() == before.keys(), name
            for rel, data in after.items():
                assert cli.comparable(Path(rel).name, data) == cli.comparable(Path(rel).name, before[rel]), rel
            assert cli.write_tree(target, built) == 0  # a second run changes no byte


def test_check_names_the_stale_file_after_a_one_character_solution_change(
    project_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layers = project_copy / "reference" / "nndl" / "nndl" / "layers.py"
    source = layers.read_text()
    line = "    margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)\n"
    assert source.count(line) == 1
    layers.write_text(source.replace(line, line.replace("1.0", "2.0")))
    assert cli.main(["--project", str(project_copy), "--check", "nndl"]) == 1
    err = capsys.readouterr().err
    assert "fixtures/nndl/items/nndl.layers__svm_loss.expected.npz" in err
    assert "fixtures/nndl/manifest.json" in err
    assert "(reference changed: nndl/layers.py)" in err


def test_check_names_a_stale_template_file(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    optim = project_copy / "reference" / "nndl" / "nndl" / "optim.py"
    optim.write_text(optim.read_text().replace("Performs vanilla", "Performs plain"))
    assert cli.main(["--project", str(project_copy), "--check", "nndl"]) == 1
    assert "student_template/nndl/nndl/optim.py" in capsys.readouterr().err


def test_check_reports_missing_and_extra_files(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project_copy / "fixtures" / "nndl" / "rubric.toml").unlink()
    (project_copy / "student_template" / "nndl" / "solution_notes.txt").write_text("x")
    assert cli.main(["--project", str(project_copy), "--check", "nndl"]) == 1
    err = capsys.readouterr().err
    assert "missing: " in err and "fixtures/nndl/rubric.toml" in err
    assert "extra:   " in err and "solution_notes.txt" in err


def test_build_refuses_fixtures_when_the_reference_fails_its_gradient_checks(
    project_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layers = project_copy / "reference" / "nndl" / "nndl" / "layers.py"
    source = layers.read_text()
    layers.write_text(source.replace("    dx = dout * (x > 0)\n", "    dx = dout * (x >= 0) * 1.01\n"))
    fixtures_before = sorted((project_copy / "fixtures").rglob("*"))
    assert cli.main(["--project", str(project_copy), "nndl"]) == 2
    err = capsys.readouterr().err
    assert "nndl.layers:relu_backward case 0: dx is off" in err
    assert "no fixtures written" in err
    assert sorted((project_copy / "fixtures").rglob("*")) == fixtures_before


@pytest.mark.parametrize("name", assignments(ROOT))
def test_instructor_only_files_never_reach_the_template(name: str) -> None:
    layout = Layout(ROOT, name)
    assert not (layout.template / "rubric.toml").exists()
    for path in layout.template.rglob("*.py"):
        text = path.read_text()
        assert template.BEGIN not in text and template.END not in text, path


@pytest.mark.parametrize(
    "source, message",
    [
        ("x = 1\n# BEGIN SOLUTION\n", "t.py:2: # BEGIN SOLUTION is never closed"),
        ("# END SOLUTION\n", "t.py:1: # END SOLUTION without a # BEGIN SOLUTION"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n", "t.py:2: # BEGIN SOLUTION inside the region opened at line 1"),
    ],
)
def test_malformed_solution_markers_are_named(source: str, message: str) -> None:
    with pytest.raises(template.TemplateError, match=message):
        template.strip_solutions(source, "t.py")


def test_stub_lines_replace_a_region() -> None:
    source = "def f():\n    # BEGIN SOLUTION\n    # STUB: raise NotImplementedError\n    return 1\n    # END SOLUTION\n"
    assert template.strip_solutions(source, "t.py") == "def f():\n    raise NotImplementedError\n"


@pytest.mark.parametrize("name", assignments(ROOT))
def test_every_student_item_in_the_template_is_a_stub(name: str) -> None:
    """Every public case against the untouched template: no module item gets a single part right,
    and every such item's function is recorded as the template's, so the grader can say "not attempted"."""
    layout = Layout(ROOT, name)
    rubric = load(layout.reference / "rubric.toml")
    manifest = json.loads((layout.fixtures / "manifest.json").read_text())
    module_items = [item for item in rubric.code_items if not item.notebook]
    assert {item.id for item in module_items} <= set(manifest["template_fingerprints"])
    work = [(item, public_cases(rubric.name, item)) for item in module_items]
    results, _ = run_cases(layout.template, work, submission_timeout_s=120)
    for item in module_items:
        expected = codec.load(layout.fixtures / "items" / f"{item.slug}.expected.npz")["cases"]
        for part in item.parts:
            matches = []
            for result, want in zip(results[item.id], expected):
                if result.status != "ok":
                    matches.append(False)
                    continue
                got = result.outputs["returned"].get(part)
                check = compare_init if item.params.get("probe") == "init" else compare_value
                matches.append(check(part, got, want[part], item.tolerance[part]) is None)
            assert not all(matches), f"the template already earns {item.id} {part}"


@pytest.mark.parametrize("name", assignments(ROOT))
def test_fixture_inputs_and_expected_outputs_are_separate_files(name: str) -> None:
    layout = Layout(ROOT, name)
    rubric = load(layout.reference / "rubric.toml")
    for item in rubric.code_items:
        inputs = codec.load(layout.fixtures / "items" / f"{item.slug}.inputs.npz")
        expected = codec.load(layout.fixtures / "items" / f"{item.slug}.expected.npz")
        assert len(inputs["cases"]) == len(expected["cases"]) == len(item.cases)
        # Beside each part, for training judged by the spread of the reference's runs, those runs.
        spread = {p + SEEDS_SUFFIX for p in SPREAD_PARTS if p in item.parts and item.params.get("seeds", 1) > 1}
        for case in expected["cases"]:
            assert set(case) == set(item.parts) | spread, item.id


def test_runtime_code_never_imports_the_authoring_tool() -> None:
    """Grading needs only `grader/` minus `grader/authoring/`: a course can grade without the tool
    that built its fixtures, and the tool can change without touching a grade."""
    import ast

    importers = []
    for path in sorted((ROOT / "grader").rglob("*.py")):
        if "authoring" in path.relative_to(ROOT / "grader").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "grader.authoring" or n.startswith("grader.authoring.") for n in names):
                importers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert importers == []
