"""Input specifications (rubric data) -> concrete values, reproducibly.

A rubric describes each argument as a small table instead of a number typed by
hand, so the same item can be drawn for the public fixtures and again, with other
shapes, from a hidden seed. The forms are `FORMS` (SHAPE is a list of ints,
dimension names, or products of names such as "A*B"). Any other table is a plain
dict whose values are specs in turn; numbers, strings, booleans and lists are
taken as they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

# Each form: how it is written, and what it gives (`docs/rubric.md` is written from these).
FORMS = {
    "randn": ("{randn = SHAPE, scale = 1.0, shift = 0.0}", "normal draws"),
    "rand": ("{rand = SHAPE, low = 0.0, high = 1.0}", "uniform draws"),
    "randint": ("{randint = HIGH, shape = SHAPE}", "integers in [0, HIGH); HIGH may be a dimension's name"),
    "linspace": ("{linspace = [LO, HI], shape = SHAPE}", "evenly spaced from LO to HI, reshaped"),
    "ones": ("{ones = SHAPE}", "ones"),
    "zeros": ("{zeros = SHAPE}", "zeros"),
    "array": ("{array = [[1, 2], [3, 4]]}", "a literal array, for a course's own small test input"),
    "dim": ('{dim = "N"}', "a dimension's value as an int"),
    "dims": ('{dims = ["H1", "H2"]}', "dimensions' values as a list of ints"),
    "value": ("{value = ...}", "any literal, taken as is"),
    "labels_from": (
        '{labels_from = "X", classes = C}',
        (
            "class labels a linear rule gives the same case's input X (every class present when X has at least C "
            "rows): a learnable problem"
        ),
    ),
}
GENERATORS = frozenset(FORMS)
# After any array form: `reshape = SHAPE`, then `transpose = true` (or a list of axes), as a course's own
# `np.linspace(...).reshape(D, N).T` is written `{linspace = [LO, HI], shape = ["D", "N"], transpose = true}`.
MODIFIERS = {"scale", "shift", "low", "high", "shape", "reshape", "transpose"}


class SpecError(ValueError):
    """An input specification in a rubric is malformed."""


def rng_for(*parts: object) -> np.random.Generator:
    """A generator seeded from the parts' text, so a name always draws the same numbers."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _shape(spec: Any, dims: Mapping[str, int], where: str) -> tuple[int, ...]:
    if not isinstance(spec, list):
        raise SpecError(f"{where}: a shape is a list of sizes or dimension names, got {spec!r}")
    return tuple(_size(s, dims, where) for s in spec)


def _size(s: Any, dims: Mapping[str, int], where: str) -> int:
    if isinstance(s, bool):
        raise SpecError(f"{where}: {s!r} is not a size")
    if isinstance(s, int):
        return s
    if isinstance(s, str):
        size = 1
        for part in s.split("*"):  # "A*B": the product of two dimensions
            name = part.strip()
            if name not in dims:
                raise SpecError(f"{where}: unknown dimension {name!r}; declare it under the item's dims")
            size *= dims[name]
        return size
    raise SpecError(f"{where}: {s!r} is not a size")


def is_generator(spec: Any) -> bool:
    return isinstance(spec, dict) and bool(GENERATORS & spec.keys())


def draw(spec: Any, rng: np.random.Generator, dims: Mapping[str, int], where: str = "input") -> Any:
    """Turn one specification into a value, drawing random numbers from rng."""
    if isinstance(spec, dict) and not is_generator(spec):
        return draw_case(spec, rng, dims, where)
    if isinstance(spec, list):
        return [draw(v, rng, dims, f"{where}[{i}]") for i, v in enumerate(spec)]
    if not isinstance(spec, dict):
        return spec
    kinds = GENERATORS & spec.keys()
    if len(kinds) != 1:
        raise SpecError(f"{where}: give exactly one of {sorted(GENERATORS)}, got {sorted(kinds)}")
    (kind,) = kinds
    unknown = spec.keys() - {kind} - MODIFIERS
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)} beside {kind!r}")
    if kind == "labels_from":
        raise SpecError(f"{where}: labels_from names another input of the same case, so it belongs among its inputs")
    value = _generate(kind, spec, rng, dims, where)
    if "reshape" in spec:
        value = np.reshape(value, _shape(spec["reshape"], dims, where))
    transpose = spec.get("transpose", False)
    if transpose is True:
        value = np.asarray(value).T
    elif isinstance(transpose, list):
        value = np.transpose(value, transpose)
    elif transpose is not False:
        raise SpecError(f"{where}: transpose is true or a list of axes, not {transpose!r}")
    return value


