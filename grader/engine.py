"""Grading one submission: gather cases, run them in children, score every item.

Student mode uses the public fixtures plus self-checks (the student's analytic
gradients against numerical gradients of the student's own code on fresh random
inputs). Instructor mode adds hidden cases drawn from a secret seed, with other
sizes, whose expected outputs the reference computes at grading time.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import __version__, codec
from grader.build.template import function_fingerprints
from grader.cases import hidden_cases
from grader.results import Report
from grader.rubric import Item, Rubric, load
from grader.runner import run_cases
from grader.scoring import CaseRun, note_dependencies, score_item

SELF_CHECK_SEED = "self-check"
MAX_SOURCE_BYTES = 2 * 1024**2


class SetupError(RuntimeError):
    """The grader cannot start: missing fixtures, a stale manifest, a bad rubric."""


@dataclass(frozen=True)
class Assignment:
    """Everything the grader knows about one assignment, loaded once for many submissions."""

    rubric: Rubric
    fixtures: Path
    manifest: dict[str, Any]
    reference: Path | None

    @property
    def mode(self) -> str:
        return "instructor" if self.reference is not None else "student"


def load_assignment(fixtures: Path, reference: Path | None) -> Assignment:
    if not (fixtures / "rubric.toml").is_file() or not (fixtures / "manifest.json").is_file():
        raise SetupError(f"{fixtures} has no rubric.toml and manifest.json; run `grade-build` "
                         "or point --fixtures at the assignment's fixtures folder")
    rubric = load(fixtures / "rubric.toml")
    manifest = json.loads((fixtures / "manifest.json").read_text())
    if manifest.get("rubric_sha256") != rubric.sha256:
        raise SetupError(f"{fixtures}/manifest.json was built from another rubric; run `grade-build`")
    if reference is not None and not (reference / "rubric.toml").is_file():
        raise SetupError(f"{reference} is not a reference folder (no rubric.toml)")
    return Assignment(rubric, fixtures, manifest, reference)


def attempted_items(submission: Path, rubric: Rubric, fingerprints: dict[str, str]) -> dict[str, bool]:
    """False for items whose function is byte-for-byte (as syntax) the template's stub."""
    by_file: dict[str, dict[str, str]] = {}
    attempted = {}
    for item in rubric.items:
        rel = item.module.replace(".", "/") + ".py"
        if rel not in by_file:
            path = submission / rel
            try:
                if path.is_symlink() or path.stat().st_size > MAX_SOURCE_BYTES:
                    raise OSError
                by_file[rel] = function_fingerprints(path.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
                by_file[rel] = {}  # unreadable: the child reports why when it imports it
        template_fp = fingerprints.get(item.id)
        attempted[item.id] = template_fp is None or by_file[rel].get(item.qualname) != template_fp
    return attempted


def _public(assignment: Assignment, item: Item) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    base = assignment.fixtures / "items" / item.slug
    inputs = codec.load(Path(f"{base}.inputs.npz"))["cases"]
    expected = codec.load(Path(f"{base}.expected.npz"))["cases"]
    return inputs, expected


def grade(submission: Path, assignment: Assignment, hidden_seed: str | None = None,
          timeout_override: float | None = None, name: str | None = None) -> Report:
    """Grade one submission folder; never raises for anything inside the submission."""
    rubric = assignment.rubric
    notes: list[str] = []
    plans: dict[str, list[tuple[str, dict[str, Any], dict[str, Any] | None]]] = {}
    hidden_work: list[tuple[Item, list[dict[str, Any]]]] = []
    for item in rubric.items:
        inputs, expected = _public(assignment, item)
        plans[item.id] = [(f"public case {i + 1}", x, e) for i, (x, e) in enumerate(zip(inputs, expected))]
        if assignment.reference is not None:
            if hidden_seed is None:
                raise SetupError("instructor mode needs a hidden seed")
            hidden_work.append((item, hidden_cases(rubric.name, item, hidden_seed, rubric.hidden_cases)))
        elif item.kind == "gradient" or (item.kind == "model" and "grads" in item.parts):
            for i, x in enumerate(hidden_cases(rubric.name, item, SELF_CHECK_SEED, 1)):
                plans[item.id].append((f"self-check {i + 1}", x, None))

    for item, cases in hidden_work:  # the student runs hidden inputs without knowing the answers
        plans[item.id].extend((f"hidden case {i + 1}", x, None) for i, x in enumerate(cases))

    def run_reference() -> dict[str, list[Any]]:
        if not hidden_work:
            return {}
        assert assignment.reference is not None
        return run_cases(assignment.reference, hidden_work, submission_timeout_s=3600,
                         extra_params={"numeric": False})[0]

    with ThreadPoolExecutor(max_workers=2) as pool:
        reference_future = pool.submit(run_reference)
        # Numerical gradients of the student's code only feed messages; hidden cases skip them.
        case_params = {it.id: [{"numeric": False} if label.startswith("hidden") else {}
                               for label, _, _ in plans[it.id]] for it in rubric.items}
        student_future = pool.submit(
            run_cases, submission, [(it, [x for _, x, _ in plans[it.id]]) for it in rubric.items],
            rubric.submission_timeout_s, timeout_override, case_params=case_params)
        reference_results = reference_future.result()
        student_results, skipped = student_future.result()
    if skipped:
        notes.append("not copied for grading (links or files over the size limit): " + ", ".join(skipped[:10]))

    attempted = attempted_items(submission, rubric, assignment.manifest.get("template_fingerprints", {}))
    items = []
    for item in rubric.items:
        runs = []
        expected_hidden = iter(reference_results.get(item.id, []))
        for (label, _, expected), result in zip(plans[item.id], student_results[item.id]):
            if label.startswith("hidden"):
                ref = next(expected_hidden)
                if ref.status != "ok":
                    notes.append(f"{item.id}: the reference failed {label} ({ref.status}); case skipped")
                    continue
                expected = ref.outputs["returned"]
            runs.append(CaseRun(label, result, expected))
        timeout = timeout_override if timeout_override is not None else item.timeout_s
        items.append(score_item(item, runs, attempted[item.id], timeout))
    by_id = {r.id: r for r in items}
    items = [note_dependencies(item, r, by_id) for item, r in zip(rubric.items, items)]
    return Report(assignment=rubric.name, mode=assignment.mode, grader_version=__version__,
                  submission=name or str(submission), items=tuple(items), notes=tuple(notes))
