"""Opening what a student handed in: a folder as it is, a `.zip` extracted defensively.

A zip may hold `../` or absolute paths, links, or a bomb that unpacks to gigabytes;
none of these may write outside the extraction folder or fill the disk. Each member
is checked before it is written, and the total is counted as it is read.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_MEMBERS = 5000
MAX_TOTAL_BYTES = 200 * 1024**2
CHUNK = 1024**2


class SubmissionError(ValueError):
    """The submission cannot be opened safely; the message says why."""


def extract_zip(archive: Path, dest: Path) -> Path:
    """Extract a submission zip into dest; returns the submission's root folder inside it."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{archive.name} is not a readable zip file: {exc}") from exc
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise SubmissionError(f"{archive.name} holds {len(members)} files, more than {MAX_MEMBERS}")
        for info in members:
            name = PurePosixPath(info.filename.replace("\\\\", "/"))
            if name.is_absolute() or ".." in name.parts or not name.parts:
                raise SubmissionError(f"{archive.name} contains an unsafe path: {info.filename!r}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise SubmissionError(f"{archive.name} contains a link: {info.filename!r}")
            target = dest.joinpath(*name.parts)
            try:
                # Members may conflict (a file "a" and a folder "a/"): that is the zip's fault.
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    while chunk := src.read(CHUNK):
                        total += len(chunk)
                        if total > MAX_TOTAL_BYTES:
                            raise SubmissionError(
                                f"{archive.name} unpacks to more than {MAX_TOTAL_BYTES // 2**20} MB (a zip bomb?)"
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError, EOFError) as exc:
                raise SubmissionError(f"{archive.name}: cannot extract {info.filename!r}: {exc}") from exc
    entries = [p for p in dest.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir() and not (dest / "grade.toml").exists():
        return entries[0]  # the usual zip of one folder
    return dest
