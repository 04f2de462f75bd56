"""Similarity: a planted copy among independent submissions is found, no independent pair is flagged,
the template's code is never evidence, and the report shows the pair's functions side by side, inert."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from class_outputs import without_timing
from conftest import ROOT
from similarity_class import TEMPLATE, plant_copy, write_class

from grader import cli, similarity, similarity_report
from grader.project import Layout
from grader.rubric import load

CS260 = Layout(ROOT, "cs260")
NNDL = Layout(ROOT, "nndl")


def _run(layout: Layout, folder: Path, against: Path | None = None, **kw: float) -> similarity.Result:
    subs = [(p.stem, p) for p in sorted(folder.iterdir())]
    manifest = json.loads((layout.fixtures / "manifest.json").read_text())
    return similarity.run(subs, load(layout.fixtures / "rubric.toml"), manifest, layout.template, against, **kw)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 cs260 submissions written independently, and student21: student05's code disguised."""
    root = tmp_path_factory.mktemp("similarity") / "class"
    write_class(root, 20, seed=7)
    plant_copy(root / "student05", root / "student21", seed=3)
    return root


def test_a_renamed_reordered_copy_is_the_one_pair_flagged_among_20_independent_submissions(planted: Path) -> None:
    result = _run(CS260, planted)
    assert result.compared == 21
    assert [(p.a, p.b) for p in result.pairs] == [("student05", "student21")]
    pair = result.pairs[0]
    assert pair.shares[0] > 0.95 and pair.shares[1] > 0.95
    # Renaming, rewording and reordering hid nothing: the longest functions, where a copy shows beyond
    # the idioms the whole class writes alike, are all matched.
    longest = {
        "cs260/classifiers/softmax.py:softmax_loss_naive",
        "cs260/classifiers/softmax.py:softmax_loss_vectorized",
    }
    longest |= {"cs260/layers.py:softmax_loss", "cs260/layers.py:affine_backward"}
    assert longest <= {m.function for m in pair.matches}
    # The independent pairs stay well under the threshold, so the margin is not luck of one draw.
    everything = _run(CS260, planted, threshold=0.01, min_matched=0)
    independent = [p.similarity for p in everything.pairs if {p.a, p.b} != {"student05", "student21"}]
    assert len(independent) > 100
    assert max(independent) < similarity.THRESHOLD - 0.05


def test_other_draws_of_the_class_flag_only_their_copy(tmp_path: Path) -> None:
    for seed in (1, 2, 3):
        root = tmp_path / f"class{seed}"
        write_class(root, 20, seed=seed)
        plant_copy(root / "student11", root / "student99", seed=seed)
        assert [(p.a, p.b) for p in _run(CS260, root).pairs] == [("student11", "student99")]
        everything = _run(CS260, root, threshold=0.01, min_matched=0)
        independent = [p.similarity for p in everything.pairs if {p.a, p.b} != {"student11", "student99"}]
        assert max(independent) < similarity.THRESHOLD - 0.05


def test_two_real_independent_solutions_are_not_flagged(tmp_path: Path) -> None:
    """The instructor's nndl and the student code the seeds print: written apart, for one course."""
    (tmp_path / "class").mkdir()
    shutil.copytree(NNDL.reference, tmp_path / "class" / "instructor")
    student = tmp_path / "class" / "student"
    shutil.copytree(NNDL.template, student)
    shutil.copytree(ROOT / "tests" / "seed_students" / "nndl", student / "nndl", dirs_exist_ok=True)
    result = _run(NNDL, tmp_path / "class", threshold=0.01, min_matched=0)
    assert result.compared == 2
    (pair,) = result.pairs
    assert pair.similarity < similarity.THRESHOLD - 0.1


def test_the_template_and_stubs_are_never_evidence(tmp_path: Path) -> None:
    """Untouched templates share all their code: nothing of it is compared, so nothing is flagged."""
    for name in ("a", "b", "c"):
        shutil.copytree(TEMPLATE, tmp_path / name)
    result = _run(CS260, tmp_path)
    assert result.pairs == ()
    assert result.compared == 0


