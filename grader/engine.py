"""Grading one submission: gather cases, run them in children, score every item.

Student mode uses the public fixtures plus self-checks (the student's analytic
gradients against numerical gradients of the student's own code on fresh random
inputs). Instructor mode adds hidden cases drawn from a secret seed, with other
sizes, whose expected outputs the reference computes at grading time.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader import (
    __version__,
    backends,
    codec,
    cpus,
    isolation,
    kernels,
    kinds,
    locked_cells,
    messages,
    selection,
    variants,
)
from grader.backends import Backend, Policy
from grader.cases import hidden_cases, request_params
from grader.fingerprints import ABSENT, function_fingerprints, notebook_fingerprints
from grader.isolation import hidden_path_problems
from grader.kinds.context import NotebookContext, TrustedCall
from grader.notebooks import (
    GRADER_FAULT,
    NotebookBatch,
    NotebookRun,
    ProbeWork,
    ValueRead,
    by_notebook,
    notebook_batch,
    run_notebooks_beside,
)
from grader.options import GradeOptions
from grader.project import find_project_root
from grader.replay import MODIFIED, RAISED, RECORDING_SESSION_BYTES, REPLAY_INPUT
from grader.results import GRADER_ERROR, CaseRun, ChildResult, ItemResult, Mode, Origin, Report, Status, flag_note
from grader.rubric import Item, Rubric, load
from grader.runner import REFERENCE_PARAMS, run_cases
from grader.sandbox import SandboxError
from grader.scoring import calls_made, case_passes, note_dependencies, same_output, score_item
from grader.scratch import SAVED_DIR, ScratchError, copy_submission, restore_provided
from grader.untrusted import read_file

SELF_CHECK_SEED = "self-check"
MAX_SOURCE_BYTES = 2 * 1024**2
# Children of the reference's run at once. Not one per core: a container's core count is often the
# host's, and its memory a grading platform's few hundred megabytes; the student's child runs beside.
REFERENCE_CHILDREN = 2


class SetupError(RuntimeError):
    """The grader cannot start: missing fixtures, a stale manifest, a bad rubric."""


Answers = dict[str, list[ChildResult]]  # item id -> the reference's result on each hidden case


class ReferenceAnswers:
    """The reference's outputs on the hidden inputs. These depend on the seed, not on the student:
    whoever grades many submissions (a batch worker, the command line) keeps one of these and the
    reference runs once, not once per student. Holds the answers of one (reference, rubric, seed,
    data set) at a time; module and notebook answers are kept apart, as they are computed apart
    (the module ones in a thread, beside the student's child)."""

    def __init__(self) -> None:
        self._module: tuple[object, Answers] | None = None
        self._notebook: tuple[object, Answers] | None = None

    def module(self, key: object, compute: Callable[[], Answers]) -> Answers:
        if self._module is None or self._module[0] != key:
            self._module = (key, compute())
        return dict(self._module[1])

    def known_notebook(self, key: object) -> Answers | None:
        """The notebook answers for `key`, if they were computed."""
        return dict(self._notebook[1]) if self._notebook is not None and self._notebook[0] == key else None

    def notebook(self, key: object, compute: Callable[[], Answers]) -> Answers:
        if self._notebook is None or self._notebook[0] != key:
            self._notebook = (key, compute())
        return dict(self._notebook[1])


@dataclass(frozen=True)
class Assignment:
    """Everything the grader knows about one assignment, loaded once for many submissions."""

    rubric: Rubric
    fixtures: Path
    manifest: dict[str, Any]
    reference: Path | None

    @property
    def mode(self) -> Mode:
        return "instructor" if self.reference is not None else "student"


def grader_error(item: Item, message: str) -> ItemResult:
    """An item the grader could not grade through its own fault: no points lost, and the report says so."""
    return ItemResult(item.id, item.title, 0.0, item.points, GRADER_ERROR, message, 0.0)


def whole_report(
    assignment: Assignment,
    name: str,
    status: Status,
    message: str,
    notes: tuple[str, ...] = (),
    isolated: str | None = None,
) -> Report:
    """Every item with one status and message: a submission refused whole, or a grader fault."""
    items = tuple(
        grader_error(i, message)
        if status == GRADER_ERROR
        else ItemResult(i.id, i.title, 0.0, i.points, status, message, 0.0)
        for i in assignment.rubric.items
    )
    return Report(
        assignment=assignment.rubric.name,
        mode=assignment.mode,
        grader_version=__version__,
        submission=name,
        items=items,
        notes=notes,
        isolation=isolated if isolated is not None else isolation.summary(),
    )


def hidden_paths(assignment: Assignment, secrets: tuple[Path, ...], *submissions: Path) -> tuple[Path, ...]:
    """What no child may see: the fixtures (expected outputs), the reference and the secrets (the seed's
    folder). Raises SetupError when hiding one would hide what every child needs (all students would
    fail), or when a secret lies inside a submission (it would be copied to the child)."""
    hidden = tuple(
        p.resolve() for p in (assignment.fixtures, *([assignment.reference] if assignment.reference else []), *secrets)
    )
    problems = hidden_path_problems(list(hidden))
    # Covered whole, with what the children need bound back: the course folders (the reference, the
    # checkout's .git, anything else of the instructor's) and the folders holding the submissions
    # (the other students' work).
    courses = {
        find_project_root(p)
        for p in (assignment.fixtures.resolve(), *([assignment.reference.resolve()] if assignment.reference else []))
    }
    folders = {p.resolve().parent for p in submissions}
    hidden += tuple(sorted(p for p in courses | folders if p is not None and p != Path("/")))
    for secret in (p.resolve() for p in secrets):
        for submission in (p.resolve() for p in submissions):
            if secret == submission or submission in secret.parents:
                problems.append(f"{secret} is inside the submission {submission}, which is copied for its child")
    if problems:
        raise SetupError(
            "a hidden path would break grading: " + "; ".join(problems) + ". Keep the hidden seed "
            "in a folder of its own (the default is ~/.config/nn-grader/hidden-seed), away from "
            "the grader's environment and the submissions"
        )
    return hidden


def check_sandbox(
    assignment: Assignment, secrets: tuple[Path, ...], *submissions: Path, backend: Backend | None = None
) -> None:
    """Start one trivial child under the sandbox the students get: proves that it works on this host
    before anyone is graded. Raises SetupError, saying why, when it does not."""
    hidden = hidden_paths(assignment, secrets, *submissions)
    with tempfile.TemporaryDirectory(prefix="grade-canary-") as tmp:
        root, work = Path(tmp) / "root", Path(tmp) / "requests"
        root.mkdir()
        work.mkdir()
        try:
            with (backend or backends.default()).session(root, work, Policy(hidden=hidden)) as session:
                session.start()
        except SandboxError as exc:
            raise SetupError(
                f"{exc}. No submission was graded: this is the grader's set-up, not a student's fault"
            ) from exc


def load_assignment(fixtures: Path, reference: Path | None) -> Assignment:
    """The assignment graded from `fixtures`, in instructor mode when `reference` is given: then the
    rubric is the reference's own (the fixtures' copy is the public form, without the variants' edits),
    and it must be the one the fixtures were built from."""
    if not (fixtures / "rubric.toml").is_file() or not (fixtures / "manifest.json").is_file():
        raise SetupError(
            f"{fixtures} has no rubric.toml and manifest.json; run `grade-build` "
            "or point --fixtures at the assignment's fixtures folder"
        )
    manifest = json.loads((fixtures / "manifest.json").read_text())
    built_by = manifest.get("grader_version")
    if built_by != __version__:
        raise SetupError(
            f"{fixtures} was built by nn-grader {built_by}, and this is nn-grader {__version__}: grade with the "
            f"version the course pins (pip install 'nn-grader=={built_by}'), or rebuild the fixtures with this "
            "one (grade-build) and publish them again"
        )
    if reference is None:
        rubric = load(fixtures / "rubric.toml")
        if manifest.get("rubric_sha256") != rubric.sha256:
            raise SetupError(f"{fixtures}/manifest.json was built from another rubric; run `grade-build`")
        assignment = Assignment(rubric, fixtures, manifest, None)
    else:
        if not (reference / "rubric.toml").is_file():
            raise SetupError(f"{reference} is not a reference folder (no rubric.toml)")
        rubric = load(reference / "rubric.toml")
        if manifest.get("reference_sources", {}).get("rubric.toml") != rubric.sha256:
            raise SetupError(
                f"{fixtures} was built from another rubric than {reference}/rubric.toml; run `grade-build`"
            )
        assignment = Assignment(rubric, fixtures, manifest, reference)
    value_reads(assignment)  # every value a notebook item reads has its locked cell in the fixtures
    return assignment


def _source_fingerprints(path: Path) -> dict[str, str] | None:
    """None when the file cannot be read: the child or the kernel reports why when it runs it."""
    try:
        data = read_file(path, MAX_SOURCE_BYTES)
        if path.suffix == ".ipynb":
            return notebook_fingerprints(data)
        return function_fingerprints(data.decode("utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError, RecursionError):
        return None


def attempted_items(submission: Path, rubric: Rubric, fingerprints: dict[str, str]) -> dict[str, bool]:
    """False for items whose function is, as syntax, still the template's stub (or, where the template
    does not define it at all, still undefined)."""
    by_file: dict[str, dict[str, str] | None] = {}
    attempted = {}
    for item in rubric.code_items:
        rel = item.source_file
        if rel not in by_file:
            by_file[rel] = _source_fingerprints(submission / rel)
        found, template_fp = by_file[rel], fingerprints.get(item.id)
        attempted[item.id] = template_fp is None or found is None or found.get(item.qualname, ABSENT) != template_fp
    return attempted


def _public(
    assignment: Assignment, item: Item
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The public cases' inputs, expected outputs, and each variant's outputs (by name) for each case."""
    base = assignment.fixtures / "items" / item.slug
    inputs = codec.load(Path(f"{base}.inputs.npz"))["cases"]
    expected = codec.load(Path(f"{base}.expected.npz"))["cases"]
    by_case: list[dict[str, Any]] = [{} for _ in inputs]
    if item.variants:
        path = Path(f"{base}.variants.npz")
        if not path.is_file():
            raise SetupError(f"{assignment.fixtures} has no outputs for the variants of {item.id}; run `grade-build`")
        outputs = codec.load(path)["variants"]
        for variant in item.variants:
            for case, value in zip(by_case, outputs.get(variant.name, [])):
                case[variant.name] = value
    return inputs, expected, by_case


def _prepare(submission: Path, scratch: Path, assignment: Assignment) -> list[str]:
    """Copy the submission, restore the provided files, and say what was set aside or replaced."""
    notes = []
    skipped = copy_submission(submission, scratch)
    if skipped:
        notes.append("not copied for grading (links or files over the size limit): " + ", ".join(skipped[:10]))
    changed = restore_provided(scratch, assignment.fixtures / "provided")
    if changed:
        notes.append(flag_note("provided_modified", ", ".join(changed)))
    restored = locked_cells.restore(scratch, assignment.fixtures / locked_cells.FOLDER)
    if restored:
        notes.append(flag_note("locked_cells_changed", ", ".join(restored)))
    # Only what the notebooks save during this run is measured, never weights handed in.
    shutil.rmtree(scratch / SAVED_DIR, ignore_errors=True)
    return notes


@dataclass(frozen=True)
class PlannedCase:
    origin: Origin
    label: str  # what a student reads: "public case 2", "hidden case 1", "self-check 3"
    inputs: dict[str, Any]
    expected: dict[str, Any] | None  # a public case's, from the fixtures; the others' come later or never
    variants: dict[str, Any] = field(default_factory=dict)  # each variant's outputs, likewise
    number: int = 0  # the public case (from 1) it was drawn after


def _cases(
    item: Item,
    origin: Origin,
    cases: list[dict[str, Any]],
    expected: list[Any] | None = None,
    variant_outputs: list[dict[str, Any]] | None = None,
    per_case: int = 0,
    first: int = 0,
) -> list[PlannedCase]:
    """The public cases themselves (`per_case` 0), or `per_case` cases drawn after each of them, in
    order (hidden cases, self-checks); labels count from `first` + 1."""
    name = {"public": "public case", "hidden": "hidden case", "self-check": "self-check"}[origin]
    answers = expected if expected is not None else [None] * len(cases)
    others = variant_outputs if variant_outputs is not None else [{} for _ in cases]
    planned = []
    for i, (x, e, v) in enumerate(zip(cases, answers, others)):
        number = i // per_case + 1 if per_case else i + 1
        about = item.about(number)
        if per_case and len(item.cases) > 1:  # a student reads which public case to study, and what it is
            about = f"drawn like public case {number}" + (f": {about}" if about else "")
        label = f"{name} {first + i + 1}" + (f" ({about})" if about else "")
        planned.append(PlannedCase(origin, label, x, e, v, number))
    return planned


Plan = dict[str, list[PlannedCase]]


def _plan(
    assignment: Assignment,
    hidden_seed: str | None,
    items: tuple[Item, ...],
) -> tuple[Plan, list[tuple[Item, list[dict[str, Any]]]]]:
    """Every case of every code item, and the hidden work (the reference's answers to find)."""
    rubric = assignment.rubric
    plans: Plan = {}
    hidden_work: list[tuple[Item, list[dict[str, Any]]]] = []
    for item in items:
        inputs, expected, variant_outputs = _public(assignment, item)
        if item.self_check:  # the student's own design: only the student's own numerical gradient judges it
            seed = hidden_seed if assignment.reference is not None and hidden_seed is not None else SELF_CHECK_SEED
            drawn = hidden_cases(rubric.name, item, seed, rubric.hidden_cases)
            plans[item.id] = _cases(item, "self-check", inputs)
            plans[item.id] += _cases(item, "self-check", drawn, per_case=rubric.hidden_cases, first=len(inputs))
            continue
        plans[item.id] = _cases(item, "public", inputs, expected, variant_outputs)
        if assignment.reference is not None:
            if hidden_seed is None:
                raise SetupError("instructor mode needs a hidden seed")
            cases = hidden_cases(rubric.name, item, hidden_seed, rubric.hidden_cases)
            hidden_work.append((item, cases))
            # The student runs hidden inputs without knowing the answers.
            plans[item.id] += _cases(item, "hidden", cases, per_case=rubric.hidden_cases)
        elif kinds.get(item.kind).self_checks(item):
            drawn = hidden_cases(rubric.name, item, SELF_CHECK_SEED, 1)
            plans[item.id] += _cases(item, "self-check", drawn, per_case=1)
    return plans, hidden_work


def _case_params(plans: Plan, items: tuple[Item, ...]) -> dict[str, list[dict[str, Any]]]:
    """Numerical gradients of the student's code feed messages, and the points of a kind that
    carries errors forward; hidden cases skip them where they feed messages only."""

    def params(item: Item, case: PlannedCase) -> dict[str, Any]:
        skip = case.origin == "hidden" and not kinds.get(item.kind).carries_forward and not item.own_parts(case.number)
        return {"numeric": False} if skip else {}

    return {it.id: [params(it, case) for case in plans[it.id]] for it in items}


def _score_code(
    assignment: Assignment,
    plans: Plan,
    student: dict[str, list[ChildResult]],
    reference: dict[str, list[ChildResult]],
    items: tuple[Item, ...],
    original: Path,
    timeout_override: float | None,
    notes: list[str],
    calls: dict[str, frozenset[str] | None],
    upstream: Upstream | None = None,
) -> list[ItemResult]:
    attempted = attempted_items(original, assignment.rubric, assignment.manifest.get("template_fingerprints", {}))
    out = []
    for item in items:
        runs = []
        fault = ""
        hidden_index = 0
        replayed = (upstream or {}).get(item.id, {})
        for k, (case, raw) in enumerate(zip(plans[item.id], student[item.id])):
            expected, alternatives = case.expected, case.variants
            if case.origin == "hidden":
                answers = [reference.get(item.id, [])] + [
                    reference.get(variants.answers_key(item.id, v), []) for v in item.variants
                ]
                found = [a[hidden_index] if hidden_index < len(a) else ChildResult("missing") for a in answers]
                hidden_index += 1
                failed = next((k for k, r in enumerate(found) if r.status != "ok"), None)
                if failed is not None:
                    why = found[failed].meta.get("message", found[failed].status)
                    variant = item.variants[failed - 1].name if failed else ""
                    fault = fault or messages.reference_failed(case.label, why, variant)
                    continue
                expected = found[0].outputs["returned"]
                alternatives = {v.name: r.outputs["returned"] for v, r in zip(item.variants, found[1:])}
            result = raw
            if raw.status == "ok":
                result = replace(raw, outputs=kinds.get(item.kind).derive(item, case.inputs, raw.outputs))
            fed, fed_by = replayed.get(k, (None, ""))
            runs.append(
                CaseRun(case.label, result, expected, case.origin, alternatives, case.number, case.inputs, fed, fed_by)
            )
        if fault:
            out.append(grader_error(item, fault))
            continue
        timeout = timeout_override if timeout_override is not None else item.timeout_s
        out.append(score_item(item, runs, attempted[item.id], timeout))
        calls[item.id] = calls_made(runs)
        public = [r for r in runs if r.origin == "public"]
        hidden = [r for r in runs if r.origin == "hidden"]
        if (
            public
            and hidden
            and all(case_passes(item, r) for r in public)
            and not any(case_passes(item, r) for r in hidden)
        ):
            notes.append(flag_note("public_only", item.id))
    return out


# item id -> case index -> (what the reference gives fed the student's own recorded calls, their names)
Upstream = dict[str, dict[int, tuple[dict[str, Any], str]]]


def _replay_targets(item: Item, by_id: dict[str, ItemResult], called: frozenset[str] | None) -> list[list[str]]:
    """The functions, as [key, module, qualname], of the items `item` depends on that its code called
    and that lost points themselves: the upstream code a bug would be carried forward from. Never
    the item's own function (a method graded under several ids)."""
    result = by_id.get(item.id)
    if result is None or result.status not in ("fail", "partial", "error") or not called:
        return []
    found: dict[str, list[str]] = {}
    for dep in item.depends:
        upstream = by_id.get(dep)  # absent for a notebook's item when notebooks are not run
        lost = upstream is not None and upstream.points < upstream.max_points and upstream.status != GRADER_ERROR
        module, _, rest = dep.partition(":")
        qualname = rest.split("[", 1)[0]
        if lost and dep in called and (module, qualname) != (item.module, item.qualname):
            found.setdefault(f"{module}:{qualname}", [f"{module}:{qualname}", module, qualname])
    return list(found.values())


def _replayed_upstream(
    assignment: Assignment,
    plans: Plan,
    student: dict[str, list[ChildResult]],
    targets: dict[str, list[list[str]]],
    scratch: Path,
    tmp: Path,
    timeout_override: float | None,
    policy: Policy,
    backend: Backend,
) -> Upstream:
    """For each item in `targets`, on each case: the reference's outputs when fed the student's own
    recorded calls to those functions (`grader.replay`). The student's code runs again, recording;
    a case whose outputs differ from the first run's (code that is not deterministic) is left out."""
    rubric = assignment.rubric
    chosen = [rubric.item(i) for i in targets]
    recording = replace(policy, limits=replace(policy.limits, session_result_bytes=RECORDING_SESSION_BYTES))
    in_modules = [it for it in chosen if not it.notebook]
    recorded: dict[str, list[ChildResult]] = {}
    if in_modules:
        recorded, _ = run_cases(
            scratch,
            [(it, [case.inputs for case in plans[it.id]]) for it in in_modules],
            rubric.submission_timeout_s,
            timeout_override,
            extra_params={"numeric": False},
            case_params={it.id: [{"record": targets[it.id]}] * len(plans[it.id]) for it in in_modules},
            scratch=scratch,
            policy=recording,
            backend=backend,
        )
    answers: dict[int, ChildResult] = {}  # by the ask's index
    # An object a notebook defines is recorded in a new run of the student's notebook; the reference's
    # notebook, which defines the object the replay runs in, runs its cells meanwhile.
    record = {it.id: [{"numeric": False, "record": targets[it.id]}] * len(plans[it.id]) for it in chosen if it.notebook}
    if record:
        asks, where, answers = _record_and_replay_notebooks(
            assignment, plans, student, targets, recorded, record, scratch, tmp, recording, policy, backend
        )
    else:
        asks, where = _asks(chosen, plans, student, targets, recorded)
    in_modules_asked = [k for k, (item_id, _) in enumerate(where) if not rubric.item(item_id).notebook]
    if in_modules_asked:
        found = _run_trusted(assignment, [asks[k] for k in in_modules_asked], tmp, policy, backend)
        answers |= dict(zip(in_modules_asked, found))
    out: Upstream = {}
    missing = ChildResult("crashed", meta={"message": "the reference's notebook did not answer"})
    for k, (item_id, case) in enumerate(where):
        answer = answers.get(k, missing)
        outputs = answer.outputs if isinstance(answer.outputs, dict) else {}
        returned = {RAISED: outputs["raised"]} if "raised" in outputs else outputs.get("returned")
        changed = outputs.get("modified")
        if isinstance(returned, dict) and isinstance(changed, list) and changed:
            writers = _writers(recorded[item_id][case], targets[item_id])
            returned = {**returned, MODIFIED: {"arguments": [str(m) for m in changed], "by": writers}}
        if answer.status == "ok" and isinstance(returned, dict):
            names = ", ".join(t[2] for t in targets[item_id])
            out.setdefault(item_id, {})[case] = (returned, names)
    return out


def _writers(recording: ChildResult, targets: list[list[str]]) -> list[str]:
    """The replayed functions whose recorded calls changed an argument in place, by name."""
    names = {key: qualname for key, _, qualname in targets}
    calls = recording.outputs.get("calls") if isinstance(recording.outputs, dict) else None
    found = [
        names[c["key"]]
        for c in (calls if isinstance(calls, list) else [])
        if isinstance(c, dict) and c.get("after") and c.get("key") in names
    ]
    return list(dict.fromkeys(found))


def _asks(
    chosen: list[Item],
    plans: Plan,
    student: dict[str, list[ChildResult]],
    targets: dict[str, list[list[str]]],
    recorded: dict[str, list[ChildResult]],
) -> tuple[list[TrustedCall], list[tuple[str, int]]]:
    """The replays to ask the reference for, and the (item id, case) of each: every case whose
    recording gave the first run's outcome."""
    asks: list[TrustedCall] = []
    where: list[tuple[str, int]] = []
    for it in chosen:
        for k, (case, first, again) in enumerate(zip(plans[it.id], student[it.id], recorded[it.id])):
            log = again.outputs.get("calls") if again.status == "ok" and isinstance(again.outputs, dict) else None
            if not isinstance(log, list) or not _same_outcome(it, first, again):
                continue
            params = {**request_params(it), "numeric": False, "replay": targets[it.id]}
            params.pop("trace", None)
            asks.append(TrustedCall(it.module, it.qualname, it.probe(), params, {**case.inputs, REPLAY_INPUT: log}))
            where.append((it.id, k))
    return asks, where


def _beside_pays() -> bool:
    """Whether the reference's notebooks run beside a student's (a one-off grade's answers, a replay)
    rather than after them. On one CPU that gains nothing, and the student's timed cells would share
    it with the reference's."""
    return cpus.usable() >= 2


def _record_and_replay_notebooks(
    assignment: Assignment,
    plans: Plan,
    student: dict[str, list[ChildResult]],
    targets: dict[str, list[list[str]]],
    recorded: dict[str, list[ChildResult]],
    record: dict[str, list[dict[str, Any]]],
    scratch: Path,
    tmp: Path,
    recording: Policy,
    policy: Policy,
    backend: Backend,
) -> tuple[list[TrustedCall], list[tuple[str, int]], dict[int, ChildResult]]:
    """The student's notebooks run again, recording the items in `record` (added to `recorded`), and
    beside them the reference's, which answer the replays of notebook items once the recordings are
    in: every replay asked (`_asks`), and the reference's answers to those of notebook items, by the
    ask's index."""
    rubric = assignment.rubric
    assert assignment.reference is not None  # a replay is instructor mode's
    ref_scratch = tmp / "reference-replay"
    copy_submission(assignment.reference, ref_scratch)
    for folder in ("recording-requests", "replay-requests"):
        (tmp / folder).mkdir()
    asks: list[TrustedCall] = []
    where: list[tuple[str, int]] = []
    by_item: dict[str, list[int]] = {}  # item id -> the indices of its asks, in the order probed

    def replays(runs: dict[str, NotebookRun]) -> dict[str, list[ProbeWork]]:
        recorded.update({i: results for run in runs.values() for i, results in run.probes.items()})
        chosen = [rubric.item(i) for i in targets]
        asks[:], where[:] = _asks(chosen, plans, student, targets, recorded)
        for k, (item_id, _) in enumerate(where):
            if rubric.item(item_id).notebook:
                by_item.setdefault(item_id, []).append(k)
        work: dict[str, list[ProbeWork]] = {}
        for item_id, ks in by_item.items():
            item = rubric.item(item_id)
            probe = ProbeWork(item, [asks[k].inputs for k in ks], [asks[k].params for k in ks])
            work.setdefault(str(item.notebook), []).append(probe)
        return work

    recording_work = _probe_work(plans, tuple(rubric.item(i) for i in record), record)
    recording_batch = notebook_batch(
        rubric, scratch, recording_work, tmp / "recording-requests", recording, names=recording_work
    )
    reference_policy = Policy(env=policy.env, hidden=policy.hidden)
    if _beside_pays():
        replaying = notebook_batch(
            rubric, ref_scratch, {}, tmp / "replay-requests", reference_policy, names=recording_work
        )
        _, runs = run_notebooks_beside(recording_batch, replaying, replays, backend)
    else:
        work = replays(_run_batch(recording_batch, backend))
        replaying = notebook_batch(rubric, ref_scratch, work, tmp / "replay-requests", reference_policy, names=work)
        runs = _run_batch(replaying, backend)
    # The reference's kernel failing is the grader's fault: judged without its replay, the student
    # would lose points again for an upstream bug, so no grade is given, as for a module's replay.
    for run in runs.values():
        if run.status in (GRADER_FAULT, "dead"):
            raise SandboxError(f"the reference's {run.notebook}, run for a replay: {run.message}")
    answers: dict[int, ChildResult] = {}
    for item_id, ks in by_item.items():
        results = runs[str(rubric.item(item_id).notebook)].probes.get(item_id, [])
        answers |= {k: results[n] for n, k in enumerate(ks) if n < len(results)}
    return asks, where, answers


def _named(
    cases: dict[int, tuple[dict[str, Any], str]], item: Item, targets: list[list[str]], final: dict[str, ItemResult]
) -> dict[int, tuple[dict[str, Any], str]]:
    """An item's replayed cases named by the functions replayed whose items still lose points (the
    root of the difference), or by all of them when none does."""
    losing = [
        qualname
        for key, _, qualname in targets
        if any(
            d.split("[", 1)[0] == key and final[d].points < final[d].max_points and final[d].status != GRADER_ERROR
            for d in item.depends
        )
    ]
    names = ", ".join(losing or [t[2] for t in targets])
    return {k: (outputs, names) for k, (outputs, _) in cases.items()}


def _same_outcome(item: Item, first: ChildResult, again: ChildResult) -> bool:
    """Whether a second run of a case gave the first run's outputs, within the item's tolerance, or
    raised the first run's exception."""
    if first.status == "exception":
        return bool(first.meta.get("error_type")) and again.outputs.get("raised") == first.meta.get("error_type")
    if first.status != "ok" or "raised" in again.outputs:
        return False
    want = again.outputs.get("returned")
    if not isinstance(want, dict):
        return False
    run = CaseRun("", first, want, "public")
    return all(same_output(item, part, run, want) for part in item.parts)


def _dataset_env(rubric: Rubric, dataset: str, data_dir: Path | None) -> dict[str, str]:
    env = {}
    if rubric.dataset_env:
        env[rubric.dataset_env] = dataset
    if rubric.data_dir_env and data_dir is not None:
        env[rubric.data_dir_env] = str(data_dir.resolve())
    return env


def _notebook_items(
    scratch: Path,
    original: Path,
    assignment: Assignment,
    dataset: str,
    runs: dict[str, NotebookRun],
    tmp: Path,
    policy: Policy,
    backend: Backend,
) -> tuple[list[ItemResult], list[tuple[str, bytes]]]:
    """Every notebook item, each kind scoring all of its items at once."""
    figures = [figure for name in assignment.rubric.notebooks for figure in runs[name].figures]

    def run_trusted(calls: list[TrustedCall]) -> list[ChildResult]:
        return _run_trusted(assignment, calls, tmp, policy, backend)

    context = NotebookContext(runs, original, scratch, dataset, assignment.mode, run_trusted)
    by_kind: dict[str, list[Item]] = {}
    for item in assignment.rubric.notebook_items:
        by_kind.setdefault(item.kind, []).append(item)
    results = [r for name, items in by_kind.items() for r in kinds.get(name).score_notebook(items, context)]
    return results, figures


def _run_trusted(
    assignment: Assignment,
    calls: list[TrustedCall],
    tmp: Path,
    policy: Policy,
    backend: Backend,
) -> list[ChildResult]:
    """Calls to trusted code (the reference, or the provided files in student mode) in a child of their
    own, e.g. to measure the accuracy of a network a notebook saved."""
    trusted = assignment.reference if assignment.reference is not None else assignment.fixtures / "provided"
    root = tmp / f"trusted-{secrets.token_hex(4)}"
    copy_submission(trusted, root)
    workdir = tmp / f"{root.name}-requests"
    workdir.mkdir()
    with backend.session(root, workdir, policy) as session:
        return [session.run(c.module, c.qualname, c.probe, c.params, c.inputs, timeout_s=600) for c in calls]


def without_provided_frames(result: ChildResult, provided: tuple[str, ...]) -> ChildResult:
    """The result with the frames of the course's provided files cut from its traceback: a student
    reads where their own code went wrong, not the course's helper it called."""
    trace = result.meta.get("traceback")
    if not provided or not isinstance(trace, str) or not trace:
        return result
    kept: list[str] = []
    skipping = False
    for line in trace.splitlines():
        if line.startswith('  File "'):
            path = line[len('  File "') :].split('"', 1)[0]
            skipping = any(path == p or path.startswith(p.rstrip("/") + "/") for p in provided)
        if not skipping:
            kept.append(line)
    return replace(result, meta={**result.meta, "traceback": "\n".join(kept)})


def value_reads(assignment: Assignment) -> dict[str, tuple[ValueRead, ...]]:
    """By notebook, the variables its run reads for the rubric's items, each after the locked cell
    of the course's that assigns it."""
    reads: dict[str, tuple[ValueRead, ...]] = {}
    for item in assignment.rubric.notebook_items:
        kind = kinds.get(item.kind)
        for variable in kind.reads(item):
            assert item.notebook is not None
            cells = locked_cells.recorded(assignment.fixtures / locked_cells.FOLDER, item.notebook)
            cell = locked_cells.assigning_cell(cells, variable)
            if cell is None:
                raise SetupError(
                    f"{item.id}: no locked cell of {item.notebook} in {assignment.fixtures} assigns {variable}; "
                    "run `grade-build`"
                )
            reads[item.notebook] = (
                *reads.get(item.notebook, ()),
                ValueRead(variable, cell["id"], cell["source"], kind.probe(item)),
            )
    return reads


def _probe_work(
    plans: Plan, items: tuple[Item, ...], params: dict[str, list[dict[str, Any]]]
) -> dict[str, list[ProbeWork]]:
    work: dict[str, list[ProbeWork]] = {}
    for item in items:
        cases = [case.inputs for case in plans[item.id]]
        work.setdefault(item.notebook, []).append(ProbeWork(item, cases, params[item.id]))
    return work


def _answers_key(assignment: Assignment, hidden_seed: str | None, env: dict[str, str]) -> object:
    # The items too: a rubric narrowed by --only has the sha256 of the whole one.
    items = tuple(i.id for i in assignment.rubric.items)
    return (str(assignment.reference), assignment.rubric.sha256, items, hidden_seed, json.dumps(env, sort_keys=True))


def _module_answers(
    reference: Path,
    work: list[tuple[Item, list[dict[str, Any]]]],
    env: dict[str, str],
    hidden: tuple[Path, ...],
    backend: Backend,
) -> Answers:
    policy = Policy(env=env, hidden=hidden)

    def answers(root: Path, work: list[tuple[Item, list[dict[str, Any]]]]) -> Answers:
        return run_cases(root, work, 3600, extra_params=REFERENCE_PARAMS, policy=policy, backend=backend)[0]

    def variant_answers(item: Item, cases: list[dict[str, Any]], variant: variants.Variant) -> list[ChildResult]:
        with tempfile.TemporaryDirectory(prefix="grade-variant-") as tmp:
            try:
                root = variants.make(reference, variant, Path(tmp) / "reference")
            except variants.VariantError as exc:
                raise SetupError(f"{item.id}: {exc}") from exc
            return answers(root, [(item, cases)])[item.id]

    # The reference, and each variant of it that an item names on that item's hidden cases, each in a
    # child of its own: REFERENCE_CHILDREN at a time, since a one-off grade (a Gradescope or a CI run)
    # waits for all of them, one after the other before (nndl's eight variants: most of such a grade).
    asked = [(item, cases, variant) for item, cases in work for variant in item.variants]
    with ThreadPoolExecutor(max_workers=min(REFERENCE_CHILDREN, cpus.usable())) as pool:
        own = pool.submit(answers, reference, work)
        others = [pool.submit(variant_answers, *ask) for ask in asked]
        found = own.result()
        for (item, _, variant), future in zip(asked, others):
            found[variants.answers_key(item.id, variant)] = future.result()
    return found


def _reference_notebooks(
    rubric: Rubric,
    reference: Path,
    items: tuple[Item, ...],
    cases: dict[str, list[dict[str, Any]]],
    env: dict[str, str],
    hidden: tuple[Path, ...],
    tmp: Path,
) -> NotebookBatch:
    """The reference's own notebooks that define the objects of `items`, each probed on their hidden
    cases, in a copy of the reference in `tmp`."""
    ref_scratch = tmp / "reference"
    copy_submission(reference, ref_scratch)
    work: dict[str, list[ProbeWork]] = {}
    for item in items:
        work.setdefault(str(item.notebook), []).append(
            ProbeWork(item, cases[item.id], [{"numeric": False}] * len(cases[item.id]))
        )
    (tmp / "reference-requests").mkdir()
    policy = Policy(env=env, hidden=hidden)
    return notebook_batch(rubric, ref_scratch, work, tmp / "reference-requests", policy, names=work)


def _notebook_answers(runs: dict[str, NotebookRun]) -> Answers:
    return {item_id: results for run in runs.values() for item_id, results in run.probes.items()}


def prepare_answers(
    assignment: Assignment, options: GradeOptions, submissions: tuple[Path, ...], backend: Backend | None = None
) -> ReferenceAnswers:
    """The reference's answers to every hidden case, before any student is graded. A batch computes
    them once, in its parent, and every worker starts with them: otherwise each worker runs the
    reference beside its first student, whose timed cases then share the machine with it."""
    answers = ReferenceAnswers()
    if assignment.reference is None:
        return answers
    backend = backend or backends.of(options)
    rubric = assignment.rubric
    dataset = options.dataset or rubric.datasets[0]
    if dataset not in rubric.datasets:
        raise SetupError(f"data set {dataset!r} is not one of {', '.join(rubric.datasets)}")
    env = _dataset_env(rubric, dataset, options.data_dir)
    hidden = hidden_paths(assignment, options.secrets, *submissions)
    notebook_code = tuple(i for i in rubric.code_items if i.notebook) if options.notebooks else ()
    _, hidden_work = _plan(assignment, options.hidden_seed, rubric.module_items + notebook_code)
    key = _answers_key(assignment, options.hidden_seed, env)
    reference = assignment.reference
    module_hidden = [(i, c) for i, c in hidden_work if not i.notebook]
    if module_hidden:
        answers.module(key, lambda: _module_answers(reference, module_hidden, env, hidden, backend))
    notebook_hidden = {i.id: c for i, c in hidden_work if i.notebook}
    if notebook_hidden:
        with tempfile.TemporaryDirectory(prefix="grade-answers-") as tmp:
            batch = _reference_notebooks(rubric, reference, notebook_code, notebook_hidden, env, hidden, Path(tmp))
            answers.notebook(key, lambda: _notebook_answers(_run_batch(batch, backend)))
    return answers


def _run_batch(batch: NotebookBatch, backend: Backend) -> dict[str, NotebookRun]:
    """Kernels are driven from the calling thread only: nbclient leaves an event loop behind in any other."""
    return by_notebook(batch, backend.notebooks(batch.jobs, batch.cwd, batch.workdir, batch.policy))


def grade(
    submission: Path,
    assignment: Assignment,
    options: GradeOptions = GradeOptions(),
    name: str | None = None,
    *,
    backend: Backend | None = None,
    answers: ReferenceAnswers | None = None,
    handed_in: Path | None = None,
) -> Report:
    """Grade one submission folder. Raises only SetupError (the options cannot work for any
    submission); whatever else goes wrong is contained in this submission's report: the
    student's problems as the student's results, the grader's as `grader_error` items.

    Children and kernels run on `backend` (the local one by default). `answers` keeps the
    reference's answers to the hidden cases for the next submission graded with it. A submission
    graded from a copy (extracted from its zip, or sent to a cluster's worker) names where it was
    handed in as `handed_in`: the folder holding that (the classmates' work) is hidden from the
    children as the folder holding a submission folder is.
    """
    label = name or str(submission)
    if not options.only:
        return _graded(submission, assignment, options, label, backend, answers, handed_in)
    # The items asked for are graded with those they depend on, as in a whole grade, and alone reported.
    narrowed = replace(assignment, rubric=selection.with_dependencies(assignment.rubric, options.only))
    report = _graded(submission, narrowed, options, label, backend, answers, handed_in)
    return selection.reported(report, options.only, assignment.rubric)


def _graded(
    submission: Path,
    assignment: Assignment,
    options: GradeOptions,
    label: str,
    backend: Backend | None,
    answers: ReferenceAnswers | None,
    handed_in: Path | None,
) -> Report:
    chosen = backend or backends.of(options)
    try:
        return _grade(submission, assignment, options, label, chosen, answers or ReferenceAnswers(), handed_in)
    except SetupError:
        raise
    except ScratchError as exc:
        return whole_report(
            assignment, label, "error", f"the submission was not graded: {exc}", isolated=chosen.summary()
        )
    except SandboxError as exc:
        return whole_report(assignment, label, GRADER_ERROR, messages.grader_fault(str(exc)), isolated=chosen.summary())
    except Exception as exc:  # noqa: BLE001 - one submission's fault of any kind stays in its report
        return whole_report(
            assignment,
            label,
            GRADER_ERROR,
            messages.grader_fault(f"internal error {type(exc).__name__}: {str(exc)[:300]}"),
            isolated=chosen.summary(),
        )


def _grade(
    submission: Path,
    assignment: Assignment,
    options: GradeOptions,
    name: str,
    backend: Backend,
    answers: ReferenceAnswers,
    handed_in: Path | None,
) -> Report:
    rubric = assignment.rubric
    hidden_seed, timeout_override, data_dir = options.hidden_seed, options.timeout_override, options.data_dir
    hidden = hidden_paths(assignment, options.secrets, submission, *([handed_in] if handed_in else []))
    dataset = options.dataset or rubric.datasets[0]
    if dataset not in rubric.datasets:
        raise SetupError(f"data set {dataset!r} is not one of {', '.join(rubric.datasets)}")
    env = _dataset_env(rubric, dataset, data_dir)
    readable = (data_dir.resolve(),) if data_dir is not None else ()  # e.g. cifar-10-batches-py
    policy = Policy(env=env, hidden=hidden, readable=readable)
    module_items = rubric.module_items
    notebook_code = tuple(i for i in rubric.code_items if i.notebook) if options.notebooks else ()
    plans, hidden_work = _plan(assignment, hidden_seed, module_items + notebook_code)
    params = _case_params(plans, module_items + notebook_code)
    calls: dict[str, frozenset[str] | None] = {}  # item id -> the items it depends on that it called
    with kernels.workspace() as tmp:
        scratch = tmp / kernels.SCRATCH
        notes = _prepare(submission, scratch, assignment)

        # The hidden inputs depend on the seed, not on the student: the reference runs on them once
        # (module answers, then notebook answers) for every submission graded with `answers`.
        answers_key = _answers_key(assignment, hidden_seed, env)
        module_hidden = [(i, c) for i, c in hidden_work if not i.notebook]

        def run_reference() -> Answers:
            if assignment.reference is None or not module_hidden:
                return {}
            reference = assignment.reference
            return answers.module(answers_key, lambda: _module_answers(reference, module_hidden, env, hidden, backend))

        with ThreadPoolExecutor(max_workers=2) as pool:
            reference_future = pool.submit(run_reference)
            student_future = pool.submit(
                run_cases,
                scratch,
                [(it, [case.inputs for case in plans[it.id]]) for it in module_items],
                rubric.submission_timeout_s,
                timeout_override,
                case_params=params,
                scratch=scratch,
                policy=Policy(env=env, hidden=hidden),
                backend=backend,
            )
            reference_results = reference_future.result()
            student_results, _ = student_future.result()

        notebook_hidden = {i.id: c for i, c in hidden_work if i.notebook}
        figures: list[tuple[str, bytes]] = []
        items: list[ItemResult] = []
        faulty: dict[str, str] = {}  # notebook -> why its kernel could not start
        if options.notebooks and rubric.notebooks:
            (tmp / kernels.REQUESTS).mkdir(exist_ok=True)  # a kernel kept for this submission has one
            work = _probe_work(plans, notebook_code, params)
            batch = notebook_batch(rubric, scratch, work, tmp / kernels.REQUESTS, policy, value_reads(assignment))
            # The reference's own notebooks define the expected objects, each probed on the hidden cases.
            notebook_answers = answers.known_notebook(answers_key)
            if notebook_hidden and notebook_answers is None:
                assert assignment.reference is not None  # hidden work exists in instructor mode only
                ref = _reference_notebooks(
                    rubric, assignment.reference, notebook_code, notebook_hidden, env, hidden, tmp
                )
                if _beside_pays():  # not yet known (a one-off grade): beside the student's
                    runs, theirs = run_notebooks_beside(batch, ref, None, backend)
                    notebook_answers = answers.notebook(answers_key, lambda: _notebook_answers(theirs))
                else:
                    notebook_answers = answers.notebook(
                        answers_key, lambda: _notebook_answers(_run_batch(ref, backend))
                    )
                    runs = _run_batch(batch, backend)
            else:
                runs = _run_batch(batch, backend)
            reference_results.update(notebook_answers or {})
            for run in runs.values():
                student_results.update(run.probes)
            faulty = {n: run.message for n, run in runs.items() if run.status == GRADER_FAULT}
            nb_items, figures = _notebook_items(scratch, submission, assignment, dataset, runs, tmp, policy, backend)
            items += nb_items
        student_results = {
            i: [without_provided_frames(r, rubric.provided) for r in rs] for i, rs in student_results.items()
        }
        items += _score_code(
            assignment,
            plans,
            student_results,
            reference_results,
            module_items + notebook_code,
            submission,
            timeout_override,
            notes,
            calls,
        )
        if assignment.reference is not None:
            # A bug costs its points once: an item that lost points while calling upstream code that
            # lost points too is judged again against the reference fed that code's own outputs.
            by_id = {r.id: r for r in items}
            graded = module_items + notebook_code
            targets = {i.id: t for i in graded if (t := _replay_targets(i, by_id, calls.get(i.id)))}
            if targets:
                upstream = _replayed_upstream(
                    assignment, plans, student_results, targets, scratch, tmp, timeout_override, policy, backend
                )
                again = tuple(rubric.item(i) for i in upstream)

                def rescore(upstream: Upstream) -> list[ItemResult]:
                    scored = _score_code(
                        assignment, plans, student_results, reference_results, again, submission, timeout_override, [],
                        calls, upstream,
                    )  # fmt: skip
                    rescored = {r.id: r for r in scored}
                    return [rescored.get(r.id, r) for r in items]

                # The message names the upstream functions that still lose points once this is done.
                final = {r.id: r for r in rescore(upstream)}
                items = rescore({i: _named(upstream[i], rubric.item(i), targets[i], final) for i in upstream})
    flagged = sorted(
        {
            f
            for results in student_results.values()
            for r in results
            for f in r.meta.get("suspicious", [])
            if isinstance(f, str)
        }
    )
    notes += [flag_note("sandbox_refused", f) for f in flagged[:20]]
    items = [
        grader_error(rubric.item(r.id), messages.grader_fault(faulty[nb]))
        if (nb := rubric.item(r.id).notebook) in faulty and kinds.get(rubric.item(r.id).kind).needs_kernel
        else r
        for r in items
    ]
    by_id = {r.id: r for r in items}
    order = {item.id: k for k, item in enumerate(rubric.items)}
    items = sorted(
        (note_dependencies(rubric.item(r.id), r, by_id, calls.get(r.id)) for r in items), key=lambda r: order[r.id]
    )
    if not options.notebooks and rubric.notebooks:
        notes.append("notebooks not run (--no-notebooks): their items are not in this report")
    return Report(
        assignment=rubric.name,
        mode=assignment.mode,
        grader_version=__version__,
        submission=name,
        items=tuple(items),
        notes=tuple(notes),
        isolation=backend.summary(),
        figures=tuple(figures),
    )
