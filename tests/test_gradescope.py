"""Gradescope: the autograder package `grade-build --gradescope` writes, run as Gradescope runs it, in a
folder laid out like Gradescope's (/autograder/source, /autograder/submission, /autograder/results)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from bugs import TEST_SEED, apply_spec, load_bug
from conftest import ROOT
from gradescope_schema import GRADESCOPE_SCHEMA

from grader.authoring import cli as build_cli
from grader.rubric import load

BUG = "mlp_fails_reg_missing_on_W1_gradient"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gradescope")
    seed = folder / "seed"
    seed.write_text(TEST_SEED + "\n")
    out = folder / "autograder.zip"
    assert (
        build_cli.main(["--course", str(ROOT), "--gradescope", "mlp", str(out), "--hidden-seed-file", str(seed)]) == 0
    )
    return out


def _run(
    package: Path, root: Path, uploaded: Path, *, remove: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Gradescope's steps: the zip extracted into source/, run_autograder copied beside it, the
    uploaded files in submission/; the grader installed where GRADER_BIN says (here: this checkout's)."""
    with zipfile.ZipFile(package) as archive:
        archive.extractall(root / "source")
    for rel in remove:
        (root / "source" / rel).unlink()
    runner = root / "run_autograder"
    runner.write_bytes((root / "source" / "run_autograder").read_bytes())
    runner.chmod(0o755)
    (root / "submission").mkdir()
    for path in uploaded.iterdir():
        path.rename(root / "submission" / path.name)
    env = {**os.environ, "GRADESCOPE_ROOT": str(root), "GRADER_BIN": str(Path(sys.executable).parent)}
    return subprocess.run([str(runner)], cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_the_package_holds_what_the_specification_asks_for_and_builds_the_same_bytes_twice(
    package: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
    assert {"setup.sh", "run_autograder", "requirements.txt", "hidden-seed"} <= set(names)
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert "course/reference/mlp/rubric.toml" in names and "course/fixtures/mlp/manifest.json" in names
    assert "course/reference/mlp/instructor/heldout.py" in names or any(
        n.startswith("course/reference/mlp/instructor/") for n in names
    )
    with zipfile.ZipFile(package) as archive:
        archive.extractall(tmp_path / "source")
    for script in ("setup.sh", "run_autograder"):  # at least valid bash (setup.sh installs from the network)
        subprocess.run(["bash", "-n", str(tmp_path / "source" / script)], check=True)
    again = tmp_path / "again.zip"
    seed = tmp_path / "seed"
    seed.write_text(TEST_SEED + "\n")
    assert (
        build_cli.main(["--course", str(ROOT), "--gradescope", "mlp", str(again), "--hidden-seed-file", str(seed)]) == 0
    )
    assert again.read_bytes() == package.read_bytes()


def test_run_autograder_writes_a_valid_results_json_in_a_gradescope_shaped_folder(
    package: Path, tmp_path: Path
) -> None:
    """A submission uploaded as one folder, with a known bug: a results.json in Gradescope's format,
    the bug's items failed, the questions a person grades left to Gradescope, the results that
    include hidden cases kept until grades are published, and the time it took."""
    spec = load_bug(BUG)
    submission = apply_spec(spec, tmp_path / "upload" / "mlp-main", BUG)
    root = tmp_path / "autograder"
    done = _run(package, root, submission.parent)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    rubric = load(ROOT / "reference" / "mlp" / "rubric.toml")
    automatic = [i for i in rubric.items if i.kind != "manual"]
    assert len(results["tests"]) == len(automatic) < len(rubric.items)
    failed = {t["name"].split(": ")[0] for t in results["tests"] if t["status"] == "failed"}
    assert failed == set(spec["loses"])
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    assert results["score"] < sum(i.points for i in automatic)
    for test in results["tests"]:
        notebook = test["name"].startswith("notebook:")
        assert test["visibility"] == ("visible" if notebook else "after_published"), test["name"]
    assert "graded in instructor mode" in results["output"] and "shown when grades are published" in results["output"]
    assert isinstance(results["execution_time"], int) and results["execution_time"] >= 1


def test_a_grader_fault_writes_no_results_so_gradescope_shows_the_autograder_failed(
    package: Path, tmp_path: Path
) -> None:
    submission = apply_spec({"assignment": "mlp"}, tmp_path / "upload", "clean")  # the files at the top
    root = tmp_path / "autograder"
    done = _run(package, root, submission, remove=("hidden-seed",))
    assert done.returncode == 2
    assert "hidden seed file" in done.stderr and "does not exist" in done.stderr
    assert not (root / "results" / "results.json").exists()
