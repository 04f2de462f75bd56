"""Entry point of a sandboxed notebook kernel: `python -I -m grader.kernel CONFINEMENT -f CONNECTION_FILE`.

The kernel confines itself (`grader.confine`) before ipykernel starts, so no
student cell ever runs without its limits; one that cannot exits at once, and the
grader reports the kernel's failure to start as its own fault.

It also bounds what it sends: the grader keeps only so much of one output, and drops
the connection on a message over its limit (`grader.notebooks.BoundedClient`), which
is its defence against a kernel that bypasses these bounds. An ordinary notebook that
prints hundreds of megabytes then loses the text nobody reads, not its cells' replies.
"""

from __future__ import annotations

import sys
from typing import Any

from grader import confine

MAX_STREAM_BYTES = 64 * 1024  # of one printed output, or any text of a reply; only figures and errors are used
MAX_FIGURE_BYTES = 2 * 1024**2  # base64 text of one PNG
# The mime types a display carries as text, which are cut short rather than left out.
_TEXT_MIMES = ("text/",)
CUT = "\n[... cut here by the grader: more output than it keeps]"


def _bounded(value: Any, cap: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= cap else value[:cap] + CUT
    if isinstance(value, dict):
        return {k: _bounded(v, cap) for k, v in value.items()}
    if isinstance(value, list):
        return [_bounded(v, cap) for v in value]
    return value


def _bounded_data(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mime, value in data.items():
        if mime.startswith(_TEXT_MIMES) or not isinstance(value, str):
            out[mime] = _bounded(value, MAX_STREAM_BYTES)
        elif len(value) <= MAX_FIGURE_BYTES:
            out[mime] = value
        else:  # part of an image is no image: it is left out, and said so
            out.setdefault("text/plain", f"[a {mime} of {len(value)} bytes, over the grader's limit, was left out]")
    return out


def bounded_content(content: Any) -> Any:
    """A message's content with every text over MAX_STREAM_BYTES cut and every display value over
    MAX_FIGURE_BYTES left out: what the grader would keep of it, at a size it accepts."""
    if not isinstance(content, dict):
        return content
    bounded = _bounded({k: v for k, v in content.items() if k != "data"}, MAX_STREAM_BYTES)
    if isinstance(content.get("data"), dict):
        bounded["data"] = _bounded_data(content["data"])
    return bounded


def bound_messages() -> None:
    """Bound every message this kernel sends, and every single write to its printed output (so that
    one print of hundreds of megabytes is not also buffered whole)."""
    from ipykernel import iostream
    from jupyter_client import session

    send = session.Session.send

    def bounded_send(
        self: session.Session, stream: Any, msg_or_type: Any, content: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        if isinstance(msg_or_type, dict):
            msg_or_type = {**msg_or_type, "content": bounded_content(msg_or_type.get("content"))}
        content = bounded_content(content)
        return send(self, stream, msg_or_type, content, *args, **kwargs)

    write = iostream.OutStream.write

    def bounded_write(self: iostream.OutStream, string: str) -> int | None:
        if isinstance(string, str) and len(string) > MAX_STREAM_BYTES:
            write(self, string[:MAX_STREAM_BYTES] + CUT)
            return len(string)
        return write(self, string)

    session.Session.send = bounded_send  # type: ignore[method-assign]
    iostream.OutStream.write = bounded_write  # type: ignore[method-assign]


def without_debugger() -> None:
    """No debugger in a grading kernel: nothing ever asks one for it, and ipykernel imports debugpy
    (pydevd) as each kernel starts in order to offer one, most of a kernel's start-up after its
    imports. debugpy is unimportable while ipykernel checks for it, then importable again: a
    student's own `import debugpy` still works."""
    if "debugpy" in sys.modules or "ipykernel.debugger" in sys.modules:
        return  # already imported: nothing left to save
    sys.modules["debugpy"] = None  # type: ignore[assignment]  # None: the import system's "no such module"
    try:
        import ipykernel.debugger  # noqa: F401 - records that debugpy is not there
    finally:
        sys.modules.pop("debugpy", None)


def main(argv: list[str]) -> int:
    try:
        confine.apply(confine.Confinement.decode(argv[0]))
    except (confine.ConfinementError, ValueError, TypeError) as exc:
        print(f"grader.kernel: {exc}", file=sys.stderr)
        return 70
    from ipykernel import kernelapp

    import grader.child  # noqa: F401 - the probes, imported before the first cell runs

    without_debugger()
    bound_messages()
    sys.argv = [sys.argv[0], *argv[1:]]
    kernelapp.launch_new_instance()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
