"""What children and kernels produce is read by the grader as untrusted data: bounded in size,
regular files only, array headers checked before anything is allocated, kernel output capped."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest

from grader import codec
from grader.child import write_reply
from grader.untrusted import BodyOverLimit, UntrustedFileError, read_file, read_line_and_body

# Run in a fresh interpreter, so that its peak memory is the grading's alone.
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec.
NOTEBOOK_MEMORY = """
import json, re, sys
from pathlib import Path
from grader.notebooks import execute
run = execute(Path(sys.argv[1]), Path(sys.argv[2]), cell_timeout_s=30, timeout_s=60)
figures = sum(len(data) for _, data in run.figures)
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(run.status, len(run.figures), figures, peak_kb // 1024)
print(json.dumps([[e.index, e.name] for e in run.errors]))  # why, when the status is not "ok"
print(run.message)
"""


def test_a_fifo_where_a_file_should_be_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "meta.json"
    os.mkfifo(fifo)
    with pytest.raises(UntrustedFileError, match="not a regular file"):
        read_file(fifo, 1024)


def test_a_link_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("reference code")
    (tmp_path / "meta.json").symlink_to(tmp_path / "secret")
    with pytest.raises(UntrustedFileError, match="cannot be opened"):
        read_file(tmp_path / "meta.json", 1024)


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 2048)
    with pytest.raises(UntrustedFileError, match="over the 1024-byte limit"):
        read_file(tmp_path / "big", 1024)
    assert read_file(tmp_path / "big", 2048) == b"x" * 2048


def test_a_reply_is_read_as_its_line_and_its_body_each_within_its_limit(tmp_path: Path) -> None:
    """A child's reply (`grader.child.write_reply`): a line of metadata, then the returned value."""
    reply = tmp_path / "reply"
    write_reply(reply, {"status": "ok", "message": "two\nlines"}, b"\n\x00body")
    line, body = read_line_and_body(reply, 1024, 6)
    assert (json.loads(line), body) == ({"status": "ok", "message": "two\nlines"}, b"\n\x00body")
    with pytest.raises(BodyOverLimit, match="6 bytes, over the 5-byte limit") as over:
        read_line_and_body(reply, 1024, 5)
    assert json.loads(over.value.head)["status"] == "ok"  # the metadata still says what happened
    with pytest.raises(UntrustedFileError, match="no first line of at most 10 bytes"):
        read_line_and_body(reply, 10, 6)
    with pytest.raises(FileExistsError):
        write_reply(reply, {"status": "ok"}, b"")  # never over a file already there, as a student's
    (tmp_path / "no-newline").write_bytes(b'{"status": "ok"}')
    with pytest.raises(UntrustedFileError, match="no first line"):
        read_line_and_body(tmp_path / "no-newline", 1024, 1024)


def test_a_reply_that_is_a_fifo_or_a_link_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UntrustedFileError, match="not a regular file"):
        read_line_and_body(tmp_path / "fifo", 1024, 1024)
    (tmp_path / "secret").write_text('{"status": "ok"}\nreference code')
    (tmp_path / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(UntrustedFileError, match="cannot be opened"):
        read_line_and_body(tmp_path / "link", 1024, 1024)
    with pytest.raises(OSError):
        write_reply(tmp_path / "link", {"status": "ok"}, b"")  # nor written through a link
    assert (tmp_path / "secret").read_text() == '{"status": "ok"}\nreference code'


def _npz_claiming(shape: tuple[int, ...], compressed: bool = False, payload: int = 64) -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as zf:
        zf.writestr("W1.npy", header.getvalue() + bytes(payload))
    return buf.getvalue()


def test_saved_weights_whose_header_claims_10_to_the_14_floats_are_refused_before_allocation(tmp_path: Path) -> None:
    path = tmp_path / "best_net.npz"
    path.write_bytes(_npz_claiming((10**7, 10**7)))
    with pytest.raises(codec.CodecError, match=r"W1 has shape \(10000000, 10000000\)"):
        codec.load_saved_arrays(path, 100 * 1024**2)


def test_a_compressed_archive_is_read_to_the_limit_and_no_further() -> None:
    data = _npz_claiming((50_000_000,), compressed=True, payload=400_000_000)
    assert len(data) < 1024**2  # a few hundred KB that unpack to 400 MB
    with pytest.raises(codec.CodecError, match="over the 67108864-byte limit"):
        codec.loads(data, 64 * 1024**2)


def test_an_array_shorter_than_its_header_is_refused() -> None:
    with pytest.raises(codec.CodecError, match="shorter than its header"):
        codec.loads(_npz_claiming((100,), payload=80), 1024**2)


def test_values_still_round_trip() -> None:
    value = {"a": np.arange(6.0).reshape(2, 3), "b": [1, 2.5, "x", None, (np.int32(3), True)], "c": float("inf")}
    back = codec.loads(codec.dumps(value), 1024**2)
    assert np.array_equal(back["a"], value["a"]) and back["b"][:4] == [1, 2.5, "x", None]
    assert back["b"][4][1] is True and back["c"] == float("inf")
    back["a"][0, 0] = 7.0  # writable, as arrays read from a file are


def _run_notebook(cells: list[str], tmp_path: Path) -> tuple[str, int, int, int, list[list[Any]], list[str]]:
    """Grades a notebook of these cells in a fresh interpreter: status, figures kept, their bytes, the
    grader's peak memory in MB, the cells' errors and the run's message."""
    path = tmp_path / "floods.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
    out = subprocess.run(
        [sys.executable, "-c", NOTEBOOK_MEMORY, str(path), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.splitlines()
    first = out[0].split()
    return first[0], int(first[1]), int(first[2]), int(first[3]), json.loads(out[1]), out[2:]


def test_a_notebook_printing_400_mb_and_drawing_50_figures_of_4_mb_leaves_the_grader_small(tmp_path: Path) -> None:
    cells = [
        "print('x' * 400_000_000)",
        "for i in range(50):\n    print('y' * 8_000_000)",
        "print('z' * 1000, end='')\nfor i in range(20_000):\n    print('z' * 1000, end='')",
        (
            "import base64\nfrom IPython.display import display\n"
            "for i in range(50):\n    display({'image/png': base64.b64encode(bytes(3_000_000)).decode()}, raw=True)"
        ),
        "'w' * 100_000_000",
        "done = True",
    ]
    status, figures, figure_bytes, peak_mb, errors, message = _run_notebook(cells, tmp_path)
    # The kernel cuts what it prints and leaves out figures over the grader's size: the flood costs
    # the notebook nothing, and all its cells run.
    assert (status, errors) == ("ok", []), message
    assert figures <= 50 and figure_bytes <= 20 * 1024**2
    assert peak_mb < 250, f"the grader's process peaked at {peak_mb} MB"


def test_a_kernel_that_sends_around_its_bounds_cannot_fill_the_grader(tmp_path: Path) -> None:
    # Student code runs in the kernel and can send a message of any size on the kernel's own socket.
    # The grader drops the connection on it; what the notebook's verdict becomes is the student's
    # doing, never the grader's fault, and the grader stays small.
    cells = [
        (
            "k = get_ipython().kernel\n"
            "msg = k.session.msg('stream', {'name': 'stdout', 'text': 'x' * 200_000_000}, parent=k.get_parent())\n"
            "k.iopub_socket.send_multipart(k.session.serialize(msg, ident=b'stream.stdout'))"
        ),
        "done = True",
    ]
    status, _figures, _bytes, peak_mb, _errors, message = _run_notebook(cells, tmp_path)
    assert status in ("ok", "error", "timeout", "dead"), message
    assert peak_mb < 250, f"the grader's process peaked at {peak_mb} MB"


def test_a_reply_of_more_arrays_than_allowed_is_refused() -> None:
    value = [np.zeros(1) for _ in range(codec.MAX_MEMBERS + 1)]
    with pytest.raises(codec.CodecError, match="arrays, more than"):
        codec.loads(codec.dumps(value), 1024**2)
