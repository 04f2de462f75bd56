"""What the host's isolation is, said in one line, and what it protects."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pytest
from bugs import TEST_SEED, apply_spec
from conftest import ROOT

from grader import cli, users
from grader.confine import exposed
from grader.engine import SetupError, check_sandbox, load_assignment
from grader.isolation import ISOLATION_ENV, LEVELS, bwrap_path, describe, level
from grader.notebooks import execute
from grader.project import Layout
from grader.sandbox import ChildSession

LAYOUT = Layout(ROOT, "nndl")


def test_describe_names_the_isolation_and_the_process_cap() -> None:
    line = describe()
    forced = os.environ.get(ISOLATION_ENV)
    if forced in ("none", "user", "namespaces"):
        assert bwrap_path() is None and level() == forced
    elif bwrap_path():
        assert level() == "bubblewrap"
    assert line.startswith(LEVELS[level()]) and "processes" in line


def test_the_exposure_check_finds_a_readable_hidden_file_and_skips_what_the_child_needs(tmp_path: Path) -> None:
    course = tmp_path / "course"
    (course / "reference").mkdir(parents=True)
    (course / "reference" / "layers.py").write_text("def affine_forward(): ...")
    (course / ".venv" / "lib").mkdir(parents=True)
    (course / ".venv" / "lib" / "numpy.py").write_text("x = 1")
    (course / "empty.txt").write_text("")  # what bubblewrap puts in place of a hidden file reads as empty
    needed = (str(course / ".venv"),)
    assert exposed((str(course),), needed) == str(course / "reference" / "layers.py")
    (course / "reference" / "layers.py").unlink()
    assert exposed((str(course),), needed) is None
    assert exposed((str(course),), ()) == str(course / ".venv" / "lib" / "numpy.py")
    assert exposed((str(tmp_path / "missing"),), ()) is None


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder every user of the host can read, holding a secret."""
    folder = Path(tempfile.mkdtemp(prefix="open-secret-"))
    folder.chmod(0o755)
    (folder / "seed").write_text("hidden seed")
    (folder / "seed").chmod(0o644)
    yield folder
    shutil.rmtree(folder)


def test_the_canary_refuses_a_hidden_path_the_children_could_read(open_folder: Path) -> None:
    """Bubblewrap hides a secret whatever its permissions; a dedicated user is kept out only by them,
    so the canary checks, and refuses to start while the secret is readable."""
    assignment = load_assignment(LAYOUT.fixtures, LAYOUT.reference)
    if level() == "none":
        pytest.skip("without isolation nothing is hidden: instructor mode refuses to start instead")
    if level() == "user":
        with pytest.raises(SetupError, match=f"the sandbox can read {open_folder}/seed.*chmod -R go-rwx"):
            check_sandbox(assignment, (open_folder,))
        open_folder.chmod(0o700)
    check_sandbox(assignment, (open_folder,))


@pytest.fixture
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        (Path(tmp) / "root").mkdir()
        (Path(tmp) / "work").mkdir()
        yield Path(tmp)


LEAVES_PROCESSES_AND_FILES = """
import os, subprocess

def who(x):
    # A process that leaves the process group, and a file where every user may write.
    subprocess.Popen(["setsid", "sleep", "300"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    with open(f"/var/tmp/left-by-{os.getuid()}", "w") as f:
        f.write("for the next student")
    return x + os.getuid()
"""


def test_at_the_user_level_a_child_runs_as_its_own_user_and_leaves_nothing_behind(scratch: Path) -> None:
    if level() != "user":
        pytest.skip("the dedicated users are the isolation of root without bubblewrap")
    root = scratch / "root"
    (root / "student.py").write_text(LEAVES_PROCESSES_AND_FILES)
    params = {"params": ["x"], "returns": ["out"], "target": "who", "compare": ["out"]}
    with ChildSession(root, scratch / "work") as session:
        result = session.run("student", "who", "compare:call", params, {"x": np.zeros(1)}, timeout_s=30)
        assert session.lease is not None
        uid = session.lease.uid
        assert result.status == "ok", result
        assert result.outputs["returned"]["out"][0] == uid and uid not in (0, os.getuid())
        assert os.stat(root).st_uid == uid and os.stat(root).st_mode & 0o777 == 0o700
        assert users._pids_of(uid), "the detached process should still run while the session lives"
    assert users._pids_of(uid) == []
    assert not Path(f"/var/tmp/left-by-{uid}").exists()


