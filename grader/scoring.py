"""Scoring one rubric item from what its cases returned: pure functions, no I/O.

A part of an item (dx, dw, db; next_w and each config entry; scores, loss, grads)
earns its share of the points only when it is right in every case, public and
hidden alike, so a hard-coded answer to the public inputs earns nothing in
instructor mode. Every failure says which case, which output, and what was wrong.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from grader import hints, kinds, messages
from grader.compare import ABSOLUTE_NOISE, Mismatch, compare_gradient, compare_value
from grader.replay import MODIFIED, RAISED
from grader.results import GRADER_ERROR, CaseRun, ItemResult, Status
from grader.rubric import Item
from grader.variants import Variant


def _forward_name(item: Item) -> str:
    return str(item.params.get("forward") or item.qualname)


def _gradient_note(item: Item, part: str, outputs: dict[str, Any]) -> str:
    """Whether a wrong gradient at least agrees with the student's own forward pass."""
    numeric = outputs.get("numeric", {}).get(part)
    if numeric is None:
        return ""
    problem = compare_gradient(part, outputs["returned"].get(part), numeric)
    return messages.gradient_note(part, _forward_name(item), problem)


def _carried_forward(item: Item, part: str, run: CaseRun) -> bool:
    """Whether a part that differs from the reference's is the exact gradient of the student's own
    upstream code on this case, judged against the numerical gradient the parent estimated from that
    code's outputs. A gradient of an upstream that does nothing (all zeros where the reference's is
    not) is no gradient at all, and carries nothing."""
    if not kinds.get(item.kind).carries_forward:
        return False
    numeric = run.result.outputs.get("numeric", {}).get(part)
    expected = (run.expected or {}).get(part)
    if numeric is None or expected is None:
        return False
    if compare_gradient(part, run.result.outputs.get("returned", {}).get(part), numeric) is not None:
        return False
    return not (_is_zero(numeric) and not _is_zero(expected))


def _replayed(item: Item, part: str, run: CaseRun) -> bool:
    """Whether a part that differs from the reference's is what the reference gives when fed the
    student's own upstream calls, replayed (`grader.replay`): right for the student's own code."""
    if run.upstream is None or part not in run.upstream:
        return False
    return same_output(item, part, run, dict(run.upstream))


def same_output(item: Item, part: str, run: CaseRun, want: dict[str, Any]) -> bool:
    """Whether a part is what `want` holds: the same computation redone (the reference fed the
    student's recorded values, minibatches and draws included, or the student's code run again),
    so the same values within the part's tolerance, not only as good by the kind's own check (a
    training item's is whether it made progress, which a right train fed a wrong layer need not
    make); the kind's check where it is the more lenient (a random mask)."""
    got = run.result.outputs.get("returned", {}).get(part)
    if compare_value(part, got, want.get(part), item.tolerance[part]) is None:
        return True
    return _check_part(item, part, replace(run, expected=want)) is None


def _written_upstream(run: CaseRun, modified: list[str]) -> tuple[str, ...] | None:
    """The student's upstream functions that wrote into the arguments a case changed in place, when
    the reference, fed those functions' recorded calls (which change their arguments as the student's
    did), changes every one of them too: the write is theirs, and costs its points there. None when
    the write is the item's own, or when no recorded call wrote into anything (then the recording
    cannot be what made the reference write)."""
    changed = run.upstream.get(MODIFIED) if run.upstream is not None else None
    if not isinstance(changed, dict) or not set(modified) <= set(changed.get("arguments") or ()):
        return None
    by = tuple(str(f) for f in changed.get("by") or ())
    return by or None


def _raised_as_upstream(run: CaseRun) -> bool:
    """Whether a case that raised is what the reference does too, fed the student's own upstream
    calls (a train that fails on the shape a wrong predict returned)."""
    raised = run.result.meta.get("error_type")
    return run.result.status == "exception" and run.upstream is not None and run.upstream.get(RAISED) == raised


