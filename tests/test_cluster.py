"""A class on a Dask cluster (`grade --scheduler`): the same reports as a local run, the cache kept by
the client, a worker lost mid-submission costing nothing, and workers that cannot grade the run
refused before anything is sent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from bugs import TEST_SEED, apply_spec, load_bug
from class_outputs import without_timing
from conftest import ROOT

from grader import cli, isolation
from grader.project import Layout

distributed = pytest.importorskip("distributed", reason="Dask's distributed is installed by the test extra")

LAYOUT = Layout(ROOT, "nndl")


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    """Two worker processes of one thread each, as the README tells a cluster's workers to run."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
    ) as local:
        yield local


@pytest.fixture(scope="module")
def course_class(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("cluster")
    folder = tmp / "class"
    apply_spec({}, folder / "correct", "correct")
    for bug in ("fails_adam_without_bias_correction", "error_syntax_error_in_optim", "timeout_infinite_loop_in_sgd"):
        apply_spec(load_bug(bug), folder / bug, bug)
    shutil.copytree(LAYOUT.template, folder / "unfinished")
    attack = tomllib.loads((ROOT / "tests" / "hostile" / "os_exit_at_import" / "attack.toml").read_text())
    apply_spec(attack, folder / "hostile", "os_exit_at_import")
    zipped = apply_spec({}, tmp / "zipped_src", "zipped")
    with zipfile.ZipFile(folder / "zipped.zip", "w") as zf:
        for p in sorted(zipped.rglob("*")):
            if p.is_file():
                zf.write(p, f"zipped/{p.relative_to(zipped).as_posix()}")
    seed = tmp / "seed"
    seed.write_text(TEST_SEED + "\n")
    args = [
        str(folder),
        "--no-notebooks",
        "--quiet",
        "--reference",
        str(LAYOUT.reference),
        "--fixtures",
        str(LAYOUT.fixtures),
        "--hidden-seed-file",
        str(seed),
        "--timeout",
        "2",
    ]
    return {"tmp": tmp, "args": args, "names": sorted(p.name.removesuffix(".zip") for p in folder.iterdir())}


def _kill_a_busy_worker(client: distributed.Client) -> None:
    """SIGKILL, as the OOM killer sends it, to a worker while it grades a submission."""
    deadline, victim = time.monotonic() + 120, None
    while victim is None and time.monotonic() < deadline:
        busy = [w for w, tasks in client.processing().items() if any("grade_task" in t for t in tasks)]
        victim = busy[0] if busy else None
        time.sleep(0.05)
    assert victim is not None, "no worker was seen grading"
    os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)


