"""A gradebook a course can put in its LMS: the roster joined, questions nobody graded left empty (not
zero), each git submission's last commit and a late flag, a CSV Canvas imports, and manual-grade and
roster files as Excel saves them, with a misspelt name refused rather than ignored."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from bugs import TEST_SEED, apply_spec, load_bug
from class_outputs import without_timing
from conftest import ROOT

from grader import cli, provenance
from grader.rubric import load

BUG = "mlp_fails_reg_missing_on_W1_gradient"
MANUAL = [i.id for i in load(ROOT / "reference" / "mlp" / "rubric.toml").items if i.kind == "manual"]


def _commit(repo: Path, when: str) -> str:
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    git = ["git", "-C", str(repo), "-c", "user.name=Student", "-c", "user.email=student@example.edu"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "my work"], check=True, env=env)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def _csv(path: Path, rows: list[list[str]]) -> Path:
    """Written as Excel saves a CSV: with a byte-order mark."""
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.fixture(scope="module")
def course_class(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("lms")
    folder = tmp / "class"
    alice = apply_spec({"assignment": "mlp"}, folder / "hw3-alice", "alice")
    bob = apply_spec(load_bug(BUG), folder / "hw3-Bob", BUG)
    apply_spec({"assignment": "mlp", "stub": ["mlp.py"]}, folder / "carol", "carol")
    commits = {
        "hw3-alice": _commit(alice, "2026-11-30T12:00:00+01:00"),
        "hw3-Bob": _commit(bob, "2026-12-02T09:00:00Z"),
    }
    roster = _csv(
        tmp / "roster.csv",
        [
            ["identifier", "github_username", "name", "email", "canvas_id", "section"],
            ["A1", "alice", "Alice Archer", "alice@example.edu", "1001", "L01"],
            ["B2", "bob", "Bob Baker", "bob@example.edu", "1002", "L01"],
            ["D4", "dave", "Dave Diaz", "dave@example.edu", "1004", "L02"],
        ],
    )
    seed = tmp / "seed"
    seed.write_text(TEST_SEED + "\n")
    args = [
        str(folder),
        "--hidden-seed-file",
        str(seed),
        "--jobs",
        "2",
        "--out",
        str(tmp / "out"),
        "--roster",
        str(roster),
        "--due",
        "2026-12-01T23:59:00+00:00",
        "--canvas",
        str(tmp / "canvas.csv"),
        "--canvas-assignment",
        "HW3 (5501)",
    ]
    return {"tmp": tmp, "args": args, "commits": commits}


def _grades(tmp: Path, rows: list[list[str]]) -> Path:
    return _csv(tmp / "manual.csv", [["submission", "id", "points", "comment"], *rows])


def test_the_gradebook_joins_the_roster_and_the_commits_and_leaves_ungraded_questions_empty(
    course_class: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp, commits = course_class["tmp"], course_class["commits"]
    grades = _grades(tmp, [["hw3-alice", q, "1", "ok"] for q in MANUAL] + [["hw3-Bob", MANUAL[0], "0.5", "half"]])
    assert cli.main([*course_class["args"], "--manual-grades", str(grades), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "1 submission(s) have no row in the roster and are not in" in err and "carol" in err
    assert "1 student(s) of the roster have no submission: dave" in err
    book = pd.read_csv(tmp / "out" / "gradebook.csv", dtype=str, keep_default_na=False).set_index("submission")
    assert list(book.columns[:6]) == ["student_id", "name", "email", "commit", "commit_time", "late"]
    assert book.loc["hw3-alice", ["student_id", "name", "email"]].tolist() == [
        "A1",
        "Alice Archer",
        "alice@example.edu",
    ]
    assert book.loc["hw3-Bob", "student_id"] == "B2"  # GitHub user names ignore case
    assert book.loc["carol", "student_id"] == "" and book.loc["carol", "commit"] == ""
    assert book.loc["hw3-alice", "commit"] == commits["hw3-alice"]
    assert book.loc["hw3-alice", "commit_time"] == "2026-11-30T12:00:00+01:00" and book.loc["hw3-alice", "late"] == "no"
    assert book.loc["hw3-Bob", "commit_time"] == "2026-12-02T09:00:00+00:00" and book.loc["hw3-Bob", "late"] == "yes"
    assert book.loc["carol", "late"] == ""  # no commit to judge by
    # alice: every question graded, so a total; bob: questions left, so the automatic points only.
    alice_max = float(book.loc["hw3-alice", "max_total"])
    automatic = float(book.loc["hw3-alice", "automatic"])
    assert automatic == float(book.loc["hw3-alice", "automatic_max"]) < alice_max  # the reference's code
    alice_total = float(book.loc["hw3-alice", "total"])
    assert alice_total == automatic + len(MANUAL) and book.loc["hw3-alice", "ungraded_manual"] == "0"
    assert book.loc["hw3-Bob", "total"] == "" and book.loc["hw3-Bob", "ungraded_manual"] == str(len(MANUAL) - 1)
    assert 0 < float(book.loc["hw3-Bob", "automatic"]) < float(book.loc["hw3-Bob", "automatic_max"])
    assert book.loc["hw3-Bob", MANUAL[0]] == "0.5" and book.loc["hw3-Bob", MANUAL[1]] == ""  # empty, not 0
    items = pd.read_csv(tmp / "out" / "items.csv", dtype=str, keep_default_na=False)
    bob_manual = items[(items["submission"] == "hw3-Bob") & items["id"].isin(MANUAL[1:])]
    assert len(bob_manual) == len(MANUAL) - 1 and set(bob_manual["points"]) == {""}
    assert set(items[items["submission"] == "hw3-Bob"]["student_id"]) == {"B2"}
    joined = {r["submission"]: r for r in json.loads((tmp / "out" / "reports.json").read_text())}
    assert joined["hw3-alice"]["student_id"] == "A1" and joined["hw3-alice"]["commit"] == commits["hw3-alice"]
    assert joined["hw3-Bob"]["late"] == "yes" and joined["carol"]["student_id"] == ""
    assert "Student: Alice Archer (A1)" in (tmp / "out" / "feedback" / "hw3-alice.md").read_text()
    assert "Student:" not in (tmp / "out" / "feedback" / "carol.md").read_text()

    with (tmp / "canvas.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW3 (5501)"]
    assert rows[1] == ["Points Possible", "", "", "", "", f"{alice_max:g}"]
    assert rows[2:] == [
        ["Alice Archer", "1001", "A1", "", "L01", f"{alice_total:g}"],
        ["Bob Baker", "1002", "B2", "", "L01", ""],  # not final until a person grades the rest
    ]


def test_a_manual_grade_row_that_matches_nothing_is_an_error_that_names_it(
    course_class: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = course_class["tmp"]
    before = (tmp / "out" / "gradebook.csv").read_bytes() if (tmp / "out" / "gradebook.csv").exists() else None
    grades = _grades(tmp, [["hw3-alcie", MANUAL[0], "1", ""], ["hw3-alice", "manual:q9_9", "1", ""]])
    assert cli.main([*course_class["args"], "--manual-grades", str(grades), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "hw3-alcie manual:q1_1: no submission is named 'hw3-alcie'" in err
    assert "hw3-alice manual:q9_9: no item has this id" in err
    after = (tmp / "out" / "gradebook.csv").read_bytes() if (tmp / "out" / "gradebook.csv").exists() else None
    assert after == before  # no class report written from a file with a mistake in it
    grades = _grades(tmp, [["HW3-ALICE", MANUAL[0], "1", ""]])
    assert cli.main([*course_class["args"], "--manual-grades", str(grades), "--quiet"]) == 2
    assert "(did you mean 'hw3-alice'?)" in capsys.readouterr().err


def test_shards_merged_with_the_roster_give_the_lms_files_of_one_run(
    course_class: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """The commits are read where the shards ran; the roster, the due date, the manual grades and
    Canvas are applied by the merge, which then writes what one run of the class writes."""
    tmp = course_class["tmp"] / "sharded"
    tmp.mkdir()
    args = list(course_class["args"])
    grades = _grades(tmp, [["hw3-alice", q, "1", "ok"] for q in MANUAL] + [["hw3-Bob", MANUAL[0], "0.5", "half"]])
    whole = {"--out": str(tmp / "one"), "--canvas": str(tmp / "one.csv")}
    one = [whole.get(before, a) for before, a in zip(["", *args], args, strict=False)]
    assert cli.main([*one, "--manual-grades", str(grades), "--quiet"]) == 0
    assert args[1:5] == ["--hidden-seed-file", args[2], "--jobs", "2"]
    for k in (1, 2):
        assert cli.main([*args[:5], "--out", str(tmp / f"part-{k}"), "--shard", f"{k}/2", "--quiet"]) == 0
    i = args.index("--roster")
    merge = [*args[i:], "--out", str(tmp / "merged"), "--manual-grades", str(grades)]
    merge[merge.index("--canvas") + 1] = str(tmp / "merged.csv")
    assert cli.main(["merge", str(tmp / "part-2"), str(tmp / "part-1"), *merge]) == 0
    capsys.readouterr()
    assert without_timing(tmp / "merged") == without_timing(tmp / "one")
    book = pd.read_csv(tmp / "merged" / "gradebook.csv", dtype=str, keep_default_na=False).set_index("submission")
    assert book.loc["hw3-Bob", ["student_id", "late"]].tolist() == ["B2", "yes"]
    assert book.loc["hw3-alice", "commit"] == course_class["commits"]["hw3-alice"]
    assert (tmp / "merged.csv").read_text() == (tmp / "one.csv").read_text()


def test_reading_a_student_repository_runs_nothing_of_theirs(tmp_path: Path) -> None:
    """git's configuration can name programs (an fsmonitor hook, a pager, a signature checker): the
    repository's own configuration must not run them when the grader reads its last commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("x = 1\n")
    head = _commit(repo, "2026-12-01T10:00:00+00:00")
    marker = tmp_path / "ran"
    for key, value in [
        ("core.fsmonitor", f"touch {marker}; false"),
        ("core.pager", f"touch {marker}; cat"),
        ("gpg.program", f"touch {marker}; false"),
        ("log.showSignature", "true"),
        ("alias.cat-file", f"!touch {marker}"),
        ("core.hooksPath", str(tmp_path)),
    ]:
        subprocess.run(["git", "-C", str(repo), "config", key, value], check=True)
    commit = provenance.last_commit(repo)
    assert commit is not None and commit.id == head and commit.time.isoformat() == "2026-12-01T10:00:00+00:00"
    assert not marker.exists()
    assert provenance.last_commit(tmp_path) is None  # not a repository itself

    # A partial clone whose commit is missing: git would fetch it from the promisor remote, running
    # the remote's upload-pack command, which the repository's own config names.
    partial = tmp_path / "partial"
    subprocess.run(["git", "clone", "-q", "--no-local", str(repo), str(partial)], check=True)
    for pack in (partial / ".git" / "objects").rglob("*"):
        if pack.is_file() and "info" not in pack.parts:
            pack.unlink()
    for key, value in [
        ("core.repositoryformatversion", "1"),
        ("extensions.partialClone", "origin"),
        ("remote.origin.promisor", "true"),
        ("remote.origin.uploadpack", f"touch {marker}; git-upload-pack"),
    ]:
        subprocess.run(["git", "-C", str(partial), "config", key, value], check=True)
    assert provenance.last_commit(partial) is None  # no commit to read, and nothing run to get one
    assert not marker.exists()
    subprocess.run(["git", "-C", str(partial), "cat-file", "commit", "HEAD"], capture_output=True, check=False)
    assert marker.exists()  # the attack is real: git itself, run in the repository, runs it
