"""`compare`: call a function on the case's inputs and compare what it returns with the reference."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from grader.compare import Mismatch, compare_mask
from grader.kinds.base import Keys, Kind, KindError, Probe
from grader.probes import changed, copy_value, unpack

if TYPE_CHECKING:
    from grader.results import CaseRun
    from grader.rubric import Item


def call(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Call a function with the inputs in the rubric's parameter order."""
    names = params["params"]
    args = [inputs[n] for n in names]
    before = [copy_value(a) for a in args]
    result = target(*args)
    returned = unpack(result, params["returns"], params["target"])
    keep = {}
    for name in params["compare"]:
        if name in returned:
            keep[name] = returned[name]
        else:  # "bn_param.running_mean": the state a function leaves in a dict argument
            arg, key = name.split(".", 1)
            holder = args[names.index(arg)]
            keep[name] = holder.get(key) if isinstance(holder, dict) else None
    modified = [n for n, b, a in zip(names, before, args) if changed(b, a)]
    return {"returned": keep, "modified": modified}


PROBES: dict[str, Probe] = {"call": call}


class CompareKeys(Keys):
    params: Annotated[tuple[str, ...], "the function's parameters, in order, each drawn from the case"]
    returns: Annotated[tuple[str, ...], "names for what it returns (a tuple's parts, in order)"]
    compare: Annotated[
        tuple[str, ...],
        "the outputs compared with the reference's, each credited apart; `arg.key` is what the function "
        'leaves in a dict argument (`"bn_param.running_mean"`)',
    ]
    # Judged by what the mask must do, not by which random numbers the code drew: every correct way
    # of drawing it passes.
    random_mask: Annotated[
        dict[str, str] | None,
        "outputs that are an input under a random mask (dropout), as part -> that input: judged by what "
        "the mask must do (drop or keep and scale each entry, keep the reference's fraction)",
    ] = None


class Compare(Kind):
    name = "compare"
    Spec = CompareKeys

    def parts(self, spec: CompareKeys) -> list[str]:
        return list(spec.compare)

    def check(self, spec: CompareKeys, where: str) -> None:
        for part, source in (spec.random_mask or {}).items():
            if part not in spec.compare or not isinstance(source, str) or source not in spec.params:
                raise KindError(
                    f"{where}: random_mask maps a compared output to a parameter, not {part!r} to {source!r}"
                )

    def probe(self, item: Item) -> str:
        return "compare:call"

    def check_part(self, item: Item, part: str, run: CaseRun) -> Mismatch | None:
        source = (item.params.get("random_mask") or {}).get(part)
        if source is None or source not in run.inputs:
            return super().check_part(item, part, run)
        got = run.result.outputs.get("returned", {}).get(part)
        want = (run.expected or {}).get(part)
        return compare_mask(part, got, run.inputs[source], want, item.tolerance[part])


KIND = Compare()
