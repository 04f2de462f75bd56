"""The flagged pairs of a similarity run, for the course staff: `similarity.csv` (one row per pair)
and `similarity.html` (each pair's matching functions side by side, the code in common marked).

The code shown is the code as compared: each function's syntax, its comments, docstring and layout
normalised, which is also how a renamed copy lines up. Everything a submission wrote is escaped, and the page
carries the per-student pages' Content-Security-Policy: nothing in it runs or fetches.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from grader import inert
from grader.atomic import atomic_write
from grader.html_report import CSP
from grader.similarity import Match, Pair, Result

COLUMNS = (
    "submission",
    "other",
    "other_is_known_solution",
    "similarity",
    "share_submission",
    "share_other",
    "matched_characters",
    "functions",
)
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .5rem; margin: .25rem 0; font-size: .85rem; }
pre { line-height: 1.5; }
mark { background: #ffd8a8; }
"""


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def csv_text(result: Result) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for p in result.pairs:
        writer.writerow(
            inert.csv_cell(v)
            for v in (
                p.a,
                p.b,
                p.known,
                round(p.similarity, 3),
                round(p.shares[0], 3),
                round(p.shares[1], 3),
                p.matched,
                ";".join(m.function for m in p.matches),
            )
        )
    return out.getvalue()


def _marked(code: str, spans: tuple[tuple[int, int], ...]) -> str:
    """The code escaped, the spans in common inside <mark>."""
    parts, at = [], 0
    for first, last in sorted(spans):
        start, end = max(first, at), min(last, len(code))
        if start >= end:
            continue
        parts += [inert.html_text(code[at:start]), "<mark>", inert.html_text(code[start:end]), "</mark>"]
        at = end
    parts.append(inert.html_text(code[at:]))
    return "".join(parts)


def _match(pair: Pair, m: Match) -> str:
    e = inert.html_text
    return (
        f'<h3><code>{e(m.function)}</code></h3><div class="side">'
        f"<div><h4>{e(pair.a)}</h4><pre>{_marked(m.code[0], m.spans[0])}</pre></div>"
        f"<div><h4>{e(pair.b)}</h4><pre>{_marked(m.code[1], m.spans[1])}</pre></div></div>"
    )


def page(result: Result, assignment: str) -> str:
    e = inert.html_text
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>Similarity: {e(assignment)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Similarity: {e(assignment)}</h1>",
        (
            f"<p>{result.compared} submission(s) and known solution(s) compared, function by function; "
            f"{len(result.pairs)} pair(s) share at least {_pct(result.threshold)} of one side's code. A pair "
            "is a lead for a person to look at, not a finding: no score was changed. Marked: the code in common "
            "that is not the template's and that most of the class does not write alike.</p>"
        ),
    ]
    if result.pairs:
        parts.append(
            "<table><thead><tr><th>submission</th><th>other</th><th>similarity</th><th>functions in common</th>"
            "</tr></thead><tbody>"
        )
        for n, p in enumerate(result.pairs):
            other = f"{e(p.b)} (known solution)" if p.known else e(p.b)
            parts.append(
                f'<tr><td><a href="#pair-{n}">{e(p.a)}</a></td><td>{other}</td><td>{_pct(p.shares[0])} / '
                f"{_pct(p.shares[1])}</td><td>{len(p.matches)}</td></tr>"
            )
        parts.append("</tbody></table>")
    for n, p in enumerate(result.pairs):
        kind = " (a known solution)" if p.known else ""
        parts.append(
            f'<h2 id="pair-{n}">{e(p.a)} and {e(p.b)}{kind}</h2>'
            f"<p>{_pct(p.shares[0])} of {e(p.a)}'s compared code is also in {e(p.b)}'s, and {_pct(p.shares[1])} "
            f"the other way ({p.matched} normalised characters in common).</p>"
        )
        parts += [_match(p, m) for m in p.matches]
    if result.notes:
        items = "".join(f"<li>{e(s)}</li>" for s in result.notes)
        parts.append(f"<h2>Not compared</h2><ul>{items}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def summary(result: Result) -> dict[str, object]:
    """The flagged pairs as summary.json holds them, beside the batch's other lists."""
    return {
        "flag_threshold": result.threshold,
        "compared": result.compared,
        "pairs": [
            {
                "submission": p.a,
                "other": p.b,
                "other_is_known_solution": p.known,
                "similarity": round(p.similarity, 3),
                "functions": [m.function for m in p.matches],
            }
            for p in result.pairs
        ],
    }


def write(out: Path, result: Result, assignment: str) -> list[Path]:
    """similarity.csv and similarity.html in `out`."""
    atomic_write(out / "similarity.csv", csv_text(result).encode())
    atomic_write(out / "similarity.html", page(result, assignment).encode())
    return [out / "similarity.csv", out / "similarity.html"]
