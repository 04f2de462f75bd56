"""Reports over a whole class: gradebook, per-item results, summary statistics, plots, feedback.

Every file is written whole or not at all (see grader.atomic).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from grader import inert
from grader.atomic import atomic_write
from grader.reports import CSV_COLUMNS, inert_frame, table, what_to_fix
from grader.results import Report, file_stem


def _frames(reports: list[Report], seconds: dict[str, float]):  # type: ignore[no-untyped-def]
    import pandas as pd

    rows = [{"submission": r.submission, **i.to_dict()} for r in reports for i in r.items]
    items = pd.DataFrame(rows, columns=CSV_COLUMNS)
    wide = items.pivot_table(index="submission", columns="id", values="points", aggfunc="first", sort=False)
    order = list(dict.fromkeys(items["id"]))
    wide = wide.reindex(columns=order)
    totals = pd.DataFrame(
        {
            "submission": [r.submission for r in reports],
            "total": [r.total for r in reports],
            "max_total": [r.max_total for r in reports],
            "mode": [r.mode for r in reports],
            "seconds": [seconds.get(r.submission, 0.0) for r in reports],
            "grader_errors": [len(r.grader_faults) for r in reports],
            "flags": ["; ".join(r.flags) for r in reports],
        }
    ).set_index("submission")
    gradebook = totals.join(wide).reset_index()
    per_item = (
        items.groupby("id", sort=False)
        .agg(
            title=("title", "first"),
            max_points=("max_points", "first"),
            mean_points=("points", "mean"),
            pass_rate=("status", lambda s: float((s == "pass").mean())),
            errors=("status", lambda s: int(s.isin(["error", "timeout"]).sum())),
        )
        .reset_index()
    )
    return inert_frame(items), inert_frame(gradebook), inert_frame(per_item)


def _png(fig) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _plots(gradebook, per_item) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(gradebook["total"], bins=min(20, max(5, len(gradebook) // 2)), color="#4477aa")
    ax.set_xlabel("total points")
    ax.set_ylabel("submissions")
    ax.set_title(f"Scores ({len(gradebook)} submissions, out of {gradebook['max_total'].max():g})")
    out["score_histogram.png"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, max(3, 0.25 * len(per_item))))
    ax.barh(per_item["id"], per_item["pass_rate"], color="#228833")
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("pass rate")
    ax.set_title("Pass rate per item")
    out["item_pass_rate.png"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(range(len(gradebook)), gradebook["seconds"], color="#aa3377")
    ax.set_xlabel("submission (in order)")
    ax.set_ylabel("seconds to grade")
    ax.set_title("Time per submission")
    out["time_per_submission.png"] = _png(fig)
    plt.close(fig)
    return out


def feedback(report: Report, figure_dir: str) -> str:
    """One student's feedback, as Markdown readable on GitHub. Student text is escaped, or fenced
    so that it cannot close its fence: it renders as the text it is."""
    lines = [
        f"# Feedback: {inert.markdown_inline(report.submission)}",
        "",
        f"**{report.total:g} / {report.max_total:g}** points ({report.assignment}, graded in {report.mode} mode)",
        "",
        "| item | points | status |",
        "|---|---:|---|",
    ]
    for i in report.items:
        lines.append(f"| `{i.id}` | {i.points:g} / {i.max_points:g} | {i.status} |")
    stubs, fixes = what_to_fix(report)
    manual = [i for i in report.items if i.status == "manual" and i.message]
    if stubs or fixes or manual:
        lines += ["", "## What to fix", ""]
    if stubs:
        lines += [f"### Not started ({len(stubs.items)} item(s), {stubs.points} points)", ""]
        lines += [f"- `{i.id}`" for i in stubs.items] + [""]
    for fix in fixes:
        names = ", ".join(f"`{i.id}`" for i in fix.items)
        lines += [f"### {names} ({fix.status})", "", inert.markdown_code_block(fix.message), ""]
    for i in manual:
        lines += [f"### `{i.id}` ({i.status})", "", inert.markdown_code_block(i.message), ""]
    if report.flags:
        lines += ["", "## Notes for the course staff", ""]
        lines += [inert.markdown_code_block("\n".join(report.flags)), ""]
    if report.figures:
        lines += ["", "## Your notebooks' figures", ""]
        lines += [
            f"![{inert.markdown_inline(name)}]({figure_dir}/{inert.url_path(Path(name).name)})"
            for name, _ in report.figures
        ]
    return "\n".join(lines) + "\n"


def write_class_outputs(out: Path, reports: list[Report], seconds: dict[str, float]) -> list[Path]:
    """gradebook.csv, items.csv, summary.csv, summary.json, plots/*.png, feedback/*.md, figures/."""
    items, gradebook, per_item = _frames(reports, seconds)
    written = []

    def put(rel: str, data: bytes) -> None:
        atomic_write(out / rel, data)
        written.append(out / rel)

    put("gradebook.csv", gradebook.to_csv(index=False).encode())
    put("items.csv", items.to_csv(index=False).encode())
    put("summary.csv", per_item.to_csv(index=False).encode())
    totals = gradebook["total"]
    put(
        "summary.json",
        (
            json.dumps(
                {
                    "submissions": len(reports),
                    "max_total": float(gradebook["max_total"].max()) if len(reports) else 0.0,
                    "mean": float(totals.mean()) if len(reports) else 0.0,
                    "median": float(totals.median()) if len(reports) else 0.0,
                    "std": float(totals.std(ddof=0)) if len(reports) else 0.0,
                    "min": float(totals.min()) if len(reports) else 0.0,
                    "max": float(totals.max()) if len(reports) else 0.0,
                },
                indent=2,
            )
            + "\n"
        ).encode(),
    )
    put("reports.json", (json.dumps([r.to_dict() for r in reports], indent=2) + "\n").encode())
    if len(reports):
        for name, data in _plots(gradebook, per_item).items():
            put(f"plots/{name}", data)
    for r in reports:
        name = file_stem(r.submission)
        for fig_name, data in r.figures:
            put(f"figures/{name}/{file_stem(fig_name)}", data)
        put(f"feedback/{name}.md", feedback(r, f"../figures/{inert.url_path(name)}").encode())
        put(f"terminal/{name}.txt", (table(r, width=160) + "\n").encode())
    return written
