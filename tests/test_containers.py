"""The container backend (`grade --backend container`): each child and kernel in a container of the
image `grade-build --image` builds. Where no runtime can run a container, the tests that need one skip
and say why; what needs none (the run line, a missing runtime or image) runs everywhere.

The image is built from a base that has the grader's Python: CONTAINER_BASE_ENV names one (`.ci/run`
makes one with Debian's debootstrap, as this host reaches no image registry), else Docker Hub's
python image of this minor version, if the runtime has it.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from bugs import TEST_SEED, apply_spec, bug_names, load_bug
from conftest import ROOT
from recording import graded_reference, loaded
from test_hostile import MARKERS, Listener, attack_options, build, check_losses, spec

from grader import containers
from grader.backends import Policy
from grader.backends.container import ContainerBackend
from grader.engine import ReferenceAnswers, SetupError, check_sandbox, grade
from grader.options import GradeOptions
from grader.project import Layout
from grader.sandbox import Limits, SandboxError

CONTAINER_BASE_ENV = "GRADER_TEST_CONTAINER_BASE"
# Set to 1 where a container is known to run (`.ci/container-check`): a test that would skip fails.
REQUIRED_ENV = "GRADER_TEST_CONTAINERS_REQUIRED"
NNDL = Layout(ROOT, "nndl")
# The attacks on what a container must keep out: the course, the seed, classmates, the network, the
# host's files and processes, and the limits.
ATTACKS = (
    "reads_reference_solution",
    "reads_fixture_expected_outputs",
    "reads_hidden_seed",
    "reads_a_classmates_submission",
    "reads_the_course_folder",
    "uncovers_the_reference",
    "runs_git_show_on_the_reference",
    "reads_the_graders_command_line",
    "environment_holds_no_secret",
    "sends_to_a_loopback_listener",
    "writes_outside_scratch",
    "symlink_outside_the_submission",
    "kills_the_grader",
    "fork_bomb",
    "memory_bomb",
    "sigterm_ignored",
    "infinite_loop_in_one_function",
    "closes_the_control_pipe",
)


@functools.cache
def _image() -> str | None:
    """The image built for this grader, or None with the reason in `_why_not`."""
    try:
        command = containers.runtime()
    except containers.ContainerError as exc:
        _why_not.append(str(exc))
        return None
    tag = containers.default_image()
    if subprocess.run([command, "image", "inspect", tag], capture_output=True, check=False).returncode != 0:
        base = os.environ.get(CONTAINER_BASE_ENV) or containers.BASE_IMAGE
        present = subprocess.run([command, "image", "inspect", base], capture_output=True, check=False)
        if present.returncode != 0:
            _why_not.append(f"no base image {base} here; name one with {CONTAINER_BASE_ENV} (see .ci/run)")
            return None
        try:
            containers.build(tag, base, echo=False)
        except containers.ContainerError as exc:
            _why_not.append(f"the image could not be built here: {exc}")
            return None
    problem = containers.Container(tag, command).problem()
    if problem is not None:
        _why_not.append(problem)
        return None
    ran = subprocess.run(
        [command, "run", "--rm", "--network", "none", tag, containers.PYTHON, "-c", "import numpy, grader.child"],
        capture_output=True,
        text=True,
        check=False,
    )
    if ran.returncode != 0:
        lines = ran.stderr.strip().splitlines()
        _why_not.append(f"{Path(command).name} cannot run a container here: {lines[-1] if lines else ran.returncode}")
        return None
    return tag


_why_not: list[str] = []


@pytest.fixture(scope="module")
def image() -> str:
    found = _image()
    if found is None:
        why = _why_not[0] if _why_not else "no container runtime"
        if os.environ.get(REQUIRED_ENV) == "1":
            pytest.fail(f"{REQUIRED_ENV}=1, but {why}")
        pytest.skip(why)
    return found


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the containers this test starts (other tests' may run beside it)."""
    names: list[str] = []
    new_name = containers.new_name

    def recorded() -> str:
        names.append(new_name())
        return names[-1]

    monkeypatch.setattr(containers, "new_name", recorded)
    return names


