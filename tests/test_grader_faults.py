"""A fault of the grader is never a student's: a child or kernel that cannot start, a reference that
fails, a hidden path that would hide the grader. Each is reported as the grader's (status
`grader_error`, exit status 2, not cached), and a user's own processes never count against a child."""

from __future__ import annotations

import ast
import gc
import json
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from bugs import TEST_SEED, apply_spec
from conftest import ROOT

from grader import cli, codec, fingerprints, kernels, parsing, sandbox
from grader.engine import Assignment, SetupError, check_sandbox, grade, load_assignment
from grader.isolation import ProcessLimit, process_limit
from grader.options import GradeOptions
from grader.project import Layout

LAYOUT = Layout(ROOT, "nndl")
COMMON = ["--fixtures", str(LAYOUT.fixtures), "--no-notebooks", "--quiet"]


@pytest.fixture(scope="module")
def instructor() -> Assignment:
    return load_assignment(LAYOUT.fixtures, LAYOUT.reference)


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret" / "hidden-seed"
    path.parent.mkdir()
    path.write_text(TEST_SEED)
    return path


def test_a_user_holding_200_threads_grades_the_reference_to_full_marks(instructor: Assignment) -> None:
    """RLIMIT_NPROC counts every thread of the user: a fixed cap failed correct code for anyone with a
    browser open. Meaningful as an unprivileged user (.ci/run runs it as one); root is exempt."""
    release = threading.Event()
    threads = [threading.Thread(target=release.wait, daemon=True) for _ in range(200)]
    for t in threads:
        t.start()
    try:
        report = grade(LAYOUT.reference, instructor, GradeOptions(hidden_seed=TEST_SEED, notebooks=False))
    finally:
        release.set()
    assert [(i.id, i.status, i.message) for i in report.items if i.status != "pass"] == []
    assert report.total == report.max_total


def test_the_process_cap_counts_only_the_childs_own_processes() -> None:
    limit = process_limit(64)
    try:
        if limit.kind == "user count":  # an unprivileged user without a pids cgroup
            from grader.isolation import user_task_count

            assert limit.nproc is not None and limit.nproc >= user_task_count() + 64 - 5
        elif limit.kind == "pids cgroup":
            assert limit.cap is not None and limit.cap.path is not None
            assert (limit.cap.path / "pids.max").read_text().strip() == "64"
        else:
            assert sys.platform == "linux" and limit.nproc is None
    finally:
        limit.release()


