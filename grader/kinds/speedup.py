"""`speedup`: a vectorized implementation against the naive one it replaces: the same answers
(the naive one itself right), and at least `min_speedup` times faster on this machine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from grader.compare import Mismatch, compare_speedup
from grader.kinds.base import Keys, Kind, Probe
from grader.probes import copy_value, perf_counter, unpack

if TYPE_CHECKING:
    from grader.results import CaseRun
    from grader.rubric import Item


def speedup(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """A fast implementation against the slow one it replaces, on the same inputs.

    Reports the fast one's outputs, the baseline's outputs (the parent checks that they
    agree) and the ratio of their best times over `repeats` runs. Timings come from
    this process and so are only as honest as the code around them; they are used for
    nothing but this ratio.
    """
    baseline = params["baseline_object"]
    args = [inputs[n] for n in params["params"]]

    def timed(fn: Any, what: str) -> tuple[dict[str, Any], float]:
        best, out = float("inf"), None
        for _ in range(max(1, int(params.get("repeats", 3)))):
            trial = [copy_value(a) for a in args]
            start = perf_counter()
            out = fn(*trial)
            best = min(best, perf_counter() - start)
        named = unpack(out, params["returns"], what)
        return {k: named[k] for k in params["compare"]}, best

    fast, fast_s = timed(target, params["target"])
    slow, slow_s = timed(baseline, params["baseline"])
    ratio = slow_s / max(fast_s, 1e-9)
    return {"returned": {"agreement": fast, "speedup": float(ratio)}, "baseline": {"agreement": slow}, "modified": []}


PROBES: dict[str, Probe] = {"speedup": speedup}


class SpeedupKeys(Keys):
    params: Annotated[tuple[str, ...], "the parameters both functions take, in order, each drawn from the case"]
    returns: Annotated[tuple[str, ...], "names for what they return"]
    compare: Annotated[tuple[str, ...], "the outputs that must agree"]
    baseline: Annotated[str, "the slow function the item's function replaces"]
    min_speedup: Annotated[float, "how many times faster, at least (best of `repeats` runs each)"]
    repeats: Annotated[int, "runs of each function, the best of which is timed"] = 3


class Speedup(Kind):
    name = "speedup"
    Spec = SpeedupKeys
    # The part is scored against min_speedup, not a tolerance.
    fixed_tolerance: ClassVar[Mapping[str, float]] = {"speedup": 0.0}

    def parts(self, spec: SpeedupKeys) -> list[str]:
        return ["agreement", "speedup"]

    def compare_part(self, item: Item, part: str, got: Any, want: Any) -> Mismatch | None:
        if part == "speedup":
            return compare_speedup(item.qualname, str(item.params["baseline"]), got, float(item.params["min_speedup"]))
        return super().compare_part(item, part, got, want)

    def check_part(self, item: Item, part: str, run: CaseRun) -> Mismatch | None:
        """The agreement is with the student's own baseline on the same inputs (the vectorized loss
        must match the naive one), which must itself be right, or two unfinished stubs would agree."""
        if part != "agreement":
            return super().check_part(item, part, run)
        expected = run.expected or {}
        baseline = run.result.outputs.get("baseline", {}).get("agreement")
        wrong = self.compare_part(item, part, baseline, expected.get(part)) if part in expected else None
        if wrong is not None:
            return Mismatch(
                wrong.code, f"{item.params['baseline']} is wrong ({wrong.message}), so agreeing with it proves nothing"
            )
        return self.compare_part(item, part, run.result.outputs.get("returned", {}).get(part), baseline)

    def fixture_expected(self, item: Item, returned: dict[str, Any]) -> dict[str, Any]:
        # A timing belongs to this machine, not to the reference: store the target.
        return {**returned, "speedup": float(item.params["min_speedup"])}


KIND = Speedup()
