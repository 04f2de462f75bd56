"""Each student's HTML report: what a student needs on one page (scores, messages, the answers graded
by a person beside the grader's comment, the figures inline), and nothing a submission wrote runs
when it or the similarity page is opened: checked by rendering them in a headless Chromium."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from grader import html_report, similarity, similarity_report
from grader.class_reports import feedback
from grader.manual import merge
from grader.results import ItemResult, Report

SCRIPT = "<script>document.body.setAttribute('data-ran', 'yes')</script>"
PAYLOADS = (
    f"{SCRIPT}<img src=x onerror=\"document.body.setAttribute('data-ran','yes')\">"
    '=HYPERLINK("http://attacker.example?x=1","click") **83 / 83** ![b](http://attacker.example/b.png)'
)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _report() -> Report:
    items = (
        ItemResult("nndl.layers:affine_forward", "affine_forward", 2.0, 2.0, "pass", "", 0.1),
        ItemResult("nndl.optim:sgd", "sgd", 0.0, 1.0, "error", f"public case 1 raised ValueError: {PAYLOADS}", 0.1),
        ItemResult(
            "manual:fc_depth", "depth", 0.0, 2.0, "manual", f"answer for a human to grade:\nDeeper. {PAYLOADS}", 0.0
        ),
        ItemResult(
            "manual:dropout_scaling", "dropout", 0.0, 2.0, "manual", "answer for a human to grade:\nScale by p.", 0.0
        ),
    )
    # A folder name holds no "/": the name's markup is an element that runs a handler.
    name = "student <svg onload=\"document.body.setAttribute('data-ran','yes')\">"
    report = Report("nndl", "instructor", "0", name, items, figures=(("<svg onload=alert(1)>.png", PNG),))
    grades = {(report.submission, "manual:dropout_scaling"): (1.5, f"Right, but why? {SCRIPT}")}
    return merge(report, grades)


def test_the_page_shows_the_answer_beside_the_comment_and_student_text_as_text() -> None:
    page = html_report.page(_report(), {"name": "Ada <b>Lovelace</b>", "student_id": "7"})
    assert html_report.CSP in page and "<script" not in page and "<svg" not in page and "<img src=x" not in page
    assert "&lt;script&gt;document.body.setAttribute" in page and "Ada &lt;b&gt;Lovelace&lt;/b&gt; 7" in page
    assert "<h2>Questions graded by a person</h2>" in page
    graded = page.split("<code>manual:dropout_scaling</code> (1.5 / 2)</h3>", 1)[1].split("</div></div>", 1)[0]
    assert "<pre>Scale by p.</pre>" in graded and "<pre>Right, but why? &lt;script&gt;" in graded
    assert "<code>manual:fc_depth</code> (not graded yet)" in page
    assert page.count("data:image/png;base64,") == 1
    # The Markdown feedback: graded questions are not "to fix", and the answer stays beside the comment.
    markdown = feedback(_report(), "../figures/x")
    what_to_fix = markdown.split("## What to fix", 1)[1].split("## Questions graded by a person", 1)[0]
    assert "manual:" not in what_to_fix
    assert "Scale by p." in markdown and "Right, but why?" in markdown


def _chromium() -> str | None:
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


def _rendered(browser: str, page: Path) -> str:
    """The page's DOM once Chromium has loaded it and run whatever it would run."""
    args = [browser, "--headless=new", "--disable-gpu", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium's own sandbox refuses to run as root
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_nothing_a_submission_wrote_runs_in_a_browser(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium where it can)")
    # The check can fail: a page with a live script is seen to run it.
    control = tmp_path / "control.html"
    control.write_text(f"<!DOCTYPE html><html><body><p>x</p>{SCRIPT}</body></html>")
    assert 'data-ran="yes"' in _rendered(browser, control)
    page = tmp_path / "report.html"
    page.write_text(html_report.page(_report()))
    dom = _rendered(browser, page)
    assert 'data-ran="yes"' not in dom
    assert "&lt;script&gt;document.body.setAttribute" in dom and "Right, but why?" in dom
    # The similarity page shows students' code and names, marked where it is in common.
    code = f"def f(x):\n    return {PAYLOADS!r}"
    match = similarity.Match("m.py:f", (code, code), (((0, 40),), ((10, len(code)),)), 300)
    pair = similarity.Pair(PAYLOADS, "other", False, (1.0, 1.0), 300, (match,))
    page = tmp_path / "similarity.html"
    page.write_text(similarity_report.page(similarity.Result((pair,), 2, (PAYLOADS,), 0.75), PAYLOADS))
    dom = _rendered(browser, page)
    assert 'data-ran="yes"' not in dom
    assert "<mark>def f(x):" in dom and "&lt;script&gt;document.body.setAttribute" in dom
