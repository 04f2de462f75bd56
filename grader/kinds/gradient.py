"""`gradient`: a backward pass, against the reference and against the numerical gradient of the
student's own forward pass (which tells a wrong backward from a wrong forward)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import numpy as np

from grader.compare import numerical_gradient
from grader.kinds.base import Keys, Kind, KindError, Probe
from grader.probes import ProbeError, changed, copy_value, default_rng, perturbed_values, unpack

if TYPE_CHECKING:
    from grader.rubric import Item


MAX_MOVED_VALUES = 500_000


def gradient(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Forward, backward with a seeded upstream gradient, and the forward's outputs on perturbed inputs."""
    forward = params["forward_object"]
    names = params["params"]
    args = [inputs[n] for n in names]
    out, cache = unpack(forward(*[copy_value(a) for a in args]), ["out", "cache"], params["forward"]).values()
    if not isinstance(out, np.ndarray):
        raise ProbeError(f"{params['forward']} returned {type(out).__name__} as out; expected an array")
    dout: np.ndarray = np.asarray(default_rng(int(inputs["dout_seed"])).standard_normal(out.shape))
    dout_given = dout.copy()
    grads = unpack(target(dout, cache), params["grads"], params["target"])
    perturbed = {}
    for wrt, grad_name in zip(params["wrt"], params["grads"]) if params.get("numeric", True) else ():
        i = names.index(wrt)

        def f(v: np.ndarray, i: int = i) -> Any:
            trial = [copy_value(a) for a in args]
            trial[i] = v.copy()  # a forward that writes into its input must not move the next entries
            return forward(*trial)[0]

        x = np.array(args[i], dtype=float)
        # Every entry moved, unless that makes a reply of more than MAX_MOVED_VALUES numbers a direction.
        samples = 0 if x.size * out.size <= MAX_MOVED_VALUES else max(1, MAX_MOVED_VALUES // max(1, out.size))
        perturbed[grad_name] = perturbed_values(f, x, samples=samples, seed=i)
    modified = ["dout"] if changed(dout_given, dout) else []
    return {"returned": grads, "perturbed": perturbed, "modified": modified}


PROBES: dict[str, Probe] = {"gradient": gradient}


class GradientKeys(Keys):
    params: Annotated[tuple[str, ...], "the forward pass's parameters, in order, each drawn from the case"]
    forward: Annotated[str, "the forward pass whose cache the backward pass takes"]
    wrt: Annotated[tuple[str, ...], "the parameters the gradients are of"]
    grads: Annotated[tuple[str, ...], "the names of the backward pass's outputs, in the order of `wrt`"]
    self_check: Annotated[
        bool,
        "judged only against the numerical gradient of the student's own forward pass, never against the "
        "reference: for a design that is the student's to choose",
    ] = False


class Gradient(Kind):
    name = "gradient"
    Spec = GradientKeys

    def check(self, spec: GradientKeys, where: str) -> None:
        if len(spec.wrt) != len(spec.grads):
            raise KindError(f"{where}: wrt and grads must have the same length")

    def parts(self, spec: GradientKeys) -> list[str]:
        return list(spec.grads)

    def finish_inputs(self, item: Item, inputs: dict[str, Any], rng_parts: tuple[object, ...]) -> dict[str, Any]:
        # The upstream gradient is drawn in the child once the output's shape is known.
        from grader.inputs import rng_for  # the parent's only

        inputs["dout_seed"] = int(rng_for(*rng_parts, "dout").integers(0, 2**31 - 1))
        return inputs

    def self_checks(self, item: Item) -> bool:
        return True

    carries_forward = True

    def numeric(self, item: Item, inputs: dict[str, Any], perturbed: dict[str, Any]) -> dict[str, Any]:
        found = {}
        for part, values in perturbed.items():
            pos = values.get("pos") if isinstance(values, dict) else None
            if part not in item.parts or not isinstance(pos, np.ndarray) or pos.ndim < 1 or "dout_seed" not in inputs:
                continue
            shape = pos.shape[1:]
            # The same upstream gradient the child drew, drawn again here from the case's seed.
            dout = np.asarray(default_rng(int(inputs["dout_seed"])).standard_normal(shape))
            grad = numerical_gradient(values, dout)
            if grad is not None:
                found[part] = grad
        return found


KIND = Gradient()
