"""A dependency note names only what the student's code called: "This calls X, which lost points
too" is noted in the child while the probe runs, never taken from the rubric's `depends` list."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from grader.child import _dependencies, _noted, _wrapping
from grader.results import CaseRun, ChildResult, ItemResult
from grader.rubric import Item
from grader.scoring import calls_made, note_dependencies

ROOT = "/submission"
SOURCE = """
def helper(x):
    return x + 1

def unused(x):
    return x - 1

class Layer:
    def forward(self, x):
        return helper(x) * 2

def network(x):
    return Layer().forward(x)
"""


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A submission's module, as the child has it imported from the submission's folder."""
    module = types.ModuleType("toy.ops")
    module.__file__ = f"{ROOT}/toy/ops.py"
    exec(compile(SOURCE, module.__file__, "exec"), vars(module))
    monkeypatch.setitem(sys.modules, "toy.ops", module)
    return module


def test_the_child_notes_the_dependencies_the_code_called_and_no_others(toy: types.ModuleType) -> None:
    def resolve(module: str, qualname: str) -> Any:
        if module != "toy.ops":
            raise ImportError(module)
        obj: Any = toy
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj

    trace = [
        ["toy.ops:helper", "toy.ops", "helper"],
        ["toy.ops:helper[again]", "toy.ops", "helper"],
        ["toy.ops:unused", "toy.ops", "unused"],
        ["toy.ops:Layer.forward", "toy.ops", "Layer.forward"],
        ["toy.ops:missing", "toy.ops", "missing"],  # not written: left out, no error
        ["Problem.ipynb:f", "Problem.ipynb", "f"],  # a notebook's, in a plain child
        "not a triple",
    ]
    functions = _dependencies(resolve, trace)
    assert sorted(f.__name__ for f in functions) == ["forward", "helper", "unused"]
    originals = (toy.helper, toy.Layer.forward)
    called: set[str] = set()
    with _wrapping(functions, lambda f, ids: _noted(f, ids, called), ROOT):
        assert toy.network(1) == 4
    assert called == {"toy.ops:helper", "toy.ops:helper[again]", "toy.ops:Layer.forward"}
    # Every function is itself again once the probe is done, and a call then is not noted.
    assert (toy.helper, toy.Layer.forward) == originals
    called.clear()
    toy.network(1)
    assert called == set() and _dependencies(resolve, None) == {}


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
