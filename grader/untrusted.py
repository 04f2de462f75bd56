"""Reading what a child or a kernel produced, as the grader must: bounded, and regular files only.

A student's code can put anything where the grader reads a reply: a FIFO (a plain
`open` would block the grader forever), a device, a link to a file the student may
not read, or a file of gigabytes. Every such read goes through `read_file`, which
opens without following links and without blocking, refuses anything but a regular
file, and reads no more than the limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 1024**2


class UntrustedFileError(OSError):
    """A file a child produced cannot be read safely; the message says why, for the student's report."""


def read_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most max_bytes."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        raise UntrustedFileError(f"{path.name} cannot be opened: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UntrustedFileError(f"{path.name} is not a regular file")
        if info.st_size > max_bytes:
            raise UntrustedFileError(f"{path.name} is {info.st_size} bytes, over the {max_bytes}-byte limit")
        chunks, total = [], 0
        while chunk := os.read(fd, min(CHUNK, max_bytes + 1 - total)):
            total += len(chunk)
            if total > max_bytes:  # it grew while being read
                raise UntrustedFileError(f"{path.name} is over the {max_bytes}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class BodyOverLimit(UntrustedFileError):
    """The part after a file's first line is over its limit; the line itself was read."""

    def __init__(self, head: bytes, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes, over the {limit}-byte limit")
        self.head, self.size, self.limit = head, size, limit


def read_line_and_body(path: Path, max_line: int, max_body: int) -> tuple[bytes, bytes]:
    """A regular file made of a first line of at most max_line bytes and a body of at most max_body,
    read as `read_file` reads: the line without its newline, and the body. A body over its limit
    raises BodyOverLimit, which holds the line; any other file raises UntrustedFileError."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        raise UntrustedFileError(f"{path.name} cannot be opened: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UntrustedFileError(f"{path.name} is not a regular file")
        start = b""
        while b"\n" not in start and len(start) <= max_line and (chunk := os.read(fd, max_line + 1 - len(start))):
            start += chunk
        line, newline, body = start.partition(b"\n")
        if not newline or len(line) > max_line:
            raise UntrustedFileError(f"{path.name} has no first line of at most {max_line} bytes")
        if (size := info.st_size - len(line) - 1) > max_body:
            raise BodyOverLimit(line, size, max_body)
        chunks, total = [body], len(body)
        while total <= max_body and (chunk := os.read(fd, min(CHUNK, max_body + 1 - total))):
            total += len(chunk)
            chunks.append(chunk)
        if total > max_body:  # it grew while being read
            raise BodyOverLimit(line, total, max_body)
        return line, b"".join(chunks)
    finally:
        os.close(fd)


def is_regular_file(path: Path) -> bool:
    """True for a regular file that is not a link (never blocks, never follows)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
