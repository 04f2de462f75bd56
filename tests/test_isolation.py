"""What the host's isolation is, said in one line, and what it protects."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import nbformat
import pytest
from bugs import TEST_SEED, apply_spec
from conftest import ROOT

from grader import cli
from grader.isolation import ISOLATION_ENV, bwrap_path, describe
from grader.notebooks import execute
from grader.project import Layout

LAYOUT = Layout(ROOT, "nndl")


def test_describe_names_the_isolation_and_the_process_cap() -> None:
    line = describe()
    if os.environ.get(ISOLATION_ENV) == "none":
        assert bwrap_path() is None
    assert line.startswith("bubblewrap" if bwrap_path() else "no isolation")
    assert "processes" in line


def test_instructor_mode_without_isolation_refuses_to_start_and_says_what_a_student_could_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ISOLATION_ENV, "none")
    monkeypatch.delenv("GRADER_ALLOW_UNISOLATED")
    bwrap_path.cache_clear()
    try:
        seed = tmp_path / "secret" / "seed"
        seed.parent.mkdir()
        seed.write_text(TEST_SEED)
        student = apply_spec({}, tmp_path / "alice", "alice")
        common = [str(student), "--reference", str(LAYOUT.reference), "--fixtures", str(LAYOUT.fixtures),
                  "--hidden-seed-file", str(seed), "--no-notebooks", "--quiet", "--json", str(tmp_path / "r.json")]
        assert cli.main(common) == 2
        err = capsys.readouterr().err
        assert "instructor mode without isolation" in err and "read the reference solution" in err
        assert "apt install bubblewrap" in err and "--allow-unisolated" in err
        assert not (tmp_path / "r.json").exists()
        assert cli.main([*common, "--allow-unisolated"]) == 0
        assert json.loads((tmp_path / "r.json").read_text())["total"] == 58
        # Student mode needs no isolation: the student grades their own code.
        assert cli.main([str(student), "--student-mode", "--fixtures", str(LAYOUT.fixtures), "--no-notebooks",
                         "--quiet"]) == 0
        # A reference merely found beside the fixtures: one submission (the README's example) is graded
        # in student mode, saying why; a class is refused.
        capsys.readouterr()
        implicit = [str(student), "--no-notebooks", "--quiet", "--json", str(tmp_path / "implicit.json")]
        assert cli.main(implicit) == 0
        assert json.loads((tmp_path / "implicit.json").read_text())["mode"] == "student"
        assert "graded in student mode (public checks only)" in capsys.readouterr().err
        assert cli.main([str(tmp_path), "--assignment", "nndl", "--no-notebooks", "--quiet",
                         "--out", str(tmp_path / "out")]) == 2
        assert "instructor mode without isolation" in capsys.readouterr().err
    finally:
        bwrap_path.cache_clear()


def test_a_notebook_cannot_reach_or_see_any_socket_of_the_host(tmp_path: Path) -> None:
    """Kernels talk to the grader over Unix sockets in a private folder, so under bubblewrap they run
    in a network namespace of their own: the host's loopback, other kernels' ports and the grader's
    are out of reach and out of sight."""
    if bwrap_path() is None:
        pytest.skip("needs bubblewrap: without isolation a kernel has the host's network")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(3)
    port = server.getsockname()[1]
    cells = [f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'x')\n"
             "    reached = True\nexcept OSError:\n    reached = False\nassert not reached, 'reached the host'",
             # How one kernel found another's ports: the host's sockets are not even listed.
             f"assert ':{port:04X} ' not in open('/proc/net/tcp').read(), 'sees the host sockets'"]
    path = tmp_path / "net.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
    try:
        run = execute(path, tmp_path, cell_timeout_s=30, timeout_s=60)
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()
    assert run.status == "ok", (run.message, run.errors)
