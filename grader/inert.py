"""Student text made inert for each place a human reads it.

Messages, tracebacks, answers and submission names come from students. Written as they
are, they could redraw a terminal (ANSI escapes, carriage returns), render as Markdown
or HTML in feedback and job summaries (a fake score, an image beacon, a link), run as a
formula in a spreadsheet (OWASP's CSV injection), or act as a GitHub Actions workflow
command in a log (`::add-mask::`, `::stop-commands::`). Each writer passes student text
through the function for its medium, and only there.
"""

from __future__ import annotations

import html
import re
import urllib.parse

# C0 and C1 controls except tab and newline, DEL, and the bidirectional overrides that reorder what
# a reader sees ("Trojan Source").
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
# Lines the Actions runner reads as commands: "::name ...::" and the older "##[name ...]", after
# leading white space.
_WORKFLOW_COMMAND = re.compile(r"^(\s*)(::|##\[)", re.MULTILINE)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def terminal(text: str) -> str:
    """Plain text for a terminal or a CI log: no escape sequences, no control characters, and no
    line that a CI runner would take for a workflow command."""
    text = _ANSI.sub("", text.replace("\r\n", "\n"))
    text = _CONTROLS.sub("", text)
    return _WORKFLOW_COMMAND.sub(r"\1'\2", text)


def markdown_inline(text: str) -> str:
    """Text inside a Markdown paragraph or table cell: one line, HTML escaped, Markdown escaped."""
    one_line = " ".join(terminal(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def markdown_code_block(text: str) -> str:
    """A fenced code block that no text inside it can close: the fence is longer than any run of
    backticks in the text."""
    text = terminal(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def html_text(text: str) -> str:
    """Text in an HTML page, inside an element or an attribute: escaped, from what a terminal may show
    (no control characters either)."""
    return html.escape(terminal(text), quote=True)


def url_path(text: str) -> str:
    """One path segment of a link, percent-encoded (spaces and parentheses break Markdown links)."""
    return urllib.parse.quote(text, safe="")


def csv_cell(value: object) -> object:
    """A spreadsheet cell that cannot start a formula: text beginning with = + - @ tab or carriage
    return gets a leading apostrophe, as OWASP recommends. Numbers are left alone."""
    if not isinstance(value, str):
        return value
    if value.startswith(CSV_TRIGGERS):
        value = "'" + value
    return _CONTROLS.sub("", _ANSI.sub("", value.replace("\r\n", "\n")))


def workflow_data(text: str) -> str:
    """The message of a workflow command (after its last '::')."""
    return terminal(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text: str) -> str:
    """A property value of a workflow command (file=..., title=...)."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")
