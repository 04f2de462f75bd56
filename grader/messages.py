"""Every message a student reads, in one place: name the object, say got vs expected, say what to try."""

from __future__ import annotations

from typing import Any

from grader import version_hints
from grader.compare import Mismatch
from grader.project import source_file
from grader.variants import Variant


def not_attempted(qualname: str) -> str:
    return f"not attempted: {qualname} is still the template's stub"


def not_implemented(qualname: str) -> str:
    return f"not attempted: {qualname} raises NotImplementedError"


def timeout(label: str, limit_s: float, detail: str | None) -> str:
    if detail:
        return f"{label}: {detail}"
    return (
        f"{label}: no answer within {limit_s:g} s; look for an infinite loop or a loop "
        "over examples that should be vectorized"
    )


def crashed(label: str, meta: dict[str, Any]) -> str:
    code = meta.get("returncode")
    if isinstance(code, int) and code < 0:
        how = f"was killed by signal {-code}"
        if -code in (9, 24):
            how += " (a memory, CPU-time or output limit)"
    elif isinstance(code, int) and 128 < code < 160:  # a shell or bubblewrap reports signal N as 128 + N
        how = f"was killed by signal {code - 128}"
        if code - 128 in (9, 24):
            how += " (a memory, CPU-time or output limit)"
    elif code is not None:
        how = f"exited with code {code} (sys.exit or os._exit in your code?)"
    else:
        how = meta.get("message", "stopped answering")
    return f"{label}: the process running your code {how}"


def exception(label: str, meta: dict[str, Any]) -> str:
    error_type, message = str(meta.get("error_type", "Exception")), str(meta.get("message", ""))
    module = meta.get("import_failed")
    if isinstance(module, str) and module:  # the file's error, the same for every case and item
        text = f"{source_file(module)} cannot be imported: {error_type}: {message}"
    else:
        text = f"{label}: {error_type}: {message}"
    if replaced := version_hints.hint(error_type, message):
        text += f" ({replaced})"
    trace = meta.get("traceback")
    if trace:
        text += f"\n{trace}"
    return text


def modified_in_place(label: str, qualname: str, arg: str) -> str:
    return (
        f"{label}: {qualname} wrote into its argument {arg!r}; the caller still needs it "
        "(an upstream layer reads it again). Compute a new array instead of assigning into it"
    )


def modified_upstream(args: list[str], functions: list[str]) -> str:
    """Arguments the item's function changed in place only because the student's own upstream
    functions it called did ("" for none): those lose their points for it."""
    if not args:
        return ""
    names = ", ".join(repr(a) for a in args)
    loses = "loses its points" if len(functions) == 1 else "lose their points"
    return (
        f"{names} {'is' if len(args) == 1 else 'are'} changed in place by your own {', '.join(functions)}, "
        f"which {loses} for it there: no points lost here"
    )


def gradient_note(part: str, forward: str, problem: Mismatch | None) -> str:
    if problem is None:
        return f"; {part} does agree with the numerical gradient of your own {forward}, so check {forward} too"
    return f"; it also disagrees with the numerical gradient of your own {forward}"


def right_for_upstream(parts: list[str], functions: str) -> str:
    """Parts that keep their points because the reference, fed what the student's own upstream
    functions returned, gives them ("" for none)."""
    if not parts:
        return ""
    verb = "is" if len(parts) == 1 else "are"
    return (
        f"{', '.join(parts)} {verb} right for what your own {functions} computed; the difference from the "
        "reference's comes from upstream code that loses its points there: no points lost here"
    )


def carried_forward(parts: list[str], forward: str) -> str:
    """A part that keeps its points although it differs from the reference's ("" for none)."""
    if not parts:
        return ""
    names = ", ".join(parts)
    verb = "is" if len(parts) == 1 else "are"
    return (
        f"{names} {verb} right for your own {forward}, and differ{'s' if len(parts) == 1 else ''} from the "
        f"reference's only where {forward}'s outputs do (its random draws, or a bug that costs its points "
        f"there): no points lost here"
    )


def accepted_variant(parts: list[str], variant: Variant) -> str:
    names = ", ".join(parts)
    return (
        f"{names} {'matches' if len(parts) == 1 else 'match'} the accepted alternative {variant.name!r}: {variant.says}"
    )


def known_mistake(variant: Variant) -> str:
    return f"This is a known mistake, {variant.name}: {variant.says}"


def self_check(label: str, part: str, forward: str, problem: Mismatch) -> str:
    return (
        f"{label}: {part} disagrees with the numerical gradient of your own {forward} "
        f"({problem.message.split(': ', 1)[-1]})"
    )


def dependency(failing: list[str]) -> str:
    names = ", ".join(f.split(":", 1)[-1] for f in failing)
    return f"(This calls {names}, which lost points too: fix that first, and this may follow.)"


def grader_fault(why: str) -> str:
    return (
        f"not graded: the grader failed ({why}). This is not your fault and costs you nothing; "
        "the course staff must fix the grader and grade again"
    )


def reference_failed(label: str, status: str, variant: str = "") -> str:
    """The reference (or a variant of it the rubric names) failed a case: the grader's fault."""
    who = f"the rubric's variant {variant!r} of the reference solution" if variant else "the reference solution itself"
    return grader_fault(f"{who} failed {label}: {status}")
