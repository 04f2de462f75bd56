"""What the host's isolation is, said in one line, and what it protects."""

from __future__ import annotations

import os

from grader.isolation import ISOLATION_ENV, bwrap_path, describe


def test_describe_names_the_isolation_and_the_process_cap() -> None:
    line = describe()
    if os.environ.get(ISOLATION_ENV) == "none":
        assert bwrap_path() is None
    assert line.startswith("bubblewrap" if bwrap_path() else "no bubblewrap")
    assert "processes" in line