def test_a_reference_that_fails_a_hidden_case_is_a_grader_error_not_the_students(
    tmp_path: Path, seed_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "reference"
    shutil.copytree(LAYOUT.reference, broken)
    layers = broken / "nndl" / "layers.py"
    text = layers.read_text()
    old = "    out = np.maximum(0, x)\n"
    assert text.count(old) == 1
    layers.write_text(text.replace(old, "    raise RuntimeError('the instructor broke relu_forward')\n"))
    student = apply_spec({}, tmp_path / "alice", "alice")
    out = tmp_path / "r.json"
    code = cli.main(
        [str(student), "--reference", str(broken), "--hidden-seed-file", str(seed_file), *COMMON, "--json", str(out)]
    )
    assert code == 2
    report = json.loads(out.read_text())
    relu = next(i for i in report["items"] if i["id"] == "nndl.layers:relu_forward")
    assert relu["status"] == "grader_error" and relu["points"] == 0
    assert "the reference solution itself failed hidden case 1" in relu["message"]
    assert "not your fault" in relu["message"]
    # Items that call relu_forward are not told to fix it: the student's own relu is right.
    assert not any("relu_forward, which lost points" in i["message"] for i in report["items"])
    assert "GRADER ERROR while grading" in capsys.readouterr().err


def test_a_child_that_cannot_start_is_a_grader_error_and_nothing_is_graded(
    tmp_path: Path,
    seed_file: Path,
    instructor: Assignment,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sandbox.sys, "executable", str(tmp_path / "no-such-python"))
    report = grade(LAYOUT.reference, instructor, GradeOptions(hidden_seed=TEST_SEED, notebooks=False))
    assert {i.status for i in report.items} == {"grader_error"} and report.total == 0
    assert "could not start" in report.items[0].message or "cannot start" in report.items[0].message
    alice = apply_spec({}, tmp_path / "alice", "alice")
    bob = apply_spec({}, tmp_path / "bob", "bob")
    out = tmp_path / "r.json"
    common = ["--reference", str(LAYOUT.reference), "--hidden-seed-file", str(seed_file), *COMMON, "--json", str(out)]
    # Alone, the submission's own first child is the canary: every item a grader error, exit 2.
    assert cli.main([str(alice), *common]) == 2
    assert "GRADER ERROR while grading" in capsys.readouterr().err
    assert {i["status"] for i in json.loads(out.read_text())["items"]} == {"grader_error"}
    out.unlink()
    # Several: the canary fails before anyone is graded.
    assert cli.main([str(alice), str(bob), *common]) == 2
    err = capsys.readouterr().err
    assert "No submission was graded" in err and "not a student's fault" in err
    assert not out.exists()


def test_a_child_that_cannot_confine_itself_never_runs_student_code(
    tmp_path: Path, instructor: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cgroup the child cannot join: it says so and exits before the first request."""
    (tmp_path / "not-a-cgroup" / "cgroup.procs").mkdir(parents=True)  # joining it fails, as root too

    class Missing:
        path = tmp_path / "not-a-cgroup"

        def kill_all(self) -> None:
            pass

    monkeypatch.setattr(
        sandbox, "process_limit", lambda n, dedicated=False: ProcessLimit("pids cgroup", Missing(), None)
    )  # type: ignore[arg-type]
    with pytest.raises(SetupError, match="cannot join the pids cgroup"):
        check_sandbox(instructor, ())


def test_a_kernel_that_cannot_start_costs_the_student_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Layout(ROOT, "mlp")
    assignment = load_assignment(layout.fixtures, None)
    real_wrap = kernels.wrap

    def broken(argv: list[str], **kwargs: object) -> list[str]:
        return real_wrap([str(tmp_path / "no-such-python"), *argv[1:]], **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(kernels, "wrap", broken)
    report = grade(layout.reference, assignment)
    rubric = assignment.rubric
    in_notebooks = {i.id for i in rubric.items if i.notebook and i.kind != "manual"}
    assert in_notebooks
    by_id = {i.id: i for i in report.items}
    assert {by_id[i].status for i in in_notebooks} == {"grader_error"}
    assert all("could not start" in by_id[i].message for i in in_notebooks)
    assert all(i.status == "pass" for i in report.items if i.id not in in_notebooks and i.status != "manual")


@pytest.mark.parametrize("where", ["python_environment", "submission"])
def test_a_hidden_seed_beside_the_grader_or_a_submission_is_refused(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hiding the seed's folder would hide the grader's own environment (everyone scores 0), or the
    seed would be copied to the child with the submission."""
    student = apply_spec({}, tmp_path / "alice", "alice")
    folder = Path(sys.prefix) if where == "python_environment" else student
    seed = folder / "hidden-seed-of-a-test"
    seed.write_text(TEST_SEED)
    try:
        code = cli.main([str(student), "--reference", str(LAYOUT.reference), "--hidden-seed-file", str(seed), *COMMON])
    finally:
        seed.unlink()
    assert code == 2
    err = capsys.readouterr().err
    assert "a hidden path would break grading" in err and "a folder of its own" in err


def test_a_submission_over_the_size_limit_is_its_own_result_in_a_batch(tmp_path: Path, seed_file: Path) -> None:
    batch = tmp_path / "class"
    clean = apply_spec({}, batch / "alice", "alice")
    big = apply_spec({}, batch / "bob", "bob")
    for k in range(5):  # 5 x 45 MB: each file under the per-file limit, together over the 200 MB one
        with open(big / f"data{k}.bin", "wb") as f:
            f.truncate(45 * 1024**2)
    out = tmp_path / "out"
    args = [
        str(batch),
        "--reference",
        str(LAYOUT.reference),
        "--hidden-seed-file",
        str(seed_file),
        *COMMON,
        "--out",
        str(out),
        "--jobs",
        "2",
        "--json",
        str(tmp_path / "r.json"),
    ]
    assert cli.main(args) == 0
    reports = {r["submission"]: r for r in json.loads((tmp_path / "r.json").read_text())}
    assert reports["alice"]["total"] == 58
    assert reports["bob"]["total"] == 0
    assert {i["status"] for i in reports["bob"]["items"]} == {"error"}
    assert "larger than 200 MB" in reports["bob"]["items"][0]["message"]
    assert clean.is_dir()


def test_a_spurious_ast_error_of_cpython_is_parsed_again_not_a_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    """CPython 3.11's "AST constructor recursion depth mismatch" (python/cpython#106905) is tried
    again, for a thread that turned the collector back on before the parse. Any other SystemError is
    raised."""
    real = ast.parse
    failures = iter([SystemError("AST constructor recursion depth mismatch (before=45, after=54)")])

    def flaky(source: str) -> ast.Module:
        for exc in failures:
            raise exc
        return real(source)

    monkeypatch.setattr(ast, "parse", flaky)
    assert fingerprints.function_fingerprints("def f():\n    return 1\n").keys() == {"f"}
    failures = iter([SystemError("something else")])
    with pytest.raises(SystemError, match="something else"):
        parsing.parse("x = 1")


@contextmanager
def _finalizers_that_parse() -> Iterator[None]:
    """A collection at every allocation, each running a finalizer that parses (as 3.11's traceback
    formatting does) and leaves garbage like itself for the next: without `parsing.retried`, a
    collection lands in the middle of each parse's conversion and the parse fails."""
    left = [100_000]

    class Parses:
        def __del__(self) -> None:
            ast.parse("x = (1 + 2) * 3")
            if left[0] > 0:
                left[0] -= 1
                again = Parses()
                again.me = again  # type: ignore[attr-defined] - a cycle: only the collector frees it

    thresholds = gc.get_threshold()
    first = Parses()
    first.me = first  # type: ignore[attr-defined]
    del first
    gc.set_threshold(1)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        left[0] = 0
        gc.collect()


def test_a_parse_is_not_failed_by_a_finalizer_that_parses_during_a_collection() -> None:
    source = "\n".join(f"def f{i}(a, b):\n    return [a + b * {i} for _ in range(3)]\n" for i in range(100))
    with _finalizers_that_parse():
        for _ in range(3):
            assert len(fingerprints.function_fingerprints(source)) == 100


def test_reading_a_childs_arrays_is_not_failed_by_a_finalizer_that_parses_during_a_collection() -> None:
    """numpy reads each array's header with ast.literal_eval, so decoding a child's reply parses too,
    in the grader's worker threads: in CI, this made every item of a grade a grader error."""
    value = {f"a{i}": np.arange(i + 1, dtype=float) for i in range(30)}
    reply = codec.dumps(value)
    with _finalizers_that_parse():
        for _ in range(3):
            assert codec.loads(reply, 1 << 20).keys() == value.keys()