def test_instructor_mode_without_isolation_refuses_to_start_and_says_what_a_student_could_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ISOLATION_ENV, "none")
    monkeypatch.delenv("GRADER_ALLOW_UNISOLATED")
    bwrap_path.cache_clear()
    try:
        seed = tmp_path / "secret" / "seed"
        seed.parent.mkdir()
        seed.write_text(TEST_SEED)
        student = apply_spec({}, tmp_path / "alice", "alice")
        common = [
            str(student),
            "--reference",
            str(LAYOUT.reference),
            "--fixtures",
            str(LAYOUT.fixtures),
            "--hidden-seed-file",
            str(seed),
            "--no-notebooks",
            "--quiet",
            "--json",
            str(tmp_path / "r.json"),
        ]
        assert cli.main(common) == 2
        err = capsys.readouterr().err
        assert "instructor mode without isolation" in err and "read the reference solution" in err
        assert "apt install bubblewrap" in err and "--allow-unisolated" in err
        assert not (tmp_path / "r.json").exists()
        assert cli.main([*common, "--allow-unisolated"]) == 0
        assert json.loads((tmp_path / "r.json").read_text())["total"] == 58
        # Student mode needs no isolation: the student grades their own code.
        assert (
            cli.main([str(student), "--student-mode", "--fixtures", str(LAYOUT.fixtures), "--no-notebooks", "--quiet"])
            == 0
        )
        # A reference merely found beside the fixtures: one submission (the README's example) is graded
        # in student mode, saying why; a class is refused.
        capsys.readouterr()
        implicit = [str(student), "--no-notebooks", "--quiet", "--json", str(tmp_path / "implicit.json")]
        assert cli.main(implicit) == 0
        assert json.loads((tmp_path / "implicit.json").read_text())["mode"] == "student"
        assert "graded in student mode (public checks only)" in capsys.readouterr().err
        assert (
            cli.main(
                [str(tmp_path), "--assignment", "nndl", "--no-notebooks", "--quiet", "--out", str(tmp_path / "out")]
            )
            == 2
        )
        assert "instructor mode without isolation" in capsys.readouterr().err
    finally:
        bwrap_path.cache_clear()


def test_a_notebook_cannot_reach_or_see_any_socket_of_the_host(tmp_path: Path) -> None:
    """Kernels talk to the grader over Unix sockets in a private folder, so under bubblewrap (or user
    namespaces) they run in a network namespace of their own: the host's loopback, other kernels'
    ports and the grader's are out of reach and out of sight."""
    if level() not in ("bubblewrap", "namespaces"):
        pytest.skip(f"only namespaces take the network away: at the level {level()!r} a kernel has the host's")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(3)
    port = server.getsockname()[1]
    cells = [
        (
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'x')\n"
            "    reached = True\nexcept OSError:\n    reached = False\nassert not reached, 'reached the host'"
        ),
        # How one kernel found another's ports: the host's sockets are not even listed.
        f"assert ':{port:04X} ' not in open('/proc/net/tcp').read(), 'sees the host sockets'",
    ]
    path = tmp_path / "net.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
    try:
        run = execute(path, tmp_path, cell_timeout_s=30, timeout_s=60)
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()
    assert run.status == "ok", (run.message, run.errors)


def test_at_the_user_level_a_notebook_kernel_runs_as_its_submissions_user(scratch: Path) -> None:
    if level() != "user":
        pytest.skip("the dedicated users are the isolation of root without bubblewrap")
    private = scratch / "grader-only.txt"
    private.write_text("the grader's")
    private.chmod(0o600)
    root = scratch / "root"
    cells = [
        "import os, signal",
        "assert os.getuid() != 0, 'runs as root'",
        (
            f"try:\n    os.kill({os.getpid()}, 0)\n    signalled = True\nexcept PermissionError:\n"
            "    signalled = False\nassert not signalled, 'could signal the grader'"
        ),
        (
            f"try:\n    open({str(private)!r}).read()\n    read = True\nexcept PermissionError:\n    read = False\n"
            "assert not read, 'read a file of the grader'"
        ),
        "open('written-by-the-kernel.txt', 'w').write(str(os.getuid()))",
    ]
    path = root / "who.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
    run = execute(path, root, cell_timeout_s=30, timeout_s=60)
    assert run.status == "ok", (run.message, run.errors)
    uid = int((root / "written-by-the-kernel.txt").read_text())
    assert uid >= users.POOL_BASES[-1] and users._pids_of(uid) == []


