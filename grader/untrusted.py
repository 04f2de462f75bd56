"""Reading what a child or a kernel produced, as the grader must: bounded, and regular files only.

A student's code can put anything where the grader reads a reply: a FIFO (a plain
`open` would block the grader forever), a device, a link to a file the student may
not read, or a file of gigabytes. Every such read goes through `read_file` (or, for a
child's reply, `read_line_and_body`), which opens without following links and without
blocking, refuses anything but a regular file, and reads no more than the limit.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 1024**2


class UntrustedFileError(OSError):
    """A file a child produced cannot be read safely; the message says why, for the student's report."""


@contextmanager
def _regular(path: Path) -> Iterator[tuple[int, int]]:
    """A descriptor of path and its size, for a regular file opened without following a link and
    without blocking; closed on leaving."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        raise UntrustedFileError(f"{path.name} cannot be opened: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UntrustedFileError(f"{path.name} is not a regular file")
        yield fd, info.st_size
    finally:
        os.close(fd)


def _read_up_to(fd: int, count: int) -> bytes:
    """At most count bytes from fd, fewer only at its end."""
    chunks, total = [], 0
    while total < count and (chunk := os.read(fd, min(CHUNK, count - total))):
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most max_bytes."""
    with _regular(path) as (fd, size):
        if size > max_bytes:
            raise UntrustedFileError(f"{path.name} is {size} bytes, over the {max_bytes}-byte limit")
        data = _read_up_to(fd, max_bytes + 1)
        if len(data) > max_bytes:  # it grew while being read
            raise UntrustedFileError(f"{path.name} is over the {max_bytes}-byte limit")
        return data


class BodyOverLimit(UntrustedFileError):
    """The part after a file's first line is over its limit; the line itself was read."""

    def __init__(self, head: bytes, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes, over the {limit}-byte limit")
        self.head, self.size, self.limit = head, size, limit


def read_line_and_body(path: Path, max_line: int, max_body: int) -> tuple[bytes, bytes]:
    """A regular file made of a first line of at most max_line bytes and a body of at most max_body,
    read as `read_file` reads: the line without its newline, and the body. A body over its limit
    raises BodyOverLimit, which holds the line; any other file raises UntrustedFileError."""
    with _regular(path) as (fd, size):
        line, newline, body = _read_up_to(fd, max_line + 1).partition(b"\n")
        if not newline:
            raise UntrustedFileError(f"{path.name} has no first line of at most {max_line} bytes")
        if size - len(line) - 1 > max_body:
            raise BodyOverLimit(line, size - len(line) - 1, max_body)
        body += _read_up_to(fd, max_body + 1 - len(body))
        if len(body) > max_body:  # it grew while being read
            raise BodyOverLimit(line, len(body), max_body)
        return line, body


def is_regular_file(path: Path) -> bool:
    """True for a regular file that is not a link (never blocks, never follows)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
