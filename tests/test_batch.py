"""A whole class: parallel batch grading, gradebook, cache, resume after a kill, plots, feedback."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from bugs import TEST_SEED, apply_spec, bug_names, load_bug
from class_outputs import without_timing
from conftest import ROOT, ctrl_c, processes_mentioning
from gradescope_schema import GRADESCOPE_SCHEMA

from grader import class_reports, cli
from grader.gradescope import results_json
from grader.project import Layout
from grader.results import ItemResult, Report

LAYOUT = Layout(ROOT, "nndl")
HOSTILE = ["returns_nan", "syntax_error", "os_exit_at_import", "missing_module"]
GOLDEN = ROOT / "tests" / "data" / "batch_gradebook.csv"


def make_class(folder: Path) -> list[str]:
    """33 submissions: correct, buggy, unfinished, hostile, and one zipped."""
    folder.mkdir()
    names = []
    for k in range(6):
        apply_spec({}, folder / f"correct_{k}", "correct")
        names.append(f"correct_{k}")
    for name in bug_names("nndl"):
        apply_spec(load_bug(name), folder / f"bug_{name}", name)
        names.append(f"bug_{name}")
    for k in range(3):
        shutil.copytree(LAYOUT.template, folder / f"unfinished_{k}")
        names.append(f"unfinished_{k}")
    shutil.copyfile(LAYOUT.reference / "nndl" / "layers.py", folder / "unfinished_2" / "nndl" / "layers.py")
    for name in HOSTILE:
        attack = tomllib.loads((ROOT / "tests" / "hostile" / name / "attack.toml").read_text())
        apply_spec(attack, folder / f"hostile_{name}", name)
        names.append(f"hostile_{name}")
    zipped = apply_spec({}, folder.parent / "zipped_src", "zipped")
    with zipfile.ZipFile(folder / "zipped.zip", "w") as zf:
        for p in sorted(zipped.rglob("*")):
            if p.is_file():
                zf.write(p, f"zipped/{p.relative_to(zipped).as_posix()}")
    names.append("zipped")
    return sorted(names)


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "seed"
    path.write_text(TEST_SEED)
    return path


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory, seed_file: Path) -> dict[str, object]:
    base = tmp_path_factory.mktemp("class")
    names = make_class(base / "submissions")
    out = base / "out"
    args = [
        str(base / "submissions"),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--no-notebooks",
        "--quiet",
        "--reference",
        str(LAYOUT.reference),
        "--fixtures",
        str(LAYOUT.fixtures),
        "--hidden-seed-file",
        str(seed_file),
        "--timeout",
        "2",
    ]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # graded here, so that any test of the module can run alone
        assert cli.main(args) == 0
    return {"base": base, "names": names, "out": out, "args": args, "printed": printed.getvalue()}


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(args) == 0
    return capsys.readouterr().out


def test_batch_grades_every_submission_with_a_gradebook_matching_the_golden(
    graded_class: dict, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    printed = graded_class["printed"]
    names = graded_class["names"]
    assert len(names) >= 30
    assert f"{len(names)} submission(s), {len(names)} graded now, 0 unchanged" in printed
    out = graded_class["out"]
    gradebook = pd.read_csv(out / "gradebook.csv")
    assert sorted(gradebook["submission"]) == names
    stable = gradebook.drop(columns=["seconds"]).to_csv(index=False)
    if request.config.getoption("--regen-golden") or not GOLDEN.exists():
        GOLDEN.write_text(stable)
    assert stable == GOLDEN.read_text()
    by_name = gradebook.set_index("submission")["total"]
    assert all(by_name[f"correct_{k}"] == 58 for k in range(6)) and by_name["zipped"] == 58
    assert by_name["unfinished_0"] == 0 and 0 < by_name["unfinished_2"] < 58
    items = pd.read_csv(out / "items.csv")
    assert len(items) == len(names) * 27
    assert set(items.columns) >= {"submission", "id", "points", "max_points", "status", "message", "duration_s"}
    for name in names:
        text = (out / "feedback" / f"{name}.md").read_text()
        assert text.splitlines()[0].replace("\\", "") == f"# Feedback: {name}"  # Markdown-escaped
    summary = json.loads((out / "summary.json").read_text())
    assert summary["submissions"] == len(names) and summary["max"] == 58
    # What a TA looks at first: the lists of summary.json and the end of the batch on the terminal,
    # each the submissions whose items have that status (or flag) in items.csv and the gradebook.
    by_status = items.groupby("status")["submission"].unique()
    assert summary["errors"] == sorted(by_status["error"]) and "hostile_syntax_error" in summary["errors"]
    assert summary["timeouts"] == sorted(by_status["timeout"]) == ["bug_timeout_infinite_loop_in_sgd"]
    assert summary["grader_errors"] == summary["unreadable"] == []
    public_only = "bug_fails_affine_forward_hardcoded_for_public_shapes"
    assert summary["flagged"] == [
        {
            "submission": public_only,
            "flags": [
                (
                    "nndl.layers:affine_forward is right on every public case and on no hidden case (answers fitted "
                    "to the public fixtures?)"
                )
            ],
        }
    ]
    assert summary["run"] == {"graded_now": len(names), "from_cache": 0, "seconds": summary["run"]["seconds"]}
    flagged = gradebook.set_index("submission")["flag_public_only"].fillna("")
    assert flagged[flagged == "yes"].index.tolist() == [public_only]
    assert "their code ran out of time: 1 (bug_timeout_infinite_loop_in_sgd)" in printed
    assert f"their code raised an error: {len(summary['errors'])} (" in printed
    assert f"flagged for a look: 1 (why: gradebook.csv's flag_ columns)\n    {public_only}: " in printed
    joined = {r["submission"]: r for r in json.loads((out / "reports.json").read_text())}
    assert joined[public_only]["flag_kinds"] == ["public_only"] and joined["correct_0"]["flag_kinds"] == []


def test_plots_are_valid_pngs(graded_class: dict) -> None:
    import matplotlib.image as mpimg

    for name in ("score_histogram.png", "item_pass_rate.png", "time_per_submission.png"):
        data = (graded_class["out"] / "plots" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        image = mpimg.imread(io.BytesIO(data), format="png")
        assert image.shape[0] > 100 and image.shape[1] > 100


def test_second_run_grades_nothing_and_a_changed_submission_is_regraded(
    graded_class: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (graded_class["out"] / "gradebook.csv").read_text()
    printed = run(graded_class["args"], capsys)
    n = len(graded_class["names"])
    assert f"{n} submission(s), 0 graded now, {n} unchanged since the last run (cached)" in printed
    assert (graded_class["out"] / "gradebook.csv").read_text() == before
    optim = graded_class["base"] / "submissions" / "unfinished_1" / "nndl" / "optim.py"
    optim.write_text((LAYOUT.reference / "nndl" / "optim.py").read_text())
    printed = run(graded_class["args"], capsys)
    assert f"{n} submission(s), 1 graded now, {n - 1} unchanged" in printed
    gradebook = pd.read_csv(graded_class["out"] / "gradebook.csv").set_index("submission")
    assert gradebook.loc["unfinished_1", "total"] == 9

    # --force regrades what the cache holds (shown on two submissions, not the class again).
    small = graded_class["base"] / "small"
    for name in ("correct_0", "unfinished_0"):
        shutil.copytree(graded_class["base"] / "submissions" / name, small / name)
    args = _with(graded_class["args"], small, graded_class["base"] / "small_out")
    assert "2 submission(s), 2 graded now, 0 unchanged" in run(args, capsys)
    assert "2 submission(s), 0 graded now, 2 unchanged" in run(args, capsys)
    assert "2 submission(s), 2 graded now, 0 unchanged" in run([*args, "--force"], capsys)


def _with(args: list[str], submissions: Path, out: Path) -> list[str]:
    """The class's arguments with other submissions and another output folder."""
    args = [str(submissions), *args[1:]]
    args[args.index("--out") + 1] = str(out)
    return args