def test_a_grader_whose_umask_keeps_others_out_still_reaches_its_children(scratch: Path) -> None:
    """With umask 077 (a hardened root account's), what the grader writes for a child is still
    readable by it: at the level `user` the child reads its requests as another user, and every
    child used to fail as the grader's error. The other levels must not mind either."""
    root = scratch / "root"
    (root / "student.py").write_text("def plus_one(x):\n    return x + 1\n")
    params = {"params": ["x"], "returns": ["out"], "target": "plus_one", "compare": ["out"]}
    notebook = root / "cells.ipynb"
    cells = [nbformat.v4.new_code_cell("import numpy as np\nassert np.ones(2).sum() == 2")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), notebook)
    before = os.umask(0o077)
    try:
        with ChildSession(root, scratch / "work") as session:
            result = session.run("student", "plus_one", "compare:call", params, {"x": np.zeros(1)}, timeout_s=30)
        run = execute(notebook, root, cell_timeout_s=30, timeout_s=60)
    finally:
        os.umask(before)
    assert result.status == "ok", result
    assert result.outputs["returned"]["out"][0] == 1
    assert run.status == "ok", (run.message, run.errors)


NAMESPACE_VIEW = """
import os, socket, sys
hidden, writable, secret, course = sys.argv[1:5]
status = open('/proc/self/status').read()
assert 'CapEff:\\t0000000000000000' in status, 'has capabilities'
assert sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) == [1], 'sees other processes'
# Under the fresh /tmp a hidden path is missing; elsewhere it is covered by an empty folder, where
# only what the child needs (the environment inside a checkout, say) is bound back.
assert not os.path.exists(hidden) or os.listdir(hidden) == [], 'sees the hidden folder'
assert not os.path.exists(secret) or open(secret).read() == '', 'reads the hidden file'
assert not os.path.exists(os.path.join(course, 'reference')), 'sees the course folder'
assert not os.path.exists(os.path.join(course, '.git')), 'sees the checkout'
open(os.path.join(writable, 'ok'), 'w').write('x')
for where in ('/usr/written', os.path.join(os.path.dirname(sys.executable), 'written')):
    try:
        open(where, 'w')
        raise SystemExit(f'wrote {where}')
    except OSError:
        pass
try:
    socket.create_connection(('127.0.0.1', int(sys.argv[5])), timeout=2)
    raise SystemExit('reached the host')
except OSError:
    pass
print('contained')
"""


def test_under_user_namespaces_a_child_sees_only_its_own_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The view `grader.userns` builds: no capabilities, its own processes only, the hidden paths
    empty, the file system read-only except its writable folders, no network."""
    from grader import isolation

    monkeypatch.setenv(ISOLATION_ENV, "namespaces")
    if isolation.namespaces_problem() is not None:
        pytest.skip(f"user namespaces do not work here: {isolation.namespaces_problem()}")
    hidden, writable = tmp_path / "course", Path(tempfile.mkdtemp(prefix="grade-"))
    (hidden / "reference").mkdir(parents=True)
    (hidden / "reference" / "layers.py").write_text("answers")
    secret = Path(tempfile.mkdtemp(prefix="secret-")) / "seed"
    secret.write_text("seed")
    server = socket.create_server(("127.0.0.1", 0))
    try:
        argv = isolation.wrap(
            [
                sys.executable,
                "-I",
                "-c",
                NAMESPACE_VIEW,
                str(hidden),
                str(writable),
                str(secret),
                str(ROOT),
                str(server.getsockname()[1]),
            ],
            cwd=writable,
            writable=[writable],
            readable=[],
            hidden=[hidden, secret, ROOT],
        )
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    finally:
        server.close()
        shutil.rmtree(secret.parent)
    try:
        assert (done.returncode, done.stdout.strip()) == (0, "contained"), done.stderr[-2000:]
        assert (writable / "ok").read_text() == "x"
    finally:
        shutil.rmtree(writable)


def _notebook(path: Path, *sources: str) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path


def test_a_cell_past_its_limit_is_interrupted_and_the_rest_of_the_notebook_runs(scratch: Path) -> None:
    """At every isolation level: the kernel stops the cell when asked, and later cells still run."""
    root = scratch / "root"
    path = _notebook(
        root / "loop.ipynb",
        "def train():\n    while True:\n        pass",
        "train()",
        "open('after.txt', 'w').write('ran')",
    )
    run = execute(path, root, cell_timeout_s=3, timeout_s=60)
    assert run.status == "timeout", (run.message, run.errors)
    assert run.message.startswith("cell 2 of loop.ipynb ('train()') ran longer than 3 s and was interrupted")
    assert run.errors == ()  # the interrupt is the timeout, not an error of the student's
    assert (root / "after.txt").read_text() == "ran"


def test_a_cell_that_ignores_the_interrupt_costs_the_rest_of_the_notebook(scratch: Path) -> None:
    root = scratch / "root"
    path = _notebook(
        root / "stubborn.ipynb",
        "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass",
        "open('after.txt', 'w').write('ran')",
    )
    run = execute(path, root, cell_timeout_s=2, timeout_s=60)
    assert run.status == "timeout"
    assert "ran longer than 2 s and did not stop when interrupted (cell 1:" in run.message, run.message
    assert not (root / "after.txt").exists()
