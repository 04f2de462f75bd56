"""Where a submission came from: the last commit of a submission that is a git repository (a GitHub
Classroom clone), and whether it came after the due date.

A commit's time is what the student's machine wrote into it, not when it reached GitHub: the late
flag is advice for the staff, not proof (GitHub Classroom's own deadline uses push times).

HEAD is read from the files; git only reads the commit object (`cat-file`), in a fresh repository
of ours pointed at the student's object store, with no system or user configuration: a repository's
own configuration can name programs, and reading it must not run anything of the student's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

GIT_SECONDS = 10
COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class Commit:
    id: str
    time: datetime  # the committer's time, with its offset


def _small_file(path: Path, limit: int = 1 << 16) -> str | None:
    """A small regular file's text (never through a link: the folder is the student's)."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _head(dot_git: Path) -> str | None:
    """The commit id HEAD names, read from the files (HEAD, then the ref or packed-refs)."""
    head = (_small_file(dot_git / "HEAD") or "").strip()
    if head.startswith("ref: "):
        ref = head[len("ref: ") :].strip()
        if not ref.startswith("refs/") or ".." in ref.split("/"):
            return None
        value = _small_file(dot_git / ref)
        if value is None:
            packed = _small_file(dot_git / "packed-refs", 1 << 24) or ""
            value = next((line.split()[0] for line in packed.splitlines() if line.endswith(f" {ref}")), "")
        head = value.strip()
    return head if COMMIT_ID.fullmatch(head) else None


def _cat_commit(objects: Path, commit_id: str) -> str | None:
    """The commit object's text, read by git from the student's object store alone: the repository
    git runs in is a fresh one of ours, so nothing of the student's configuration is read (a
    student's config can name programs: a partial clone's promisor remote fetches a missing object
    with a command of its choosing)."""
    git = shutil.which("git")
    if git is None:
        return None
    with tempfile.TemporaryDirectory(prefix="grade-git-") as home:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_NO_LAZY_FETCH": "1",
            "GIT_ALLOW_PROTOCOL": "none",
        }
        fmt = "sha256" if len(commit_id) == 64 else "sha1"
        repo = Path(home) / "repo.git"
        try:
            made = subprocess.run(
                [git, "init", "-q", "--bare", f"--object-format={fmt}", str(repo)],
                env=env,
                cwd=home,
                capture_output=True,
                timeout=GIT_SECONDS,
                check=False,
            )
            if made.returncode != 0:
                return None
            done = subprocess.run(
                [git, "cat-file", "commit", commit_id],
                env={**env, "GIT_DIR": str(repo), "GIT_OBJECT_DIRECTORY": str(objects)},
                cwd=home,
                capture_output=True,
                text=True,
                timeout=GIT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
    return done.stdout if done.returncode == 0 else None


def last_commit(folder: Path) -> Commit | None:
    """HEAD's commit of a submission folder that is a git repository itself, else None."""
    dot_git = folder / ".git"
    objects = dot_git / "objects"
    if dot_git.is_symlink() or not dot_git.is_dir() or objects.is_symlink() or not objects.is_dir():
        return None
    head = _head(dot_git)
    body = _cat_commit(objects, head) if head else None
    if not head or body is None:
        return None
    for line in body.splitlines():
        if not line:
            break  # the end of the headers
        if line.startswith("committer "):
            try:
                seconds, offset = line.rsplit(" ", 2)[1:]
                sign = -1 if offset.startswith("-") else 1
                delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])) * sign
                when = datetime.fromtimestamp(int(seconds), tz=timezone(delta))
            except (ValueError, IndexError):
                return None
            return Commit(head, when)
    return None


def parse_due(text: str) -> datetime:
    """A due date in ISO 8601 (`2026-12-01T23:59`, `...+01:00`); without an offset, this machine's
    time zone. Raises ValueError."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.astimezone()