def _left(names: list[str]) -> list[str]:
    """Those of the named containers that still exist."""
    command = containers.runtime()
    existing = subprocess.run(
        [command, "ps", "--all", "--format", "{{.Names}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    return sorted(set(names) & set(existing))


def test_the_run_line_mounts_only_what_the_child_may_see_with_no_network_and_a_read_only_root(
    tmp_path: Path,
) -> None:
    container = containers.Container("localhost/nn-grader:test", "/usr/bin/podman")
    root, outbox, inbox, data = (tmp_path / n for n in ("root", "out", "in", "data"))
    argv = container.run_argv(
        [containers.PYTHON, "-I", "-m", "grader.child"],
        name="nn-grader-0",
        cwd=root,
        writable=[root, outbox],
        readable=[data, inbox],
        env={"HOME": str(root / ".home")},
        limits=Limits(memory_bytes=2**30, processes=32),
    )
    image_at = argv.index("localhost/nn-grader:test")
    options, command = argv[:image_at], argv[image_at + 1 :]
    assert command == [containers.PYTHON, "-I", "-m", "grader.child"]
    pairs = {(options[i], options[i + 1]) for i in range(len(options) - 1)}
    assert {("--network", "none"), ("--cap-drop", "all"), ("--pids-limit", "32"), ("--memory", str(2**30))} <= pairs
    assert {"--read-only", "--rm"} <= set(options)
    volumes = [options[i + 1] for i, word in enumerate(options) if word == "--volume"]
    assert sorted(volumes) == sorted(
        [f"{root}:{root}:rw", f"{outbox}:{outbox}:rw", f"{data}:{data}:ro", f"{inbox}:{inbox}:ro"]
    )
    assert ("--env", f"HOME={root / '.home'}") in pairs
    assert not any(word.startswith("--tmpfs") for word in options)
    # A hidden folder inside a mounted one is covered by an empty one; one outside any is not mounted.
    (data / "answers").mkdir(parents=True)
    (tmp_path / "course").mkdir()
    covered = container.run_argv(
        ["x"],
        name="n",
        cwd=root,
        writable=[root],
        readable=[data],
        env={},
        limits=Limits(),
        hidden=[data / "answers", tmp_path / "course"],
    )
    assert [covered[i + 1] for i, word in enumerate(covered) if word == "--tmpfs"] == [
        f"{data / 'answers'}:ro,notmpcopyup"
    ]
    with pytest.raises(SandboxError, match="':' or ','"):
        container.run_argv(["x"], name="n", cwd=root, writable=[tmp_path / "a:b"], readable=[], env={}, limits=Limits())


def test_without_a_runtime_no_submission_is_graded_and_the_grader_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(containers.RUNTIME_ENV, "/nonexistent/podman")
    containers.runtime.cache_clear()
    try:
        assignment = loaded("nndl", "instructor")
        with pytest.raises(SetupError, match=r"not a command here.*grader's set-up, not a student's fault"):
            check_sandbox(assignment, (), backend=ContainerBackend("localhost/nn-grader:none"))
        report = grade(
            NNDL.reference,
            assignment,
            GradeOptions(hidden_seed=TEST_SEED, image="localhost/nn-grader:none", notebooks=False),
        )
        assert {i.status for i in report.items} == {"grader_error"} and report.total == 0
    finally:
        containers.runtime.cache_clear()


def test_an_image_that_is_not_there_is_named_with_how_to_build_it(image: str) -> None:
    with pytest.raises(SetupError, match="there is no image localhost/nn-grader:absent; build it with grade-build"):
        check_sandbox(loaded("nndl", "instructor"), (), backend=ContainerBackend("localhost/nn-grader:absent"))


def test_in_containers_a_reference_with_notebooks_grades_as_on_this_machine(image: str, started: list[str]) -> None:
    """mlp_lib's reference: module functions, an object its notebook defines (probed in a kernel in a
    container), a threshold measured in a child: every item as the local run grades it."""
    local, _ = graded_reference("mlp_lib", "instructor")
    report = grade(
        Layout(ROOT, "mlp_lib").reference,
        loaded("mlp_lib", "instructor"),
        GradeOptions(hidden_seed=TEST_SEED, image=image),
    )
    assert [(i.id, i.status, i.points) for i in report.items] == [(i.id, i.status, i.points) for i in local.items]
    assert report.isolation.startswith(f"container {image}")
    assert started and _left(started) == []


@pytest.fixture(scope="module")
def answers() -> ReferenceAnswers:
    return ReferenceAnswers()


@pytest.mark.parametrize("name", ATTACKS)
def test_an_attack_in_a_container_loses_what_it_loses_on_this_machine(
    name: str, image: str, tmp_path: Path, answers: ReferenceAnswers, started: list[str]
) -> None:
    """The hostile corpus's attacks on isolation and limits, each graded in containers: the items it
    must lose and nothing else, no marker left on the host, nothing received on the host's loopback."""
    attack = spec(name)
    seed = tmp_path / "secret" / "hidden-seed"
    seed.parent.mkdir()
    seed.write_text(TEST_SEED)
    listener = Listener()
    try:
        submission = build(name, tmp_path / "class" / name, seed, listener.port)
        options = attack_options(attack, seed.parent, image)
        report = grade(submission, loaded("nndl", "instructor"), options, answers=answers)
    finally:
        listener.close()
    check_losses(name, attack, report)
    for marker in MARKERS:
        assert not os.path.exists(marker), marker
    assert listener.received == [], "a child reached the host's network"
    assert started and _left(started) == [], "a container outlived its submission"


def test_a_class_graded_in_containers_from_the_command_line(image: str, tmp_path: Path, started: list[str]) -> None:
    """`grade CLASS --backend container`: the canary, two batch workers and the gradebook, whose rows
    are those of the class test's golden gradebook (graded on this machine) for the same submissions."""
    from grader import cli

    folder = tmp_path / "submissions"
    folder.mkdir()
    names = ["correct_0", "unfinished_0"]
    apply_spec({}, folder / "correct_0", "correct")
    shutil.copytree(NNDL.template, folder / "unfinished_0")
    for bug in bug_names("nndl")[:4]:
        apply_spec(load_bug(bug), folder / f"bug_{bug}", bug)
        names.append(f"bug_{bug}")
    seed = tmp_path / "secret" / "seed"
    seed.parent.mkdir()
    seed.write_text(TEST_SEED)
    args = [str(folder), "--out", str(tmp_path / "out"), "--jobs", "2", "--no-notebooks", "--quiet"]
    args += ["--reference", str(NNDL.reference), "--fixtures", str(NNDL.fixtures), "--hidden-seed-file", str(seed)]
    assert cli.main([*args, "--timeout", "2", "--backend", "container", "--image", image]) == 0
    with (tmp_path / "out" / "gradebook.csv").open() as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    with (ROOT / "tests" / "data" / "batch_gradebook.csv").open() as f:
        golden = {row["submission"]: row for row in csv.DictReader(f)}
    assert sorted(rows) == sorted(names)
    for name in names:
        assert float(rows[name].pop("seconds")) > 0  # how long it took, which the golden leaves out
        assert rows[name] == golden[name], name
    assert started and _left(started) == []


def test_a_looping_cell_is_interrupted_in_a_kernels_container_and_the_next_notebook_has_a_fresh_one(
    image: str, tmp_path: Path, started: list[str]
) -> None:
    import nbformat

    from grader.notebooks import NotebookJob

    scratch, requests = tmp_path / "submission", tmp_path / "requests"
    scratch.mkdir()
    requests.mkdir()
    first = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("import builtins; builtins.left_by_the_first = 1"),
            nbformat.v4.new_code_cell("while True:\n    pass"),
            nbformat.v4.new_code_cell("open('after.txt', 'w').write('ran')"),
        ]
    )
    second = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import builtins\nassert not hasattr(builtins, 'left_by_the_first')")]
    )
    nbformat.write(first, scratch / "first.ipynb")
    nbformat.write(second, scratch / "second.ipynb")
    jobs = [NotebookJob(scratch / "first.ipynb", 2, 60), NotebookJob(scratch / "second.ipynb", 10, 60)]
    runs = ContainerBackend(image).notebooks(jobs, scratch, requests, Policy())
    assert [r.status for r in runs] == ["timeout", "ok"], [r.message for r in runs]
    assert (scratch / "after.txt").read_text() == "ran"  # the cell after the interrupted one ran
    assert len(started) == 2 and _left(started) == []


