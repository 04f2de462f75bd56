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


def read_file(path: Path, max_bytes: int, folder_fd: int | None = None) -> bytes:
    """The bytes of a regular file of at most max_bytes. With folder_fd, path is a name inside that
    already opened folder (so no link on the way can redirect the read)."""
    try:
        fd = os.open(path, _FLAGS, dir_fd=folder_fd)
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


def open_folder(path: Path) -> int:
    """A descriptor of a real folder (not a link to one), for reading the files in it with read_file."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise UntrustedFileError(f"{path.name} cannot be opened as a folder: {exc.strerror}") from exc


def read_in_folder(folder: Path, names: tuple[str, ...], max_bytes: int) -> dict[str, bytes | None]:
    """Several files of one folder, each bounded; None for a file that is absent."""
    fd = open_folder(folder)
    try:
        out: dict[str, bytes | None] = {}
        for name in names:
            try:
                os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                out[name] = None
                continue
            out[name] = read_file(Path(name), max_bytes, folder_fd=fd)
        return out
    finally:
        os.close(fd)


def is_regular_file(path: Path) -> bool:
    """True for a regular file that is not a link (never blocks, never follows)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