def test_a_cluster_of_two_workers_gives_the_gradebook_of_a_local_run(
    cluster: distributed.LocalCluster, course_class: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp, args = course_class["tmp"], course_class["args"]
    assert cli.main([*args, "--out", str(tmp / "local"), "--jobs", "2"]) == 0
    assert cli.main([*args, "--out", str(tmp / "dask"), "--scheduler", cluster.scheduler_address]) == 0
    n = len(course_class["names"])
    assert f"{n} submission(s), {n} graded now" in capsys.readouterr().out
    assert without_timing(tmp / "dask") == without_timing(tmp / "local")
    book = pd.read_csv(tmp / "dask" / "gradebook.csv").set_index("submission")
    assert book.loc["correct", "total"] == book.loc["zipped", "total"] == 58
    assert book.loc["unfinished", "total"] == 0 and 0 < book.loc["fails_adam_without_bias_correction", "total"] < 58
    assert book["grader_errors"].sum() == 0
    # The cache is the client's: a rerun sends nothing.
    assert cli.main([*args, "--out", str(tmp / "dask"), "--scheduler", cluster.scheduler_address]) == 0
    assert f"{n} submission(s), 0 graded now, {n} unchanged" in capsys.readouterr().out


def test_a_worker_lost_mid_submission_costs_nothing(
    cluster: distributed.LocalCluster, course_class: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker killed while it grades: its submission is graded again on a worker the nanny
    restarts, and the class's reports are those of a run without the loss."""
    tmp, args = course_class["tmp"], course_class["args"]
    if not (tmp / "local" / "reports.json").exists():
        assert cli.main([*args, "--out", str(tmp / "local"), "--jobs", "2"]) == 0
    out = tmp / "killed"
    codes: list[int] = []
    run = threading.Thread(
        target=lambda: codes.append(cli.main([*args, "--out", str(out), "--scheduler", cluster.scheduler_address]))
    )
    with distributed.Client(cluster.scheduler_address) as client:
        run.start()
        _kill_a_busy_worker(client)
        run.join(timeout=300)
    assert codes == [0]
    capsys.readouterr()
    assert without_timing(out) == without_timing(tmp / "local")


def test_workers_with_another_course_are_refused_before_anything_is_sent(
    course_class: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers whose course ($GRADER_COURSE) is not the client's (here the client's reference has an
    edit the workers' has not), without isolation for instructor mode, or running several submissions
    in one process grade nothing; the run is a set-up error naming them."""
    reference = tmp_path / "course" / "reference" / "nndl"
    shutil.copytree(LAYOUT.reference, reference)
    (reference / "nndl" / "layers.py").write_text((reference / "nndl" / "layers.py").read_text() + "\n# edited\n")
    args = list(course_class["args"])
    args[args.index("--reference") + 1] = str(reference)
    out = tmp_path / "out"
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, dashboard_address=":0", env={"GRADER_COURSE": str(ROOT)}
    ) as other:
        assert cli.main([*args, "--out", str(out), "--scheduler", other.scheduler_address]) == 2
        err = capsys.readouterr().err
        assert "1 of 1 worker(s) cannot grade this run" in err and "(reference differ)" in err
        assert not (out / "gradebook.csv").exists()
        assert not list(out.glob("cache/*.json"))  # nothing graded
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, dashboard_address=":0", env={"GRADER_ISOLATION": "none"}
    ) as unisolated:
        monkeypatch.delenv("GRADER_ALLOW_UNISOLATED")  # the suite's own leave (conftest.py), not a TA's
        assert cli.main([*course_class["args"], "--out", str(out), "--scheduler", unisolated.scheduler_address]) == 2
        assert "worker: instructor mode without isolation" in capsys.readouterr().err
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, dashboard_address=":0") as threaded:
        assert cli.main([*args, "--out", str(out), "--scheduler", threaded.scheduler_address]) == 2
        assert "start workers with `--nthreads 1 --nworkers N`" in capsys.readouterr().err


def test_a_submission_whose_workers_die_as_often_as_the_scheduler_allows_is_an_error_report(
    course_class: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With `allowed-failures` 0 (the README says 1: a second death), the first worker lost while a
    submission is graded makes it that submission's error report, saying so. A worker holds only the
    submission it grades, so no other submission is blamed for its death."""
    import dask

    folder = tmp_path / "class"
    for name in ("correct", "unfinished"):
        shutil.copytree(course_class["tmp"] / "class" / name, folder / name)
    args = list(course_class["args"])
    args[0] = str(folder)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as strict,
        distributed.Client(strict.scheduler_address) as client,
    ):
        codes: list[int] = []
        run = threading.Thread(
            target=lambda: codes.append(
                cli.main([*args, "--out", str(tmp_path / "out"), "--scheduler", strict.scheduler_address])
            )
        )
        run.start()
        _kill_a_busy_worker(client)
        run.join(timeout=300)
    assert codes == [0]  # the student's error, not the grader's
    capsys.readouterr()
    reports = {r["submission"]: r for r in json.loads((tmp_path / "out" / "reports.json").read_text())}
    killed = [n for n, r in reports.items() if "died while doing so" in r["items"][0]["message"]]
    assert len(killed) == 1 and reports[killed[0]]["items"][0]["status"] == "error" and reports[killed[0]]["total"] == 0
    other = next(n for n in reports if n not in killed)
    assert len(reports[other]["items"]) == 27


def test_a_client_without_isolation_sends_instructor_mode_to_workers_that_have_it(
    cluster: distributed.LocalCluster, course_class: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client runs no student code: a laptop without bubblewrap grades on the cluster's isolation."""
    workers = isolation.level()  # the workers were started from this process, before the change below
    if workers == "none":
        pytest.skip("the workers have no isolation on this host, and refuse instructor mode without it")
    folder = tmp_path / "class"
    shutil.copytree(course_class["tmp"] / "class" / "correct", folder / "correct")
    args = list(course_class["args"])
    args[0] = str(folder)
    monkeypatch.delenv("GRADER_ALLOW_UNISOLATED")
    monkeypatch.setenv("GRADER_ISOLATION", "none")  # this process only: the workers were started before
    assert cli.main([*args, "--out", str(tmp_path / "out"), "--scheduler", cluster.scheduler_address]) == 0
    (report,) = json.loads((tmp_path / "out" / "reports.json").read_text())
    assert report["mode"] == "instructor" and report["total"] == 58
    assert report["isolation"].split(";")[0] == workers  # graded where the workers are, as isolated
    assert cli.main([*args, "--out", str(tmp_path / "local")]) == 2  # graded here, it is refused


def test_a_folder_travels_to_a_worker_as_the_folder_it_is(tmp_path: Path) -> None:
    """What the worker unzips is the folder the client would grade: even one that holds a lone
    subfolder (which a student's zip of one folder is taken to be), without git's folder or links."""
    from grader.cluster import pack
    from grader.submissions import extract_zip

    folder = tmp_path / "alice"
    (folder / "nndl").mkdir(parents=True)
    (folder / "nndl" / "layers.py").write_text("def affine_forward(x, w, b): ...\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "nndl" / "link.py").symlink_to(folder / "nndl" / "layers.py")
    (tmp_path / "sent.zip").write_bytes(pack(folder))
    root = extract_zip(tmp_path / "sent.zip", tmp_path / "worker")
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["nndl", "nndl/layers.py"]
    assert (root / "nndl" / "layers.py").read_text() == (folder / "nndl" / "layers.py").read_text()


def test_files_the_client_cannot_send_are_its_fault_and_a_submission_too_large_the_students(
    cluster: distributed.LocalCluster, course_class: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in a local batch: a submission over the size limit is its own error report; one whose files
    this host cannot read is the grader's error, not cached, so that a rerun tries it again."""
    from grader import cluster as grader_cluster

    folder = tmp_path / "class"
    for name in ("correct", "unfinished"):
        shutil.copytree(course_class["tmp"] / "class" / name, folder / name)
    real = grader_cluster.pack

    def pack(path: Path) -> bytes:
        if path.name == "correct":
            raise PermissionError(13, "Permission denied", str(path / "nndl" / "layers.py"))
        if path.name == "unfinished":
            raise ValueError("more than 200 MB of files")
        return real(path)

    monkeypatch.setattr(grader_cluster, "pack", pack)
    args = list(course_class["args"])
    args[0] = str(folder)
    out = tmp_path / "out"
    assert cli.main([*args, "--out", str(out), "--scheduler", cluster.scheduler_address]) == 2  # a grader error
    reports = {r["submission"]: r for r in json.loads((out / "reports.json").read_text())}
    assert {i["status"] for i in reports["correct"]["items"]} == {"grader_error"}
    assert (
        "could not be read to send to the cluster: [Errno 13] Permission denied"
        in reports["correct"]["items"][0]["message"]
    )
    assert {i["status"] for i in reports["unfinished"]["items"]} == {"error"}
    assert "the submission was not graded: more than 200 MB of files" in reports["unfinished"]["items"][0]["message"]
    assert len(list((out / "cache").glob("*.json"))) == 1  # the student's error only


def test_on_a_shared_file_system_a_worker_hides_the_class_folder_too(
    cluster: distributed.LocalCluster, course_class: dict, tmp_path: Path
) -> None:
    """Where the workers see the client's files (a cluster's shared file system), the folder holding
    the class is hidden from each submission's children there too, and opening a classmate's file is
    flagged, as in a local run."""
    if isolation.level() in ("none", "user"):
        pytest.skip(
            "at the level none nothing is hidden from a child; at the level user, a class folder every user "
            "can read is refused (tests/test_hostile.py)"
        )
    # Outside the temp folder (which the sandbox replaces anyway), readable by every user.
    folder = Path(tempfile.mkdtemp(prefix="nn-grader-shared-", dir="/var/tmp")).resolve()
    folder.chmod(0o755)
    try:
        apply_spec({}, folder / "alice", "alice")
        attack = tomllib.loads(
            (ROOT / "tests" / "hostile" / "reads_a_classmates_submission" / "attack.toml").read_text()
        )
        stolen = folder / "alice" / "nndl" / "layers.py"
        attack["replace"][0]["new"] = attack["replace"][0]["new"].replace("{CLASSMATE}", str(stolen))
        apply_spec({"replace": attack["replace"]}, folder / "mallory", "mallory")
        out = tmp_path / "r.json"
        args = [str(folder), *course_class["args"][1:], "--scheduler", cluster.scheduler_address]  # type: ignore[index]
        assert cli.main([*args, "--out", str(tmp_path / "out"), "--json", str(out)]) == 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    reports = {r["submission"]: r for r in json.loads(out.read_text())}
    assert reports["alice"]["total"] == 58
    affine = next(i for i in reports["mallory"]["items"] if i["id"] == "nndl.layers:affine_forward")
    assert affine["points"] == 0
    assert "FileNotFoundError" in affine["message"]
    assert any(f"opened {stolen}, which the grader hides" in f for f in reports["mallory"]["flags"])