def test_a_known_solution_is_found_in_any_file_and_zipped_submissions_are_read(planted: Path, tmp_path: Path) -> None:
    """A known solution collected from the web lays its files out its own way; a class may hand in zips."""
    known = tmp_path / "known"
    (known / "github-user").mkdir(parents=True)
    for rel in ("cs260/layers.py", "cs260/classifiers/softmax.py"):
        target = known / "github-user" / "assignment2" / Path(rel).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(planted / "student08" / rel, target)
    shutil.copyfile(planted / "student13" / "cs260" / "layers.py", known / "layers_solution.py")
    folder = tmp_path / "zipped"
    folder.mkdir()
    for name in ("student08", "student13", "student02"):
        with zipfile.ZipFile(folder / f"{name}.zip", "w") as zf:
            for p in sorted((planted / name).rglob("*")):
                if p.is_file():
                    zf.write(p, f"{name}/{p.relative_to(planted / name).as_posix()}")
    result = _run(CS260, folder, against=known)
    flagged = {(p.a, p.b, p.known) for p in result.pairs}
    assert flagged == {("student08", "github-user", True), ("student13", "layers_solution.py", True)}
    # Compared over the functions both hold: those of the two files the known solution has.
    by = {p.a: p for p in result.pairs}
    assert min(by["student08"].shares) > 0.95
    assert {m.function.split(":")[0] for m in by["student08"].matches} == {
        "cs260/layers.py",
        "cs260/classifiers/softmax.py",
    }


def test_unreadable_code_is_said_and_skipped(planted: Path, tmp_path: Path) -> None:
    folder = tmp_path / "class"
    for name in ("student01", "student02", "student03"):
        shutil.copytree(planted / name, folder / name)
    (folder / "student02" / "cs260" / "layers.py").write_text("def affine_forward(x, w, b:\n")
    (folder / "student03" / "cs260" / "layers.py").write_bytes(b"\xff\xfe not utf-8")
    (folder / "broken.zip").write_bytes(b"not a zip")
    (folder / "student01" / "softmax.ipynb").unlink()  # not handed in: nothing to say
    (folder / "student01" / "two_layer_net.ipynb").write_text("{ not json")
    result = _run(CS260, folder)
    assert result.compared == 3
    assert [n for n in result.notes if n.startswith("student01")] == [
        "student01: two_layer_net.ipynb could not be read as a notebook (NotJSONError)"
    ]
    assert any(n.startswith("student02: cs260/layers.py could not be read") for n in result.notes)
    assert any(n.startswith("student03: cs260/layers.py could not be read") for n in result.notes)
    assert any(n.startswith("broken: broken.zip is not a readable zip") for n in result.notes)


def test_the_page_and_the_csv_keep_what_students_wrote_inert(planted: Path, tmp_path: Path) -> None:
    folder = tmp_path / "class"
    evil = "=HYPERLINK(1)<img src=x onerror=alert(1)>"
    shutil.copytree(planted / "student05", folder / evil)
    shutil.copytree(planted / "student21", folder / "student21")
    layers = folder / evil / "cs260" / "layers.py"
    layers.write_text(layers.read_text().replace("out = None", "out = '</pre><script>alert(1)</script>'", 1))
    result = _run(CS260, folder)
    assert [p.a for p in result.pairs] == [evil]
    similarity_report.write(tmp_path, result, "cs260")
    page = (tmp_path / "similarity.html").read_text()
    assert "<script>" not in page and "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;script&gt;" in page and "<mark>" in page
    assert "Content-Security-Policy" in page
    rows = list(csv.reader(io.StringIO((tmp_path / "similarity.csv").read_text())))
    assert rows[0][:2] == ["submission", "other"]
    assert rows[1][0] == "'" + evil
    assert float(rows[1][3]) > 0.95


def test_marking_spans_escapes_each_piece() -> None:
    code = "a = '<b>' + c"
    assert similarity_report._marked(code, ((4, 9), (20, 30))) == "a = <mark>&#x27;&lt;b&gt;&#x27;</mark> + c"