def test_a_killed_batch_resumes_where_it_stopped(
    graded_class: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed after its fourth submission, a batch of twelve resumes with the other eight and ends with
    the rows an uninterrupted run gave them."""
    names = graded_class["names"][::3][:12]
    for name in names:
        source = graded_class["base"] / "submissions" / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / "class" / name)
        else:
            (tmp_path / "class").mkdir(exist_ok=True)
            shutil.copyfile(source, tmp_path / "class" / name)
    out = tmp_path / "out"
    args = _with(graded_class["args"], tmp_path / "class", out)
    args[args.index("--jobs") + 1] = "1"  # one at a time: the kill lands between submissions, not at the end
    grade = str(Path(sys.executable).parent / "grade")
    proc = subprocess.Popen(
        [grade, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / "cache").glob("*.json"))) < 4:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((out / "cache").glob("*.json")))
    n = len(list((tmp_path / "class").iterdir()))
    assert n == 12 and 4 <= done_before < n
    for entry in (out / "cache").glob("*.json"):
        json.loads(entry.read_text())  # every cache entry is whole
    printed = run(args, capsys)
    assert f"{n} submission(s), {n - done_before} graded now, {done_before} unchanged" in printed

    # The resumed batch ends with the rows an uninterrupted one gives (grading times aside).
    def rows(path: Path) -> pd.DataFrame:  # as written: a column empty in a part keeps its text
        return pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["seconds"]).set_index("submission")

    resumed, whole = rows(out / "gradebook.csv"), rows(graded_class["out"] / "gradebook.csv")
    assert resumed.equals(whole.loc[resumed.index])


def test_gradescope_results_json_follows_the_published_format(tmp_path: Path, seed_file: Path) -> None:
    import jsonschema

    report = Report(
        "nndl",
        "instructor",
        "0",
        "alice",
        (
            ItemResult("nndl.optim:sgd", "SGD", 1.0, 1.0, "pass", "", 0.1),
            ItemResult("nndl.optim:adam", "Adam", 0.5, 2.0, "partial", "next_w is off", 0.1),
        ),
    )
    data = results_json(report)
    jsonschema.validate(data, GRADESCOPE_SCHEMA)
    assert data["score"] == 1.5 and [t["status"] for t in data["tests"]] == ["passed", "failed"]
    submission = apply_spec({}, tmp_path / "alice", "alice")
    out = tmp_path / "results.json"
    assert (
        cli.main(
            [
                str(submission),
                "--gradescope",
                str(out),
                "--no-notebooks",
                "--quiet",
                "--reference",
                str(LAYOUT.reference),
                "--fixtures",
                str(LAYOUT.fixtures),
                "--hidden-seed-file",
                str(seed_file),
            ]
        )
        == 0
    )
    written = json.loads(out.read_text())
    jsonschema.validate(written, GRADESCOPE_SCHEMA)
    assert written["score"] == 58 and len(written["tests"]) == 27


def test_each_json_writer_writes_one_shape(tmp_path: Path, seed_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One submission's report is one object; a class's a list, even a class of one; a format for one
    submission refuses a class, saying so."""
    submission = apply_spec({}, tmp_path / "class" / "alice", "alice")
    common = ["--no-notebooks", "--quiet", "--student-mode", "--fixtures", str(LAYOUT.fixtures)]
    assert cli.main([str(submission), "--json", str(tmp_path / "one.json"), *common]) == 0
    one = json.loads((tmp_path / "one.json").read_text())
    assert isinstance(one, dict) and one["submission"] == str(submission)
    out = ["--out", str(tmp_path / "out"), "--assignment", "nndl"]
    assert cli.main([str(tmp_path / "class"), "--json", str(tmp_path / "class.json"), *common, *out]) == 0
    listed = json.loads((tmp_path / "class.json").read_text())
    assert isinstance(listed, list) and [r["submission"] for r in listed] == ["alice"]
    points = [[(i["id"], i["points"], i["status"], i["message"]) for i in r["items"]] for r in (listed[0], one)]
    assert points[0] == points[1]
    apply_spec({}, tmp_path / "class" / "bob", "bob")
    gradescope = ["--gradescope", str(tmp_path / "results.json")]
    assert cli.main([str(tmp_path / "class"), *gradescope, *common, *out]) == 2
    assert "Gradescope's results.json describes one submission; this run graded 2" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def test_three_shards_merged_give_the_class_reports_of_one_run(
    graded_class: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A class of 14 (every fourth of the class above: correct, buggy, unfinished, hostile ones), in
    three shards. Its one run takes each report from the whole class's run above, by the cache key (the
    files and the settings), so only the shards grade here."""
    run(graded_class["args"], capsys)  # the whole class as one run grades it (cached if it ran above)
    folder, one = tmp_path / "class", tmp_path / "one"
    (one / "cache").mkdir(parents=True)
    folder.mkdir()
    names = sorted([*graded_class["names"][::4], "zipped"])
    for name in names:
        given = graded_class["base"] / "submissions" / name
        if name == "zipped":
            shutil.copy(given.with_suffix(".zip"), folder / "zipped.zip")
        else:
            shutil.copytree(given, folder / name)
        shutil.copy(graded_class["out"] / "cache" / f"{name}.json", one / "cache")
    args = list(graded_class["args"])
    args[0] = str(folder)
    args[args.index("--out") + 1] = str(one)
    assert f"{len(names)} submission(s), 0 graded now, {len(names)} unchanged" in run(args, capsys)
    parts = []
    sizes = [len(names[k::3]) for k in range(3)]
    assert max(sizes) - min(sizes) <= 1
    for k in (1, 2, 3):
        args[args.index("--out") + 1] = str(tmp_path / f"part-{k}")
        printed = run([*args, "--shard", f"{k}/3"], capsys)
        size = sizes[k - 1]
        assert f"shard {k}/3, {size} of {len(names)} submission(s), {size} graded now" in printed
        assert not (tmp_path / f"part-{k}" / "gradebook.csv").exists()  # a part is not a class's gradebook
        parts.append(tmp_path / f"part-{k}")
    # Every submission in exactly one part.
    graded = [json.loads((p / "part.json").read_text())["submissions"] for p in parts]
    assert sorted(s["name"] for part in graded for s in part) == names
    merged = tmp_path / "merged"
    assert cli.main(["merge", str(parts[2]), str(parts[0]), str(parts[1]), "--out", str(merged)]) == 0
    assert f"{len(names)} submission(s) from 3 shard(s)" in capsys.readouterr().out
    assert without_timing(merged) == without_timing(one)
    book = pd.read_csv(merged / "gradebook.csv")
    assert (book["seconds"] > 0).all()  # each part's own grading times, carried over
    for name in ("score_histogram.png", "item_pass_rate.png", "time_per_submission.png"):
        assert (merged / "plots" / name).read_bytes().startswith(b"\x89PNG")

    # A shard rerun resumes from its own cache.
    args[args.index("--out") + 1] = str(parts[0])
    printed = run([*args, "--shard", "1/3"], capsys)
    assert f"{sizes[0]} of {len(names)} submission(s), 0 graded now, {sizes[0]} unchanged" in printed


def test_merge_refuses_parts_that_do_not_make_one_class(
    graded_class: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing, overlapping and mismatched parts are refused by name, and no report is written."""
    folder = graded_class["base"] / "submissions"
    small = tmp_path / "small"
    small.mkdir()
    for name in ("correct_0", "bug_fails_adam_without_bias_correction", "unfinished_0"):
        shutil.copytree(folder / name, small / name)
    common = ["--no-notebooks", "--quiet", "--student-mode", "--fixtures", str(LAYOUT.fixtures), "--jobs", "1"]
    for k in (1, 2):
        assert cli.main([str(small), *common, "--shard", f"{k}/2", "--out", str(tmp_path / f"p{k}")]) == 0
    capsys.readouterr()
    out = tmp_path / "out"

    def refused(*parts: Path) -> str:
        assert cli.main(["merge", *map(str, parts), "--out", str(out)]) == 2
        assert not out.exists()
        return capsys.readouterr().err

    p1, p2 = tmp_path / "p1", tmp_path / "p2"
    err = refused(p1)
    assert "missing shard(s) 2/2" in err and "no part holds 1 submission(s) (correct_0)" in err
    assert "--shard 2/2 --out part-2" in err
    shutil.copytree(p1, tmp_path / "p1-again")
    assert "overlapping parts" in refused(p1, tmp_path / "p1-again", p2) and "both shard 1/2" in refused(p1, p1, p2)
    assert "holds no part.json" in refused(p1, p2, small)
    # A part graded otherwise (here in instructor mode, the others in student mode) is not merged.
    other = tmp_path / "p2-other"
    shutil.copytree(p2, other)
    data = json.loads((other / "part.json").read_text())
    data["settings"]["mode"] = "instructor"
    (other / "part.json").write_text(json.dumps(data))
    assert "another mode setting" in refused(p1, other)
    data = json.loads((p2 / "part.json").read_text())
    data["class"].append("zed")
    (other / "part.json").write_text(json.dumps(data))
    assert "another class (3 submissions against 4; only in" in refused(p1, other) and "zed" in refused(p1, other)
    assert cli.main(["merge", str(p1), str(p2), "--out", str(out)]) == 0
    assert sorted(pd.read_csv(out / "gradebook.csv")["submission"]) == sorted(p.name for p in small.iterdir())

    # Options of the whole class go to the merge, not to a shard.
    with pytest.raises(SystemExit):
        cli.main([str(small), *common, "--shard", "1/2", "--roster", str(tmp_path / "r.csv")])
    assert "give it to `grade merge`" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([str(small), *common, "--shard", "3/2"])
    assert "K must be between 1 and N" in capsys.readouterr().err


def test_ctrl_c_stops_a_batch_within_2_s_saying_so_in_a_line_and_a_rerun_goes_on(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole foreground process group, as a terminal sends it. The batch stops in
    under 2 s with one line and no traceback, leaves no child of a submission running and no scratch
    folder behind, and the next run grades only what was not done (the looping submissions, fixed)."""
    folder = tmp_path / "class"
    for name in ("a_correct", "b_correct"):
        apply_spec({}, folder / name, name)
    loop = {
        "replace": [
            {"file": "nndl/layers.py", "old": "    out = np.maximum(0, x)\n", "new": "    while 1:\n        pass\n"}
        ]
    }
    for name in ("c_loops", "d_loops", "e_loops", "f_loops"):
        apply_spec(loop, folder / name, name)
    # The children's temp folder: outside pytest's own (which only its owner may enter), since a child
    # may run as a user of its own.
    scratch = Path(tempfile.mkdtemp(prefix="nn-grader-ctrl-c-"))
    scratch.chmod(0o755)
    try:
        _stop_and_resume(folder, scratch, tmp_path / "out")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _stop_and_resume(folder: Path, scratch: Path, out: Path) -> None:
    args = [str(folder), "--student-mode", "--fixtures", str(LAYOUT.fixtures), "--no-notebooks", "--jobs", "2"]
    args += ["--timeout", "20", "--out", str(out)]
    grade = str(Path(sys.executable).parent / "grade")
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.Popen(
        [grade, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / "cache").glob("*.json"))) < 2:
        time.sleep(0.1)
    time.sleep(1.0)  # both workers are in a looping submission's relu_forward now
    took, err = ctrl_c(proc, scratch)
    assert proc.returncode == 130 and took < 2.0, (proc.returncode, took, err)
    assert err.strip().splitlines()[-1] == (
        f"grade: interrupted; the 2 submission(s) graded in this run are cached in {out}/cache: run the same "
        "command again to go on from there"
    )
    assert "Traceback" not in err
    time.sleep(0.5)
    assert processes_mentioning(str(scratch)) == []
    assert sorted(p.name for p in scratch.iterdir()) == []
    for name in ("c_loops", "d_loops", "e_loops", "f_loops"):  # fixed since: graded now, quickly
        shutil.rmtree(folder / name)
        apply_spec({}, folder / name, name)
    rerun = subprocess.run([grade, *args], check=False, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "6 submission(s), 4 graded now, 2 unchanged since the last run (cached)" in rerun.stdout


def test_the_plots_show_partial_credit_leave_ungraded_questions_out_and_bin_from_0_to_the_maximum() -> None:
    """What the item plot draws: per item, the share of submissions with all its points, some and
    none, of the points given (a question no person graded yet is not a zero); and the histogram's
    bins, from 0 to the maximum total, equal, none narrower than a point."""
    rows = [
        ("alice", "nndl.layers:affine_forward", 2.0, 2.0),
        ("bob", "nndl.layers:affine_forward", 1.0, 2.0),
        ("carol", "nndl.layers:affine_forward", 0.0, 2.0),
        ("dave", "nndl.layers:affine_forward", 2.0, 2.0),
        ("alice", "manual:fc_depth", None, 2.0),
        ("bob", "manual:fc_depth", None, 2.0),
        ("alice", "manual:dropout_scaling", 1.5, 2.0),
        ("bob", "manual:dropout_scaling", None, 2.0),
    ]
    items = pd.DataFrame(rows, columns=["submission", "id", "points", "max_points"])
    shares = class_reports.credit_shares(items)
    assert shares.index.tolist() == ["nndl.layers:affine_forward", "manual:dropout_scaling"]
    assert shares.loc["nndl.layers:affine_forward"].tolist() == [0.5, 0.25, 0.25]
    assert shares.loc["manual:dropout_scaling"].tolist() == [0.0, 1.0, 0.0]
    edges = class_reports.score_bins(58)
    assert (edges[0], edges[-1], len(edges)) == (0.0, 58.0, 21)
    assert class_reports.score_bins(10) == [float(k) for k in range(11)]
    assert class_reports.score_bins(3.5) == pytest.approx([0.0, 3.5 / 3, 7 / 3, 3.5])
