"""Where a submission came from: the last commit of a submission that is a git repository (a GitHub
Classroom clone), and whether it came after the due date.

A commit's time is what the student's machine wrote into it, not when it reached GitHub: the late
flag is advice for the staff, not proof (GitHub Classroom's own deadline uses push times).

git runs only plumbing (`rev-parse`, `cat-file`), on the submission's own `.git` folder, with no
system or user configuration and the options that could run a program switched off: a repository
from a zip or a student's machine is data, and reading it must not run anything of theirs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

GIT_SECONDS = 10


@dataclass(frozen=True)
class Commit:
    id: str
    time: datetime  # the committer's time, with its offset


def _git(folder: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    with tempfile.TemporaryDirectory(prefix="grade-git-") as home:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_DIR": str(folder / ".git"),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
        }
        safe = [
            "-c",
            f"safe.directory={folder / '.git'}",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "core.hooksPath=/dev/null",
        ]
        try:
            done = subprocess.run(
                [git, *safe, *args],
                env=env,
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
    if dot_git.is_symlink() or not dot_git.is_dir():
        return None
    head = _git(folder, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    body = _git(folder, "cat-file", "commit", "HEAD") if head else None
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
            return Commit(head.strip(), when)
    return None


def parse_due(text: str) -> datetime:
    """A due date in ISO 8601 (`2026-12-01T23:59`, `...+01:00`); without an offset, this machine's
    time zone. Raises ValueError."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.astimezone()