def test_grade_similarity_writes_the_pairs_beside_the_class_reports_and_changes_no_score(
    planted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "class"
    for name in ("student05", "student21", "student02"):
        shutil.copytree(planted / name, folder / name)
    known = tmp_path / "known"
    known.mkdir()
    shutil.copyfile(planted / "student02" / "cs260" / "layers.py", known / "forum_post.py")
    common = [str(folder), "--course", str(ROOT), "--student-mode", "--no-notebooks", "--quiet", "--jobs", "2"]
    assert cli.main([*common, "--out", str(tmp_path / "plain")]) == 0
    assert not (tmp_path / "plain" / "similarity.csv").exists()
    capsys.readouterr()
    assert cli.main([*common, "--out", str(tmp_path / "out"), "--similarity", "--against", str(known)]) == 0
    printed = capsys.readouterr().out
    assert "similarity: 2 pair(s) share at least 75% of one side's code" in printed
    assert "student05 and student21: 100%" in printed and "student02 and forum_post.py (known solution)" in printed
    assert without_timing(tmp_path / "out") == without_timing(tmp_path / "plain")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "similarity.csv").read_text())))
    assert [(r["submission"], r["other"], r["other_is_known_solution"]) for r in rows] == [
        ("student05", "student21", "False"),
        ("student02", "forum_post.py", "True"),
    ]
    # summary.json holds them beside the batch's other lists; a run without --similarity says nothing.
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["similarity"]
    assert summary["flag_threshold"] == 0.75 and summary["compared"] == 4
    assert [(p["submission"], p["other"], p["other_is_known_solution"]) for p in summary["pairs"]] == [
        ("student05", "student21", False),
        ("student02", "forum_post.py", True),
    ]
    assert [p["similarity"] for p in summary["pairs"]] == [float(r["similarity"]) for r in rows]
    assert "similarity" not in json.loads((tmp_path / "plain" / "summary.json").read_text())


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--against", "KNOWN"], "the known solutions are for --similarity"),
        (["--similarity", "--shard", "1/2"], "compares a whole class at once"),
        (["--similarity", "--against", "MISSING"], "not a folder"),
        (["--similarity", "--similarity-threshold", "75"], "not a share between 0 and 1"),
    ],
)
def test_similarity_options_that_cannot_work_say_why(
    planted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], said: str
) -> None:
    (tmp_path / "known").mkdir()
    args = [a.replace("KNOWN", str(tmp_path / "known")).replace("MISSING", str(tmp_path / "nope")) for a in extra]
    with pytest.raises(SystemExit) as exc:
        cli.main([str(planted), "--course", str(ROOT), *args])
    assert exc.value.code == 2
    assert said in capsys.readouterr().err


def test_similarity_of_one_submission_is_refused(planted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main([str(planted / "student01"), "--course", str(ROOT), "--similarity"])
    assert "compares a whole class at once: give the folder of submissions" in capsys.readouterr().err


def test_code_written_in_a_notebook_is_compared_by_cell(tmp_path: Path) -> None:
    """mlp_lib's students write the activations in a cell of Problem_1.ipynb, not in a function: a
    copy of that cell is found there, and the cells still as the template has them are not compared."""
    mlp_lib = Layout(ROOT, "mlp_lib")
    for name in ("a", "b"):
        shutil.copytree(mlp_lib.reference, tmp_path / "class" / name)
    shutil.copytree(mlp_lib.template, tmp_path / "class" / "untouched")
    result = _run(mlp_lib, tmp_path / "class")
    assert result.compared == 2
    (pair,) = result.pairs
    cells = [m for m in pair.matches if m.function.startswith("Problem_1.ipynb#")]
    assert any("sigmoid = lambda x: 1 / (1 + np.exp(-x))" in m.code[0] for m in cells)


def test_a_fault_of_similarity_is_the_graders_and_costs_no_class_report(
    planted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "class"
    for name in ("student05", "student21"):
        shutil.copytree(planted / name, folder / name)

    def broken(*args: object, **kwargs: object) -> similarity.Result:
        raise RuntimeError("fingerprints unavailable")

    monkeypatch.setattr(similarity, "run", broken)
    args = [str(folder), "--course", str(ROOT), "--student-mode", "--no-notebooks", "--quiet", "--jobs", "2"]
    out = tmp_path / "out"
    assert cli.main([*args, "--out", str(out), "--similarity", "--csv", str(tmp_path / "items.csv")]) == 2
    err = capsys.readouterr().err
    assert "grade: the grader's error: similarity could not be computed (RuntimeError: fingerprints unavailable)" in err
    assert (out / "gradebook.csv").is_file() and (tmp_path / "items.csv").is_file()  # every other output
    assert not (out / "similarity.csv").exists()
    assert "similarity" not in json.loads((tmp_path / "out" / "summary.json").read_text())
