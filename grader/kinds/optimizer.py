"""`optimizer`: one or more update steps; the new weights and the state the rule keeps."""

from __future__ import annotations

from typing import Annotated, Any

from grader.kinds.base import Keys, Kind, Probe
from grader.probes import ProbeError, changed, unpack


def optimizer(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """One or more update steps; reports next_w and the config the rule returns."""
    w, dw, config = inputs["w"], inputs["dw"], inputs["config"]
    dw_given = dw.copy()
    next_w = w
    for _ in range(int(inputs.get("steps", params.get("steps", 1)))):
        next_w, config = unpack(target(next_w, dw, config), ["next_w", "config"], params["target"]).values()
        if not isinstance(config, dict):
            raise ProbeError(f"{params['target']} returned {type(config).__name__} as config; expected a dict")
    state = {k: config.get(k) for k in params.get("state", [])}
    returned = {"next_w": next_w}
    returned.update({f"config['{k}']": v for k, v in state.items()})
    modified = ["dw"] if changed(dw_given, dw) else []
    return {"returned": returned, "modified": modified}


PROBES: dict[str, Probe] = {"optimizer": optimizer}


class OptimizerKeys(Keys):
    state: Annotated[
        tuple[str, ...], "the config entries the rule keeps (`velocity`, `m`, `v`, `t`), each credited apart"
    ] = ()
    steps: Annotated[int, "update steps per case, each from the config the last one returned"] = 1


class Optimizer(Kind):
    name = "optimizer"
    Spec = OptimizerKeys

    def parts(self, spec: OptimizerKeys) -> list[str]:
        return ["next_w"] + [f"config['{k}']" for k in spec.state]


KIND = Optimizer()
