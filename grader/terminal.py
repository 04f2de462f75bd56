"""What `grade` shows a person at a terminal: a report as a table that fits the terminal's width, the
progress of a class, and the end of a batch. Drawn with rich (wrapping, widths, colours that switch
off when the output is not a terminal or NO_COLOR is set).

Everything a student wrote reaches rich as plain `Text`, never as markup, and made inert first
(`grader.inert.terminal`), so no submission can redraw the screen or style what the grader says.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Mapping, Sequence
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table
from rich.text import Text

from grader import inert
from grader.manual import graded_by_person
from grader.reports import Fix, points_text, what_to_fix
from grader.results import GRADER_ERROR, MANUAL, ItemResult, Report

if TYPE_CHECKING:
    from grader.similarity import Result

STATUS_STYLE = {
    "pass": "green",
    "partial": "yellow",
    "fail": "red",
    "error": "red",
    "timeout": "red",
    "not_attempted": "dim",
    MANUAL: "cyan",
    GRADER_ERROR: "bold red",
}
STATUS_WORD = {"not_attempted": "not started", GRADER_ERROR: "GRADER ERROR"}
INDENT = 4


def console(stream: TextIO | None = None, width: int | None = None) -> Console:
    """A console that never reads markup, emoji codes or "highlights" in what it prints."""
    # Never Jupyter's display, even in a kernel (check() prints there): the text goes where it is sent.
    return Console(
        file=stream or sys.stdout, width=width, markup=False, highlight=False, emoji=False, force_jupyter=False
    )


def _text(value: str, style: str = "") -> Text:
    return Text(inert.terminal(value), style=style)


def _module(item_id: str) -> str:
    """The module an item's code is in ('' for the items of other kinds: notebook:, threshold:, ...)."""
    head, _, rest = item_id.partition(":")
    return head if rest and "." in head else ""


def _rows(items: Sequence[ItemResult]) -> Iterator[tuple[str, str, str, str, str]]:
    """(item, points, status, style, message) per row: a module's name above its items, which are
    named short; two or more items of a module not started in a row as one."""
    shown = ""
    for (module, stub), run in groupby(items, key=lambda i: (_module(i.id), i.status == "not_attempted")):
        group = list(run)
        if module and module != shown:
            yield module, "", "", "bold", ""
            shown = module
        name = (lambda i: f"  {i.id.partition(':')[2]}") if module else (lambda i: i.id)
        if stub and len(group) > 1:
            points = f"0/{points_text(sum(i.max_points for i in group))}"
            names = ", ".join(i.id.partition(":")[2] if module else i.id for i in group)
            yield f"  {len(group)} functions" if module else f"{len(group)} items", points, "not started", "dim", names
            continue
        for i in group:
            status = STATUS_WORD.get(i.status, i.status)
            points = f"{points_text(i.points)}/{points_text(i.max_points)}"
            yield name(i), points, status, STATUS_STYLE.get(i.status, ""), i.message.split("\n")[0]


def _items_table(report: Report, width: int) -> Table:
    """The items, in width columns: the first three as wide as they need, the message what is left."""
    rows = list(_rows(report.items))
    total = f"{points_text(report.total)}/{points_text(report.max_total)}"
    widths = [
        min(40, max(len(v) for v in [*(r[k] for r in rows), head, *more]))
        for k, head, more in ((0, "item", ()), (1, "points", (total,)), (2, "status", ()))
    ]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("item", no_wrap=True, overflow="ellipsis", width=widths[0])
    table.add_column("points", justify="right", no_wrap=True, width=widths[1])
    table.add_column("status", no_wrap=True, width=widths[2])
    # Each column is followed by a space on either side of the table's rule.
    table.add_column("message", no_wrap=True, overflow="ellipsis", width=max(10, width - sum(widths) - 6))
    for item, points, status, style, message in rows:
        head = style == "bold"
        table.add_row(_text(item, "bold" if head else ""), points, _text(status, style), _text(message, "dim"))
    table.add_section()
    table.add_row(Text("total", "bold"), Text(total, "bold"))
    return table


def _indented(body: RenderableType) -> Padding:
    return Padding(body, (0, 0, 0, INDENT), expand=False)


def _fix(heading: str, body: str) -> list[RenderableType]:
    return [_text(heading), _indented(_text(body))] if body else [_text(heading)]


def _what_to_fix(stubs: Fix | None, fixes: list[Fix]) -> list[RenderableType]:
    out: list[RenderableType] = [Text("\nWhat to fix:", "bold")]
    if stubs is not None:
        by_module: dict[str, list[str]] = {}
        for i in stubs.items:
            module = _module(i.id)
            by_module.setdefault(module, []).append(i.id.partition(":")[2] if module else i.id)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column()
        for module, names in by_module.items():
            grid.add_row(_text(f"{module}:" if module else ""), _text(", ".join(names)))
        count = len(stubs.items)
        out += [_text(f"- not started ({count} item{'s' if count > 1 else ''}, {stubs.points} points):")]
        out.append(_indented(grid))
    for fix in fixes:
        out += _fix(f"- {fix.names} ({fix.points}, {fix.status}):", fix.message)
    return out


