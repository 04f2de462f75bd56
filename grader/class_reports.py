"""Reports over a whole class: gradebook, per-item results, summary statistics, plots, feedback.

Every file is written whole or not at all (see grader.atomic).
"""

from __future__ import annotations

import io
import json
import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from grader import html_report, inert, provenance, roster, terminal
from grader.atomic import atomic_write
from grader.manual import comment_and_answer, graded_by_person
from grader.reports import CSV_COLUMNS, inert_frame, what_to_fix
from grader.results import FLAGS, MANUAL, ItemResult, Report, figure_file, file_stem, flag_kind
from grader.roster import Student

if TYPE_CHECKING:
    import pandas as pd


def commit_columns(paths: dict[str, Path]) -> dict[str, dict[str, object]]:
    """Each submission's last commit, when it is a git repository: read where the files are (a
    shard's run), used wherever the class is put together (`people_columns`)."""
    columns: dict[str, dict[str, object]] = {}
    for name, path in paths.items():
        commit = provenance.last_commit(path) if path.is_dir() else None
        columns[name] = {
            "commit": commit.id if commit else "",
            "commit_time": commit.time.isoformat() if commit else "",
        }
    return columns


def people_columns(
    commits: dict[str, dict[str, object]], students: dict[str, Student] | None, due: datetime | None
) -> dict[str, dict[str, object]]:
    """The columns that say whose each submission is and when it was made: its student of the roster
    (`students`, by submission, as roster.match gives them; None without a roster), the last commit
    (`commit_columns`), and whether it came after `due`."""
    columns: dict[str, dict[str, object]] = {}
    for name, commit in commits.items():
        student = students.get(name) if students is not None else None
        row: dict[str, object] = {}
        if students is not None:
            row = {c: getattr(student, c) if student else "" for c in roster.COLUMNS}
        row["commit"] = commit.get("commit", "")
        row["commit_time"] = commit.get("commit_time", "")
        if due is not None:
            when = str(commit.get("commit_time") or "")
            row["late"] = "" if not when else ("yes" if datetime.fromisoformat(when) > due else "no")
        columns[name] = row
    return columns


def _score_or_blank(item: ItemResult) -> float | None:
    """An item's points, or nothing for a question no person has graded yet (not a zero)."""
    return None if item.status == "manual" and not graded_by_person(item) else item.points


def _totals(r: Report) -> dict[str, object]:
    automatic = [i for i in r.items if i.status != "manual"]
    ungraded = sum(1 for i in r.items if i.status == "manual" and not graded_by_person(i))
    return {
        # Empty until every question a person grades has its points: a total that is not final
        # must not read as one.
        "total": r.total if not ungraded else None,
        "max_total": r.max_total,
        "automatic": round(sum(i.points for i in automatic), 6),
        "automatic_max": sum(i.max_points for i in automatic),
        "ungraded_manual": ungraded,
    }


def _flag_kinds(r: Report) -> list[str]:
    return sorted({flag_kind(f) for f in r.flags})


def batch_summary(reports: list[Report]) -> dict[str, object]:
    """What a TA looks at first after a batch: the submissions that could not be graded (the grader's
    fault) or opened, those whose code raised or ran out of time, and those flagged, with why."""
    return {
        "grader_errors": [r.submission for r in reports if r.grader_faults],
        "unreadable": [r.submission for r in reports if r.mode == "none"],
        "errors": [r.submission for r in reports if r.mode != "none" and any(i.status == "error" for i in r.items)],
        "timeouts": [r.submission for r in reports if any(i.status == "timeout" for i in r.items)],
        "flagged": [{"submission": r.submission, "flags": list(r.flags)} for r in reports if r.flags],
    }