@pytest.mark.parametrize(
    "info, docker, refused",
    [
        ("v1 true", False, True),  # podman rootless on cgroups v1: --memory and --pids-limit ignored
        ("v1 false", False, False),
        ("v2 true", False, False),
        ("1 [name=seccomp,profile=builtin name=rootless]", True, True),
        ("2 [name=seccomp,profile=builtin name=rootless name=cgroupns]", True, False),
        ("1 [name=seccomp,profile=builtin]", True, False),
    ],
)
def test_a_runtime_that_would_ignore_the_limits_is_refused(info: str, docker: bool, refused: bool) -> None:
    problem = containers.limits_problem(info, docker)
    assert (problem is not None) == refused
    if problem is not None:
        assert "ignores the memory and process limits" in problem and "--backend local" in problem


def test_a_hidden_folder_inside_a_data_folder_is_covered_in_the_container(
    image: str, tmp_path: Path, started: list[str]
) -> None:
    """A data folder the children may read, holding a hidden folder and a hidden file (the course's
    answers kept beside its data): the child starts, which it does only once it has checked that it
    can read nothing hidden, and a probe that reads them finds an empty folder and an empty file."""
    data = tmp_path / "data"
    (data / "answers").mkdir(parents=True)
    (data / "answers" / "expected.npz").write_bytes(b"the answers")
    (data / "seed").write_text("the seed")
    (data / "train.csv").write_text("1,2\n")
    root, requests = tmp_path / "root", tmp_path / "requests"
    root.mkdir()
    requests.mkdir()
    (root / "peek.py").write_text(
        "import os\n"
        "import numpy as np\n"
        "def peek(x):\n"
        f"    data = {str(data)!r}\n"
        "    answers, seed, train = (os.path.join(data, name) for name in ('answers', 'seed', 'train.csv'))\n"
        "    return np.array([len(os.listdir(answers)), os.path.getsize(seed), len(open(train).read())])\n"
    )
    policy = Policy(hidden=(data / "answers", data / "seed"), readable=(data,))
    params = {"params": ["x"], "returns": ["out"], "target": "peek", "compare": ["out"]}
    with ContainerBackend(image).session(root, requests, policy) as session:
        result = session.run("peek", "peek", "compare:call", params, {"x": np.zeros(1)}, 30)
    assert result.status == "ok", result.meta
    assert result.outputs["returned"]["out"].tolist() == [0, 0, 4]
    assert len(started) == 1 and _left(started) == []


