"""A dependency note names only what the student's code called: "This calls X, which lost points
too" is noted in the child while the probe runs, never taken from the rubric's `depends` list."""

from __future__ import annotations

import types
from typing import Any

from grader.child import _dependency_codes, _noting_calls
from grader.results import CaseRun, ChildResult, ItemResult
from grader.rubric import Item
from grader.scoring import calls_made, note_dependencies


def helper(x: int) -> int:
    return x + 1


def unused(x: int) -> int:
    return x - 1


class Layer:
    def forward(self, x: int) -> int:
        return helper(x) * 2


MODULE = types.SimpleNamespace(helper=helper, unused=unused, Layer=Layer)


def resolve(module: str, qualname: str) -> Any:
    if module != "toy.ops":
        raise ImportError(module)
    obj: Any = MODULE
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def test_the_child_notes_the_dependencies_the_code_called_and_no_others() -> None:
    trace = [
        ["toy.ops:helper", "toy.ops", "helper"],
        ["toy.ops:helper[again]", "toy.ops", "helper"],
        ["toy.ops:unused", "toy.ops", "unused"],
        ["toy.ops:Layer.forward", "toy.ops", "Layer.forward"],
        ["toy.ops:missing", "toy.ops", "missing"],  # not written: left out, no error
        ["Problem.ipynb:f", "Problem.ipynb", "f"],  # a notebook's, in a plain child
        "not a triple",
    ]
    codes = _dependency_codes(resolve, trace)
    called: set[str] = set()
    with _noting_calls(codes, called):
        Layer().forward(1)
    assert called == {"toy.ops:helper", "toy.ops:helper[again]", "toy.ops:Layer.forward"}
    assert codes and _dependency_codes(resolve, None) == {}


ITEM = Item(
    id="toy.net:loss",
    title="loss",
    points=2,
    kind="model",
    module="toy.net",
    qualname="loss",
    cases=(),
    tolerance={},
    dims={},
    hidden_dims={},
    timeout_s=10,
    depends=("toy.ops:forward", "toy.ops:backward", "toy.ops:batchnorm"),
)


def result(item_id: str, points: float, message: str = "") -> ItemResult:
    return ItemResult(item_id, item_id, points, 2.0, "pass" if points == 2.0 else "fail", message, 0.0)


def run(called: Any) -> CaseRun:
    return CaseRun("public case 1", ChildResult("ok", {}, {"called": called}), {}, "public")


def test_a_note_names_only_failing_dependencies_that_were_called() -> None:
    loss = result("toy.net:loss", 0.0, "public case 1: loss is off")
    by_id = {
        "toy.ops:forward": result("toy.ops:forward", 0.0),
        "toy.ops:backward": result("toy.ops:backward", 2.0),
        "toy.ops:batchnorm": result("toy.ops:batchnorm", 0.0),  # wrong, but this network never calls it
    }
    called = calls_made([run(["toy.ops:forward", "toy.ops:backward"]), run(["toy.ops:forward"])])
    assert called == {"toy.ops:forward", "toy.ops:backward"}
    noted = note_dependencies(ITEM, loss, by_id, called)
    assert noted.message == (
        "public case 1: loss is off (This calls forward, which lost points too: fix that first, and this may follow.)"
    )
    # Nothing noted (the code never ran, or ran where calls are not noted): no claim about calls.
    assert calls_made([run(None), run("forward")]) is None
    assert note_dependencies(ITEM, loss, by_id, None) == loss
    assert note_dependencies(ITEM, loss, by_id, frozenset({"toy.ops:backward"})) == loss
