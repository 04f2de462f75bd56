"""Fixtures: each rubric item's public inputs and the reference's outputs for them.

Per item, `items/<slug>.inputs.npz` holds the inputs of every public case and
`items/<slug>.expected.npz` the reference's outputs; the two are separate files so
that a child process is only ever handed inputs. `manifest.json` records the hash
of every file, of the reference sources and the rubric, the numpy version, and
the fingerprint of every template function (to recognise untouched stubs).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from grader import __version__, codec, kinds, locked_cells, variants
from grader.authoring.public import public_rubric
from grader.backends import Policy
from grader.cases import public_cases
from grader.compare import compare_gradient
from grader.fingerprints import ABSENT, function_fingerprints, notebook_fingerprints
from grader.notebooks import ProbeWork, run_notebooks
from grader.results import ChildResult
from grader.rubric import Item, Rubric
from grader.runner import REFERENCE_PARAMS, run_cases
from grader.scratch import copy_submission


class BuildError(RuntimeError):
    """The reference cannot produce fixtures (it fails, or fails its own gradient checks)."""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gradient_check_failures(item_id: str, case: int, outputs: dict[str, Any]) -> list[str]:
    """The reference's analytic gradients against the numerical ones estimated from its outputs."""
    returned, numeric = outputs.get("returned", {}), outputs.get("numeric", {})
    failures = []
    for name, num in numeric.items():
        problem = compare_gradient(name, returned.get(name), num)
        if problem:
            failures.append(f"{item_id} case {case}: {problem.message}")
    return failures


def _notebook_objects(
    rubric: Rubric, reference_root: Path, work: list[tuple[Item, list[dict[str, Any]]]], extra: dict[str, Any]
) -> dict[str, list[ChildResult]]:
    """Run the reference's notebooks and call the objects they define on the public inputs."""
    if not work:
        return {}
    by_notebook: dict[str, list[ProbeWork]] = {}
    for item, cases in work:
        by_notebook.setdefault(item.notebook, []).append(ProbeWork(item, cases, [dict(extra)] * len(cases)))
    with tempfile.TemporaryDirectory(prefix="grade-build-") as tmp:
        scratch = Path(tmp) / "reference"
        copy_submission(reference_root, scratch)
        (Path(tmp) / "requests").mkdir()
        env = {rubric.dataset_env: rubric.datasets[0]} if rubric.dataset_env else {}
        results: dict[str, list[ChildResult]] = {}
        for run in run_notebooks(rubric, scratch, by_notebook, Path(tmp) / "requests", Policy(env=env)).values():
            results.update(run.probes)
    return results


def _check_value_reads(rubric: Rubric, files: dict[str, bytes]) -> None:
    """A value a notebook item reads must be computed by a locked cell: elsewhere the student could
    write the number in."""
    for item in rubric.notebook_items:
        for variable in kinds.get(item.kind).reads(item):
            record = files.get(f"{locked_cells.FOLDER}/{item.notebook}.json")
            cells = json.loads(record)["cells"] if record else []
            if locked_cells.assigning_cell(cells, variable) is None:
                raise BuildError(
                    f"{item.id}: no locked cell of {item.notebook} assigns {variable}; tag the cell that computes "
                    "it `locked` (or lock it in nbgrader), so that a student cannot write the number in"
                )


def _variant_outputs(
    reference_root: Path, item: Item, cases: list[dict[str, Any]], problems: list[str]
) -> dict[str, list[Any]]:
    """Each variant's outputs on the item's public cases, as the fixtures keep them (student mode
    has no reference to run them from); a variant that cannot run is a problem of the build."""
    outputs: dict[str, list[Any]] = {}
    for variant in item.variants:
        with tempfile.TemporaryDirectory(prefix="grade-build-variant-") as tmp:
            try:
                root = variants.make(reference_root, variant, Path(tmp) / "reference")
            except variants.VariantError as exc:
                problems.append(f"{item.id}: {exc}")
                continue
            results, _ = run_cases(root, [(item, cases)], submission_timeout_s=3600, extra_params=REFERENCE_PARAMS)
        kept = []
        for index, result in enumerate(results[item.id]):
            if result.status != "ok":
                problems.append(f"{item.id}: {variant.label} gave {result.status} on case {index}")
                break
            kept.append(kinds.get(item.kind).fixture_expected(item, result.outputs["returned"]))
        outputs[variant.name] = kept
    return outputs