def _is_zero(value: Any) -> bool:
    arr = np.asarray(value, dtype=float)
    finite = arr[np.isfinite(arr)]
    return finite.size == 0 or float(np.max(np.abs(finite))) <= ABSOLUTE_NOISE


def _failure_of_run(item: Item, run: CaseRun, timeout_s: float) -> tuple[Status, str] | None:
    """(status, message) when the case did not produce outputs at all."""
    r = run.result
    if r.status == "ok":
        return None
    if r.status == "timeout":
        return "timeout", messages.timeout(run.label, timeout_s, r.meta.get("message"))
    if r.status == "crashed":
        return "error", messages.crashed(run.label, r.meta)
    if r.status == "not_implemented":
        return "not_attempted", messages.not_implemented(item.qualname)
    if r.status == "bad_return":
        return "fail", f"{run.label}: {r.meta.get('message', 'returned something unusable')}"
    return "error", messages.exception(run.label, r.meta)


def _check_part(item: Item, part: str, run: CaseRun) -> Mismatch | None:
    return kinds.get(item.kind).check_part(item, part, run)


def _own_check(item: Item, part: str, run: CaseRun) -> str | None:
    """A part judged against the student's own code only: a gradient against the numerical gradient
    of the student's own function; another value for its type, shape and finiteness. Self-consistent
    is not enough where the part gives what a known mistake gives (a network that never applies its
    dropout is self-consistent too). The message when it fails, or None."""
    outputs = run.result.outputs
    numeric = outputs.get("numeric", {}).get(part)
    if numeric is not None:
        problem = compare_gradient(part, outputs.get("returned", {}).get(part), numeric)
        if problem is not None:
            return messages.self_check(run.label, part, _forward_name(item), problem)
    if run.expected is None or part not in run.expected:
        return None
    problem = _check_part(item, part, run)
    if problem is None:
        return None
    if problem.code != "value":
        return f"{run.label}: {problem.message}"
    for variant in item.variants:
        want = run.variants.get(variant.name)
        if not variant.accepted and want is not None and _check_part(item, part, replace(run, expected=want)) is None:
            return f"{run.label}: {part} is what the known mistake {variant.name!r} gives: {variant.says}"
    return None


def _own_upstream_wrong(item: Item, runs: list[CaseRun]) -> set[str]:
    """The parts a self-check cannot judge: right against the reference on a public case, where they
    disagree with the numerical gradient of the student's own upstream code. That code (a loss
    without its regularization, a forward pass with a bug) is what is wrong there, and a self-check
    against it would charge a right gradient for it."""
    found = set()
    for run in runs:
        if run.expected is None or run.result.status != "ok":
            continue
        outputs = run.result.outputs
        for part in item.parts:
            numeric = outputs.get("numeric", {}).get(part)
            if numeric is None or part in item.own_parts(run.number) or _check_part(item, part, run) is not None:
                continue
            if compare_gradient(part, outputs.get("returned", {}).get(part), numeric) is not None:
                found.add(part)
    return found


