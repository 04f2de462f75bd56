"""The concrete inputs of each rubric item: public ones for fixtures, hidden ones from a secret seed."""

from __future__ import annotations

from typing import Any

from grader import kinds
from grader.inputs import draw_case, has_literal_array, hidden_dims, rng_for
from grader.rubric import Item


def _finish(item: Item, inputs: dict[str, Any], rng_parts: tuple[object, ...]) -> dict[str, Any]:
    return kinds.get(item.kind).finish_inputs(item, inputs, rng_parts)


def public_cases(assignment: str, item: Item) -> list[dict[str, Any]]:
    """The inputs published in the fixtures; the same on every machine."""
    out = []
    for index, case in enumerate(item.cases):
        parts = (assignment, item.id, index, "public")
        out.append(_finish(item, draw_case(case, rng_for(*parts), item.dims, item.id), parts))
    return out


def hidden_cases(assignment: str, item: Item, seed: str, per_case: int) -> list[dict[str, Any]]:
    """Fresh inputs with other sizes, drawn from the hidden seed; unknowable without it."""
    out = []
    for index, case in enumerate(item.cases):
        for repeat in range(per_case):
            parts = (seed, assignment, item.id, index, repeat, "hidden")
            rng = rng_for(*parts)
            # A course's literal array fixes its sizes: its case is drawn at the public ones, with
            # whatever else it draws drawn anew.
            dims = item.dims if has_literal_array(case) else hidden_dims(item.dims, item.hidden_dims, rng)
            out.append(_finish(item, draw_case(case, rng, dims, item.id), parts))
    return out


def request_params(item: Item) -> dict[str, Any]:
    """The probe's parameters: the rubric's, plus what the child needs to find its target, and the
    items it depends on, as [id, module, qualname], whose calls the child notes (`trace`)."""
    params = kinds.get(item.kind).request_params(item)
    if item.depends:
        params["trace"] = [[d, d.split(":", 1)[0], d.split(":", 1)[1].split("[", 1)[0]] for d in item.depends]
    return params