def test_a_class_with_notebooks_in_containers_gets_this_machines_gradebook(image: str, tmp_path: Path) -> None:
    """The bundled example and the reference, notebooks included, one worker (`--jobs 1`, so the
    second submission's first kernel is started ahead, in a container): the gradebook is the one
    this machine's processes give, grading times aside."""
    from grader import cli

    folder = tmp_path / "submissions"
    shutil.copytree(ROOT / "examples" / "nndl_submission", folder / "example")
    shutil.copytree(NNDL.reference, folder / "reference")
    seed = tmp_path / "secret" / "seed"
    seed.parent.mkdir()
    seed.write_text(TEST_SEED)
    args = [str(folder), "--assignment", "nndl", "--jobs", "1", "--quiet", "--hidden-seed-file", str(seed)]
    args += ["--reference", str(NNDL.reference), "--fixtures", str(NNDL.fixtures)]
    books = []
    for where, extra in (("local", []), ("boxed", ["--backend", "container", "--image", image])):
        assert cli.main([*args, "--out", str(tmp_path / where), *extra]) == 0
        with (tmp_path / where / "gradebook.csv").open() as f:
            books.append({row.pop("submission"): row for row in csv.DictReader(f) if row.pop("seconds")})
    assert books[0] == books[1] and sorted(books[0]) == ["example", "reference"]
    boxed = [json.loads(p.read_text())["report"] for p in sorted((tmp_path / "boxed" / "cache").glob("*.json"))]
    assert [r["isolation"].split(";")[0] for r in boxed] == [f"container {image}"] * 2
    assert books[0]["example"]["grader_errors"] == "0" and float(books[0]["reference"]["automatic"]) == float(
        books[0]["reference"]["automatic_max"]
    )


def test_on_a_dask_cluster_the_workers_grade_in_containers(image: str, tmp_path: Path) -> None:
    """`--scheduler` with `--backend container`: the image travels with the options, each worker
    checks it and grades in it; every class report is the local run's, grading times aside."""
    import distributed
    from class_outputs import without_timing

    from grader import cli

    folder = tmp_path / "submissions"
    apply_spec({}, folder / "correct", "correct")
    apply_spec(load_bug("fails_adam_without_bias_correction"), folder / "adam", "adam")
    shutil.copytree(NNDL.template, folder / "unfinished")
    seed = tmp_path / "secret" / "seed"
    seed.parent.mkdir()
    seed.write_text(TEST_SEED)
    args = [str(folder), "--no-notebooks", "--quiet", "--hidden-seed-file", str(seed)]
    args += ["--reference", str(NNDL.reference), "--fixtures", str(NNDL.fixtures), "--image", image]
    args += ["--backend", "container"]
    assert cli.main([*args, "--out", str(tmp_path / "local"), "--jobs", "2"]) == 0
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
    ) as cluster:
        assert cli.main([*args, "--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address]) == 0
    assert without_timing(tmp_path / "dask") == without_timing(tmp_path / "local")
    with (tmp_path / "dask" / "gradebook.csv").open() as f:
        totals = {row["submission"]: float(row["total"]) for row in csv.DictReader(f)}
    assert totals["correct"] == 58 and totals["unfinished"] == 0 and 0 < totals["adam"] < 58
    cached = [json.loads(p.read_text()) for p in sorted((tmp_path / "dask" / "cache").glob("*.json"))]
    isolated = {c["report"]["isolation"] for c in cached}
    assert len(cached) == 3 and isolated == {f"container {image}; the runtime's pids limit"}