def score_item(item: Item, runs: list[CaseRun], attempted: bool, timeout_s: float) -> ItemResult:
    """Points, status and message of one item from all of its case runs."""
    duration = round(sum(run.result.duration_s for run in runs), 3)

    def result(points: float, status: Status, message: str) -> ItemResult:
        return ItemResult(item.id, item.title, round(points, 6), item.points, status, message, duration)

    if not attempted:
        return result(0.0, "not_attempted", messages.not_attempted(item.qualname))

    failures: dict[str, str] = {}  # part -> first message
    carried: set[str] = set()  # parts that are the exact gradient of the student's own forward pass
    replayed: dict[str, str] = {}  # part -> the student's upstream functions it is right for (`grader.replay`)
    changed_upstream: dict[str, tuple[str, ...]] = {}  # argument -> the student's upstream functions that wrote into it
    self_failed: set[str] = set()  # parts failed against the student's own numerical gradient
    tally = _VariantTally(item)
    wrong: list[hints.Wrong] = []  # the evidence the rubric's hints are judged against
    failing: set[int] = set()  # the public cases after which some case failed in any way
    hard_status: Status | None = None
    unjudged = _own_upstream_wrong(item, runs)
    for run in runs:
        if _raised_as_upstream(run):
            for part in item.parts:
                replayed.setdefault(part, run.upstream_of)
            continue
        outcome = _failure_of_run(item, run, timeout_s)
        if outcome is not None:
            status, message = outcome
            hard_status = hard_status or status
            tally.spoil()
            failing.add(run.number)
            for part in item.parts:
                failures.setdefault(part, message)
            continue
        outputs = run.result.outputs
        modified = [m for m in outputs.get("modified", []) if m not in item.modifies]
        writers = _written_upstream(run, modified) if modified else None
        if writers is not None:
            for arg in modified:
                changed_upstream.setdefault(arg, writers)
        elif modified:
            message = messages.modified_in_place(run.label, item.qualname, modified[0])
            tally.spoil()
            failing.add(run.number)
            for part in item.parts:
                failures.setdefault(part, message)
            continue
        own = item.own_parts(run.number)
        for part in item.parts:
            if run.expected is None and part in unjudged:
                continue
            if run.expected is None or part in own:
                if _replayed(item, part, run):  # what the reference gives fed the student's own upstream code
                    if _own_check(item, part, run) is not None:
                        replayed.setdefault(part, run.upstream_of)
                    continue
                failed = _own_check(item, part, run)
                if failed and part not in failures:
                    failures[part] = failed
                    self_failed.add(part)
                if failed:
                    failing.add(run.number)
                continue
            problem = _check_part(item, part, run)
            tally.count(part, run, wrong=problem is not None)
            if problem is None:
                continue
            if problem.code == "value" and _carried_forward(item, part, run):
                carried.add(part)
                continue
            if _replayed(item, part, run):  # a shape too may be what the student's upstream code gives
                replayed.setdefault(part, run.upstream_of)
                continue
            wrong.append(hints.Wrong(part, run.number, problem))
            failing.add(run.number)
            if part not in failures:
                note = _gradient_note(item, part, outputs) if problem.code == "value" else ""
                failures[part] = f"{run.label}: {problem.message}{note}"

    accepted: dict[str, list[str]] = {}  # variant name -> the parts it lets pass
    for part in [p for p in item.parts if p in failures and p not in self_failed]:
        variant = tally.accepted(part)
        if variant is not None:
            accepted.setdefault(variant.name, []).append(part)
            del failures[part]
    passed = [p for p in item.parts if p not in failures]
    points = item.points * len(passed) / len(item.parts)
    notes = [messages.carried_forward(sorted(carried - failures.keys() - replayed.keys()), _forward_name(item))]
    by_upstream: dict[str, list[str]] = {}
    for part in sorted(replayed.keys() - failures.keys()):
        by_upstream.setdefault(replayed[part], []).append(part)
    notes += [messages.right_for_upstream(parts, upstream) for upstream, parts in by_upstream.items()]
    by_writer: dict[tuple[str, ...], list[str]] = {}
    for arg, functions in changed_upstream.items():
        by_writer.setdefault(functions, []).append(arg)
    notes += [messages.modified_upstream(args, list(functions)) for functions, args in by_writer.items()]
    notes += [messages.accepted_variant(parts, v) for v in item.variants if (parts := accepted.get(v.name))]
    note = " ".join(n for n in notes if n)
    if not failures:
        return result(points, "pass", note)
    if hard_status == "not_attempted" and not passed:
        return result(0.0, "not_attempted", messages.not_implemented(item.qualname))
    first = next(p for p in item.parts if p in failures)
    message = failures[first]
    others = [p for p in item.parts if p in failures and p != first]
    if others and len(set(failures.values())) > 1:
        message += f" (also wrong: {', '.join(others)})"
    mistake = tally.mistake([p for p in item.parts if p in failures])
    if mistake is not None:
        message += f". {messages.known_mistake(mistake)}"
    else:
        message += "".join(f" Hint: {h.text}" for h in hints.holding(item.hints, wrong, failing))
    if note:
        message += f" ({note})"
    # Each other wrong part as it went wrong, below the first line: a second bug is not hidden
    # behind the first.
    message += "".join(f"\n{d}" for d in dict.fromkeys(failures[p] for p in others) if d != failures[first])
    if passed:
        return result(points, "partial", message)
    return result(0.0, hard_status if hard_status in ("timeout", "error") else "fail", message)