def _frames(reports: list[Report], seconds: dict[str, float], people: dict[str, dict[str, object]]):  # type: ignore[no-untyped-def]
    import pandas as pd

    known = {r.submission: people.get(r.submission, {}) for r in reports}
    extra = list(dict.fromkeys(c for row in known.values() for c in row))
    rows = [
        {"submission": r.submission, **known[r.submission], **i.to_dict(), "points": _score_or_blank(i)}
        for r in reports
        for i in r.items
    ]
    items = pd.DataFrame(rows, columns=["submission", *extra, *CSV_COLUMNS[1:]])
    wide = items.pivot_table(
        index="submission", columns="id", values="points", aggfunc="first", sort=False, dropna=False
    )
    order = list(dict.fromkeys(items["id"]))
    wide = wide.reindex(index=[r.submission for r in reports], columns=order)
    totals = pd.DataFrame(
        [
            {
                "submission": r.submission,
                **{c: known[r.submission].get(c, "") for c in extra},
                **_totals(r),
                "mode": r.mode,
                "seconds": seconds.get(r.submission, 0.0),
                "grader_errors": len(r.grader_faults),
                "flags": "; ".join(r.flags),
                **{f"flag_{kind}": "yes" if kind in _flag_kinds(r) else "" for kind in FLAGS},
            }
            for r in reports
        ],
        columns=[
            "submission",
            *extra,
            "total",
            "max_total",
            "automatic",
            "automatic_max",
            "ungraded_manual",
            "mode",
            "seconds",
            "grader_errors",
            "flags",
            *(f"flag_{kind}" for kind in FLAGS),
        ],
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


def credit_shares(items: pd.DataFrame) -> pd.DataFrame:
    """Per item, in rubric order, the share of submissions with all its points, some, and none,
    counting only the points given (a question no person has graded yet is left out)."""
    import pandas as pd

    given = items[items["points"].notna()].copy()
    given["points"] = given["points"].astype(float)
    given["max_points"] = given["max_points"].astype(float)
    full = given["points"] >= given["max_points"] - 1e-9
    none = given["points"] <= 1e-9
    given["credit"] = pd.Series("partial", index=given.index).mask(full, "full").mask(none & ~full, "none")
    shares = pd.crosstab(given["id"], given["credit"], normalize="index")
    order = [i for i in dict.fromkeys(items["id"]) if i in shares.index]
    return shares.reindex(index=order, columns=["full", "partial", "none"], fill_value=0.0)


def score_bins(top: float) -> list[float]:
    """The histogram's bin edges: equal bins from 0 to the maximum total (the last one closed, so
    full marks are in it), at most 20 and none narrower than a point."""
    count = min(20, max(1, math.floor(top)))
    return [top * k / count for k in range(count + 1)] if top > 0 else [0.0, 1.0]


def _plots(gradebook, items) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    out = {}
    fig, ax = plt.subplots(figsize=(7, 4))
    complete = gradebook["total"].notna().all()
    scores = gradebook["total" if complete else "automatic"].astype(float)
    top = float(gradebook["max_total" if complete else "automatic_max"].astype(float).max())
    edges = score_bins(top)
    ax.hist(scores.clip(0, top), bins=edges, color="#4477aa", edgecolor="white")
    ax.set_xlim(0, edges[-1])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("total points" if complete else "automatic points (questions graded by a person not all in)")
    ax.set_ylabel("submissions")
    ax.set_title(f"Scores ({len(gradebook)} submissions, out of {top:g})")
    out["score_histogram.png"] = _png(fig)
    plt.close(fig)

    shares = credit_shares(items)
    waiting = len(dict.fromkeys(items["id"])) - len(shares)
    fig, ax = plt.subplots(figsize=(8, max(3, 0.28 * len(shares) + 1)))
    left = np.zeros(len(shares))
    for credit, colour, label in (
        ("full", "#228833", "all its points"),
        ("partial", "#ccbb44", "some"),
        ("none", "#bbbbbb", "none"),
    ):
        ax.barh(shares.index, shares[credit], left=left, color=colour, label=label)
        left += shares[credit].to_numpy()
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of submissions")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, fontsize="small", frameon=False)
    later = f"\n({waiting} question(s) graded by a person left out until graded)" if waiting else ""
    ax.set_title(f"Points per item{later}", fontsize="medium", pad=22)
    out["item_pass_rate.png"] = _png(fig)
    plt.close(fig)

    # The slowest first, by name: the ones worth a look when a batch takes long.
    slowest = gradebook[["submission", "seconds"]].astype({"seconds": float}).nlargest(40, "seconds")
    fig, ax = plt.subplots(figsize=(7, max(3, 0.25 * len(slowest) + 1)))
    ax.barh(slowest["submission"].str.slice(0, 40), slowest["seconds"], color="#aa3377")
    ax.invert_yaxis()
    ax.set_xlabel("seconds to grade")
    shown = f", the {len(slowest)} slowest of {len(gradebook)}" if len(slowest) < len(gradebook) else ""
    ax.set_title(f"Time to grade each submission, slowest first{shown}")
    out["time_per_submission.png"] = _png(fig)
    plt.close(fig)
    return out


def feedback(report: Report, figure_dir: str, person: dict[str, object] | None = None) -> str:
    """One student's feedback, as Markdown readable on GitHub. Student text is escaped, or fenced
    so that it cannot close its fence: it renders as the text it is. `person` is the roster's row."""
    who = [f"{inert.markdown_inline(str(person[c]))}" for c in ("name", "student_id") if person and person.get(c)]
    lines = [
        f"# Feedback: {inert.markdown_inline(report.submission)}",
        "",
        *([f"Student: {who[0]}" + (f" ({who[1]})" if len(who) > 1 else ""), ""] if who else []),
        f"**{report.total:g} / {report.max_total:g}** points ({report.assignment}, graded in {report.mode} mode)",
        "",
        "| item | points | status |",
        "|---|---:|---|",
    ]
    for i in report.items:
        lines.append(f"| `{i.id}` | {i.points:g} / {i.max_points:g} | {i.status} |")
    stubs, fixes = what_to_fix(report)
    if stubs or fixes:
        lines += ["", "## What to fix", ""]
    if stubs:
        lines += [f"### Not started ({len(stubs.items)} item(s), {stubs.points} points)", ""]
        lines += [f"- `{i.id}`" for i in stubs.items] + [""]
    for fix in fixes:
        names = ", ".join(f"`{i.id}`" for i in fix.items)
        lines += [f"### {names} ({fix.status})", "", inert.markdown_code_block(fix.message), ""]
    answered = [i for i in report.items if i.status == MANUAL and i.message != "unanswered"]
    if answered:
        lines += ["", "## Questions graded by a person", ""]
    for i in answered:
        comment, answer = comment_and_answer(i)
        points = f"{i.points:g} / {i.max_points:g}" if graded_by_person(i) else "not graded yet"
        lines += [f"### `{i.id}` ({points})", ""]
        lines += ["Your answer:", "", inert.markdown_code_block(answer or "(none)"), ""]
        if comment:
            lines += ["The grader's comment:", "", inert.markdown_code_block(comment), ""]
    if report.flags:
        lines += ["", "## Notes for the course staff", ""]
        lines += [inert.markdown_code_block("\n".join(report.flags)), ""]
    if report.figures:
        lines += ["", "## Your notebooks' figures", ""]
        lines += [
            f"![{inert.markdown_inline(name)}]({figure_dir}/{inert.url_path(figure_file(name))})"
            for name, _ in report.figures
        ]
    return "\n".join(lines) + "\n"


def write_class_outputs(
    out: Path,
    reports: list[Report],
    seconds: dict[str, float],
    people: dict[str, dict[str, object]] | None = None,
    run: dict[str, object] | None = None,
    alike: dict[str, object] | None = None,
) -> list[Path]:
    """gradebook.csv, items.csv, summary.csv, summary.json, plots/*.png, feedback/*.md, html/*.html,
    figures/.
    `people` adds columns per submission (the roster's student, the commit, lateness); `run`, what
    the run that graded them did (graded now, from the cache), and `alike`, the pairs similarity
    flagged, to summary.json."""
    items, gradebook, per_item = _frames(reports, seconds, people or {})
    written = []

    def put(rel: str, data: bytes) -> None:
        atomic_write(out / rel, data)
        written.append(out / rel)

    put("gradebook.csv", gradebook.to_csv(index=False).encode())
    put("items.csv", items.to_csv(index=False).encode())
    put("summary.csv", per_item.to_csv(index=False).encode())
    # Totals with every person-graded question in; the automatic points of all, besides.
    totals = gradebook["total"].dropna().astype(float)
    put(
        "summary.json",
        (
            json.dumps(
                {
                    "submissions": len(reports),
                    "complete": len(totals),
                    "automatic_mean": float(gradebook["automatic"].astype(float).mean()) if len(reports) else 0.0,
                    "max_total": float(gradebook["max_total"].max()) if len(reports) else 0.0,
                    "mean": float(totals.mean()) if len(totals) else None,
                    "median": float(totals.median()) if len(totals) else None,
                    "std": float(totals.std(ddof=0)) if len(totals) else None,
                    "min": float(totals.min()) if len(totals) else None,
                    "max": float(totals.max()) if len(totals) else None,
                    **batch_summary(reports),
                    **({"run": run} if run else {}),
                    **({"similarity": alike} if alike is not None else {}),
                },
                indent=2,
            )
            + "\n"
        ).encode(),
    )
    # Each report as --json writes it, with the columns that say whose it is (the roster, the commit).
    joined = [{**r.to_dict(), "flag_kinds": _flag_kinds(r), **(people or {}).get(r.submission, {})} for r in reports]
    put("reports.json", (json.dumps(joined, indent=2) + "\n").encode())
    if len(reports):
        for name, data in _plots(gradebook, items).items():
            put(f"plots/{name}", data)
    for r in reports:
        name = file_stem(r.submission)
        for fig_name, data in r.figures:
            put(f"figures/{name}/{figure_file(fig_name)}", data)
        person = (people or {}).get(r.submission)
        put(f"feedback/{name}.md", feedback(r, f"../figures/{inert.url_path(name)}", person).encode())
        put(f"html/{name}.html", html_report.page(r, person).encode())
        put(f"terminal/{name}.txt", (terminal.text(r, width=120) + "\n").encode())
    return written
