"""What decides a class's grades in its reports, for comparing two runs of one class."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def without_timing(out: Path) -> dict[str, str]:
    """The class reports in `out`, with the grading times (never the same twice) left out."""
    reports = json.loads((out / "reports.json").read_text())
    for report in reports:
        for item in report["items"]:
            item.pop("duration_s")
    return {
        "gradebook.csv": pd.read_csv(out / "gradebook.csv").drop(columns=["seconds"]).to_csv(index=False),
        "items.csv": pd.read_csv(out / "items.csv").drop(columns=["duration_s"]).to_csv(index=False),
        "summary.csv": (out / "summary.csv").read_text(),
        "reports.json": json.dumps(reports, indent=1),
        "feedback": "".join(p.read_text() for p in sorted((out / "feedback").glob("*.md"))),
    }