def report_view(report: Report, width: int) -> Group:
    """One report, width columns wide: who and how it was graded, the items, what to fix, what waits
    for a person."""
    isolated = f" (isolation: {report.isolation})" if report.isolation else ""
    parts: list[RenderableType] = [
        _text(f"{report.submission}: {report.assignment} graded in {report.mode} mode{isolated}"),
        _items_table(report, width),
    ]
    stubs, fixes = what_to_fix(report)
    if stubs or fixes:
        parts += _what_to_fix(stubs, fixes)
    waiting = [i for i in report.items if i.status == MANUAL and i.message != "unanswered" and not graded_by_person(i)]
    if waiting:
        what = (
            "they are in the JSON and CSV reports; merge points with --manual-grades FILE"
            if report.mode == "instructor"
            else "the course staff grade them"
        )
        parts.append(_text(f"\n{len(waiting)} written answer(s) wait for a person: {what}."))
    parts += [_text(f"note: {n}") for n in report.notes]
    return Group(*parts)


def show(report: Report, stream: TextIO | None = None) -> None:
    """Print one report on stream (the standard output), as wide as the terminal."""
    out = console(stream)
    if out.is_terminal:
        out.print(report_view(report, out.width))
    else:  # a CI log: plain, and made inert again after wrapping (a wrapped line may start with "::")
        out.file.write(text(report, out.width) + "\n")


def text(report: Report, width: int = 100) -> str:
    """One report as plain text of the given width, for a file: no colour, no escape sequence."""
    buffer = io.StringIO()
    plain = Console(
        file=buffer,
        width=width - 1,
        color_system=None,
        force_terminal=False,
        force_jupyter=False,
        markup=False,
        highlight=False,
        emoji=False,
    )
    plain.print(report_view(report, width - 1))  # a column left for the quote that makes a "::" line inert
    return inert.terminal("\n".join(line.rstrip() for line in buffer.getvalue().splitlines()))


class ClassProgress:
    """The progress of a class: on a terminal, a live line with a bar, how many are done, the time
    left and the submissions being graded; elsewhere (a CI log, a file) one plain line per submission."""

    def __init__(self, workers: int, stream: TextIO | None = None) -> None:
        self.workers = max(1, workers)
        self.console = console(stream or sys.stderr)
        self.live = self.console.is_terminal
        self.pending: list[str] = []
        self.done = 0
        self.total = 0
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def begin(self, names: Sequence[str]) -> None:
        """The submissions about to be graded, in the order the workers take them."""
        self.pending, self.total, self.done = list(names), len(names), 0
        if self.live and names:
            self.bar = Progress(
                SpinnerColumn(),
                BarColumn(bar_width=20),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn(
                    "{task.description}", markup=False, table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)
                ),
                console=self.console,
                transient=True,
                expand=True,  # the names take what the bar and the counts leave of the width
            )
            self.task = self.bar.add_task(self._in_flight(), total=self.total)
            self.bar.start()

    def _in_flight(self) -> str:
        # The workers take submissions in order, so the first `workers` still pending are theirs.
        now = self.pending[: self.workers]
        return inert.terminal("grading " + ", ".join(now)) if now else ""

    def update(self, name: str, detail: str) -> None:
        """name is graded (detail: its total and time)."""
        self.done += 1
        if name in self.pending:
            self.pending.remove(name)
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, advance=1, description=self._in_flight())
            self.bar.console.print(_text(f"graded {name}: {detail}"))
        else:
            self.console.print(_text(f"graded {self.done}/{self.total}: {name} {detail}"), soft_wrap=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _names(names: Sequence[str], shown: int = 10) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def class_summary(summary: Mapping[str, Any], stream: TextIO | None = None) -> None:
    """The end of a batch: which submissions to look at, and why (`class_reports.batch_summary`)."""
    out = console(stream)
    lines = [
        (key, what)
        for key, what in (
            ("grader_errors", "not graded, the grader's error (rerun once it is fixed)"),
            ("unreadable", "could not be opened"),
            ("errors", "their code raised an error"),
            ("timeouts", "their code ran out of time"),
        )
        if summary.get(key)
    ]
    for key, what in lines:
        names = list(summary[key])
        out.print(_text(f"  {what}: {len(names)} ({_names(names)})"))
    flagged = list(summary.get("flagged", ()))
    if flagged:
        out.print(_text(f"  flagged for a look: {len(flagged)} (why: gradebook.csv's flag_ columns)"))
        for entry in flagged[:10]:
            out.print(_indented(_text(f"{entry['submission']}: {'; '.join(entry['flags'])}")))
        if len(flagged) > 10:
            out.print(_indented(_text(f"and {len(flagged) - 10} more")))
    if not lines and not flagged:
        out.print(_text("  no grader error, unreadable submission, error, timeout or flag"))


def similarity_summary(result: Result, page: Path, stream: TextIO | None = None) -> None:
    """The pairs a similarity run flagged, most similar first, and where to look at them."""
    out = console(stream)
    share = f"{100 * result.threshold:.0f}%"
    if not result.pairs:
        out.print(_text(f"  similarity: no pair of the {result.compared} compared shares {share} of its code"))
        return
    out.print(_text(f"  similarity: {len(result.pairs)} pair(s) share at least {share} of one side's code ({page}):"))
    for p in result.pairs[:10]:
        other = f"{p.b} (known solution)" if p.known else p.b
        out.print(_indented(_text(f"{p.a} and {other}: {100 * p.similarity:.0f}%, {len(p.matches)} function(s)")))
    if len(result.pairs) > 10:
        out.print(_indented(_text(f"and {len(result.pairs) - 10} more")))