def draw_case(case: Mapping[str, Any], rng: np.random.Generator, dims: Mapping[str, int], where: str) -> dict[str, Any]:
    """A table of inputs (a case, or a table inside one), each drawn in turn: its keys are names, never
    a form's (a parameter may be called `value` or `array`), and labels come last, from the inputs
    they name."""
    later = [k for k, v in case.items() if isinstance(v, dict) and "labels_from" in v]
    out = {k: draw(v, rng, dims, f"{where}.{k}") for k, v in case.items() if k not in later}
    for k in later:
        out[k] = _labels(case[k], out, rng, dims, f"{where}.{k}")
    return {k: out[k] for k in case}


def _labels(
    spec: dict[str, Any], siblings: dict[str, Any], rng: np.random.Generator, dims: Mapping[str, int], where: str
) -> Any:
    """Labels of a learnable problem: the rows of the named input, projected on a random direction and
    cut at the quantiles into `classes` bins of (nearly) equal size, so that every class occurs and a
    linear classifier can tell them apart."""
    source = spec["labels_from"]
    if set(spec) - {"labels_from", "classes"}:
        raise SpecError(
            f"{where}: labels_from takes only `classes`, not {sorted(set(spec) - {'labels_from', 'classes'})}"
        )
    if not isinstance(source, str) or not isinstance(siblings.get(source), np.ndarray):
        raise SpecError(f"{where}: labels_from = {source!r} must name an array input of the same case")
    classes = _size(spec.get("classes", 2), dims, where)
    rows = siblings[source].reshape(siblings[source].shape[0], -1)
    projection = rows @ rng.standard_normal(rows.shape[1])
    order = np.argsort(projection, kind="stable")
    labels = np.empty(len(rows), dtype=np.int64)
    labels[order] = np.arange(len(rows)) * classes // max(len(rows), 1)
    return labels


def _generate(kind: str, spec: dict[str, Any], rng: np.random.Generator, dims: Mapping[str, int], where: str) -> Any:
    arg = spec[kind]
    if kind == "randn":
        return spec.get("shift", 0.0) + spec.get("scale", 1.0) * rng.standard_normal(_shape(arg, dims, where))
    if kind == "rand":
        return rng.uniform(spec.get("low", 0.0), spec.get("high", 1.0), _shape(arg, dims, where))
    if kind == "randint":
        return rng.integers(0, _size(arg, dims, where), _shape(spec.get("shape", []), dims, where))
    if kind == "linspace":
        shape = _shape(spec.get("shape"), dims, where)
        return np.linspace(arg[0], arg[1], num=int(np.prod(shape))).reshape(shape)
    if kind == "ones":
        return np.ones(_shape(arg, dims, where))
    if kind == "zeros":
        return np.zeros(_shape(arg, dims, where))
    if kind == "array":
        return np.array(arg)
    if kind == "dim":
        return _size(arg, dims, where)
    if kind == "dims":
        return [_size(a, dims, where) for a in arg]
    return arg  # value


def has_literal_array(spec: Any) -> bool:
    """Whether an input specification holds an `array` form anywhere: its sizes are the literal's."""
    if isinstance(spec, dict):
        return "array" in spec or any(has_literal_array(v) for v in spec.values())
    return isinstance(spec, list) and any(has_literal_array(v) for v in spec)


def hidden_dims(public: Mapping[str, int], ranges: Mapping[str, list[int]], rng: np.random.Generator) -> dict[str, int]:
    """Dimensions for hidden inputs: each drawn from its range (default: half to twice the public size,
    never below 2 where the public size is 2 or more: a dimension of 1 turns two classes into one, a
    batch into a single example, and numpy's broadcasting then hides what a student got wrong)."""
    out = {}
    for name in sorted(public):
        size = public[name]
        lo, hi = ranges.get(name, [min(size, max(2, size // 2)), max(1, 2 * size)])
        out[name] = int(rng.integers(lo, hi + 1))
    return out