def render(rubric: Rubric, reference_root: Path, template_files: dict[str, bytes]) -> dict[str, bytes]:
    """Every fixture file as relative path -> bytes; raises BuildError when the reference is wrong."""
    work = [(item, public_cases(rubric.name, item)) for item in rubric.code_items]
    # The full numerical gradient, not a sample: the build is where the reference proves itself.
    # Training under every seed its item names, whose spread judges a student's training.
    full = {**REFERENCE_PARAMS, "numeric": True, "numeric_samples": 0}
    results, _ = run_cases(
        reference_root, [(i, c) for i, c in work if not i.notebook], submission_timeout_s=3600, extra_params=full
    )
    results.update(_notebook_objects(rubric, reference_root, [(i, c) for i, c in work if i.notebook], full))
    files: dict[str, bytes] = {}
    problems: list[str] = []
    for item, cases in work:
        expected = []
        for index, result in enumerate(results[item.id]):
            if result.status != "ok":
                detail = result.meta.get("message") or result.meta.get("traceback") or ""
                problems.append(f"{item.id} case {index}: the reference gave {result.status} {detail}".strip())
                continue
            outputs = kinds.get(item.kind).derive(item, cases[index], result.outputs)
            problems.extend(gradient_check_failures(item.id, index, outputs))
            returned = result.outputs["returned"]
            for problem in kinds.get(item.kind).reference_problems(item, returned):
                problems.append(f"{item.id} case {index}: {problem}")
            expected.append(kinds.get(item.kind).fixture_expected(item, returned))
        files[f"items/{item.slug}.inputs.npz"] = codec.dumps({"cases": cases})
        files[f"items/{item.slug}.expected.npz"] = codec.dumps({"cases": expected})
    for item, cases in work:
        if item.variants:
            outputs = _variant_outputs(reference_root, item, cases, problems)
            files[f"items/{item.slug}.variants.npz"] = codec.dumps({"variants": outputs})
    if problems:
        raise BuildError("the reference fails its own checks; no fixtures written:\n  " + "\n  ".join(problems))

    fingerprints: dict[str, str] = {}
    for item in rubric.code_items:
        rel = item.source_file
        if rel in template_files:
            data = template_files[rel]
            found = notebook_fingerprints(data) if item.notebook else function_fingerprints(data.decode("utf-8"))
            if item.qualname in found:
                fingerprints[item.id] = found[item.qualname]
            elif item.notebook and item.qualname in notebook_fingerprints((reference_root / rel).read_bytes()):
                # A function or class of the reference's that the template leaves out whole.
                fingerprints[item.id] = ABSENT
    try:
        files |= locked_cells.fixture_files(template_files)
    except ValueError as exc:
        raise BuildError(str(exc)) from exc
    _check_value_reads(rubric, files)
    sources = reference_sources(reference_root)
    files["rubric.toml"] = public_rubric((reference_root / "rubric.toml").read_bytes())
    # Provided course code, kept where students cannot edit it: the grader restores it in
    # every scratch copy and, in student mode, scores trained networks with it.
    for entry in rubric.provided:  # a folder of course code, or a single file
        where = reference_root / entry
        for path in [where] if where.is_file() else sorted(where.rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[f"provided/{path.relative_to(reference_root).as_posix()}"] = path.read_bytes()
    manifest = {
        "assignment": rubric.name,
        "grader_version": __version__,
        "numpy_version": np.__version__,
        "rubric_sha256": sha(files["rubric.toml"]),
        "reference_sources": sources,
        "template_fingerprints": fingerprints,
        "files": {name: sha(data) for name, data in sorted(files.items())},
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    return files


def reference_sources(reference_root: Path) -> dict[str, str]:
    """Every file of the reference (relative path -> sha256): what the fixtures are built from."""
    return {
        p.relative_to(reference_root).as_posix(): sha(p.read_bytes())
        for p in sorted(reference_root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def load_manifest(fixtures_root: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((fixtures_root / "manifest.json").read_text())
    return manifest