class _VariantTally:
    """How a part's outputs compare with each variant of the reference, case by case: an accepted
    alternative must match on every case, a known mistake on every case where the part is wrong."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.compared: dict[tuple[str, str], int] = {}
        self.matched: dict[tuple[str, str], int] = {}
        self.spoiled = False  # a case that crashed or wrote into its inputs: no variant explains it

    def spoil(self) -> None:
        self.spoiled = True

    def count(self, part: str, run: CaseRun, wrong: bool) -> None:
        for variant in self.item.variants:
            if variant.accepted or wrong:
                key = (part, variant.name)
                self.compared[key] = self.compared.get(key, 0) + 1
                want = run.variants.get(variant.name)
                if want is not None and _check_part(self.item, part, replace(run, expected=want)) is None:
                    self.matched[key] = self.matched.get(key, 0) + 1

    def _holds(self, part: str, variant: Variant) -> bool:
        key = (part, variant.name)
        return not self.spoiled and self.compared.get(key, 0) > 0 and self.matched.get(key, 0) == self.compared[key]

    def accepted(self, part: str) -> Variant | None:
        return next((v for v in self.item.variants if v.accepted and self._holds(part, v)), None)

    def mistake(self, parts: list[str]) -> Variant | None:
        """The known mistake that explains every wrong part on every case where it is wrong."""
        return next(
            (v for v in self.item.variants if not v.accepted and parts and all(self._holds(p, v) for p in parts)),
            None,
        )


def calls_made(runs: list[CaseRun]) -> frozenset[str] | None:
    """The ids of the items an item depends on that its code called on any case, as the child noted
    them; None when no case noted any calls (the code never ran, or ran where calls are not noted).
    Read from the child as untrusted data: it can only word a note, never move a point."""
    noted = [r.result.meta.get("called") for r in runs]
    lists = [n for n in noted if isinstance(n, list)]
    if not lists:
        return None
    return frozenset(i for n in lists for i in n if isinstance(i, str))


def note_dependencies(
    item: Item, result: ItemResult, by_id: dict[str, ItemResult], called: frozenset[str] | None
) -> ItemResult:
    """Say when an item that lost points called another that lost points too: fix that one first.
    Only calls the student's code made count, not the rubric's expectation of them."""
    if result.points >= result.max_points or result.status in ("not_attempted", GRADER_ERROR) or not called:
        return result
    failing = [
        d
        for d in item.depends
        if d in called and by_id[d].points < by_id[d].max_points and by_id[d].status != GRADER_ERROR
    ]
    if not failing:
        return result
    note = messages.dependency(failing)
    return replace(result, message=f"{result.message} {note}".strip())


def case_passes(item: Item, run: CaseRun) -> bool:
    """Whether one case is right in every part (used to flag answers fitted to the public cases)."""
    if run.result.status != "ok" or run.expected is None:
        return False
    outputs = run.result.outputs
    if [m for m in outputs.get("modified", []) if m not in item.modifies]:
        return False
    own = item.own_parts(run.number)
    return all(_check_part(item, p, run) is None for p in item.parts if p not in own)
