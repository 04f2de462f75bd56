"""Each student's report as one self-contained HTML page, beside the Markdown feedback: the scores,
every message, what to fix, the questions graded by a person (the answer beside the grader's
comment), and the notebooks' figures inline.

Everything on the page that a submission could have written (names, messages, answers, figure
names) is escaped, and the page forbids scripts, frames, forms and anything fetched (its own
Content-Security-Policy: only inline styles and images held in the page), so that nothing a
submission holds runs or phones home when a student or a TA opens it.
"""

from __future__ import annotations

import base64

from grader import inert
from grader.manual import comment_and_answer, graded_by_person
from grader.reports import points_text, what_to_fix
from grader.results import MANUAL, Report

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
PNG = b"\x89PNG\r\n\x1a\n"
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.points { text-align: right; white-space: nowrap; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .5rem; margin: .25rem 0; }
.pass { color: #1a7f37; } .partial { color: #9a6700; } .fail, .error, .timeout, .grader_error { color: #cf222e; }
.not_attempted { color: #777; } .manual { color: #0969da; }
.answer { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
img { max-width: 100%; border: 1px solid #ddd; }
"""


_e = inert.html_text


def _pre(text: str) -> str:
    return f"<pre>{_e(text)}</pre>"


def page(report: Report, person: dict[str, object] | None = None) -> str:
    """The page of one report; `person` is the roster's row (name, student_id), if any."""
    who = " ".join(_e(str(person[c])) for c in ("name", "student_id") if person and person.get(c))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>Feedback: {_e(report.submission)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Feedback: {_e(report.submission)}</h1>",
        f"<p>Student: {who}</p>" if who else "",
        (
            f"<p><strong>{points_text(report.total)} / {points_text(report.max_total)}</strong> points "
            f"({_e(report.assignment)}, graded in {_e(report.mode)} mode)</p>"
        ),
        "<table><thead><tr><th>item</th><th>points</th><th>status</th><th>message</th></tr></thead><tbody>",
    ]
    for i in report.items:
        first = i.message.split("\n", 1)[0] if i.status != MANUAL else ""
        parts.append(
            f'<tr><td><code>{_e(i.id)}</code></td><td class="points">{points_text(i.points)} / '
            f'{points_text(i.max_points)}</td><td class="{_e(i.status)}">{_e(i.status.replace("_", " "))}</td>'
            f"<td>{_e(first)}</td></tr>"
        )
    parts.append("</tbody></table>")
    stubs, fixes = what_to_fix(report)
    if stubs or fixes:
        parts.append("<h2>What to fix</h2>")
    if stubs:
        names = ", ".join(f"<code>{_e(i.id)}</code>" for i in stubs.items)
        parts.append(f"<h3>Not started ({len(stubs.items)} item(s), {_e(stubs.points)} points)</h3><p>{names}</p>")
    for fix in fixes:
        names = ", ".join(f"<code>{_e(i.id)}</code>" for i in fix.items)
        parts.append(f"<h3>{names} ({_e(fix.points)}, {_e(fix.status)})</h3>{_pre(fix.message)}")
    answered = [i for i in report.items if i.status == MANUAL and i.message != "unanswered"]
    if answered:
        parts.append("<h2>Questions graded by a person</h2>")
    for i in answered:
        comment, answer = comment_and_answer(i)
        points = f"{points_text(i.points)} / {points_text(i.max_points)}" if graded_by_person(i) else "not graded yet"
        parts.append(
            f'<h3><code>{_e(i.id)}</code> ({points})</h3><div class="answer">'
            f"<div><h4>Your answer</h4>{_pre(answer or '(none)')}</div>"
            f"<div><h4>The grader's comment</h4>{_pre(comment) if comment else '<p>none yet</p>'}</div></div>"
        )
    if report.flags:
        parts.append(f"<h2>Notes for the course staff</h2>{_pre(chr(10).join(report.flags))}")
    figures = [(name, data) for name, data in report.figures if data.startswith(PNG)]
    if figures:
        parts.append("<h2>Your notebooks' figures</h2>")
    for name, data in figures:
        encoded = base64.b64encode(data).decode()
        parts.append(
            f'<figure><img alt="{_e(name)}" src="data:image/png;base64,{encoded}"><figcaption>{_e(name)}'
            "</figcaption></figure>"
        )
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p) + "\n"
