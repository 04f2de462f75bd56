"""A bug costs points once: a backward pass that differs from the reference's only because the
student's own forward pass does keeps its points, judged in the parent from the forward's outputs
on perturbed inputs; a gradient the child reports itself, or the gradient of a forward that does
nothing, earns nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from grader import kinds, replay, rubric
from grader.compare import numerical_gradient
from grader.probes import default_rng, perturbed_values
from grader.results import CaseRun, ChildResult
from grader.scoring import score_item

ROOT = Path(__file__).resolve().parent.parent
ITEM = next(
    i for i in rubric.load(ROOT / "reference" / "nndl" / "rubric.toml").items if i.id.endswith(":dropout_backward")
)
KIND = kinds.get(ITEM.kind)
Array = np.ndarray


def run(
    forward: Callable[[Array], Array],
    backward: Callable[[Array], Array],
    reference: Callable[[Array], Array],
    seed: int = 3,
    **raw: Any,
) -> CaseRun:
    """One public case as the parent scores it: the student's backward output, the student's forward
    on perturbed inputs, and the reference's backward output."""
    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    dout = default_rng(seed).standard_normal(x.shape)
    outputs = {"returned": {"dx": backward(dout)}, "perturbed": {"dx": perturbed_values(forward, x.copy())}, **raw}
    derived = KIND.derive(ITEM, {"x": x, "dout_seed": seed}, outputs)
    return CaseRun("public case 1", ChildResult("ok", derived), {"dx": reference(dout)}, "public")


def twice(d: Array) -> Array:
    return 2 * d


def test_a_backward_pass_right_for_its_own_wrong_forward_keeps_its_points() -> None:
    result = score_item(ITEM, [run(lambda x: 3 * x, lambda d: 3 * d, twice, seed=s) for s in (1, 2)], True, 10)
    assert (result.points, result.status) == (ITEM.points, "pass")
    assert "dx is right for your own dropout_forward" in result.message


def test_it_must_be_right_on_every_case() -> None:
    runs = [run(lambda x: 3 * x, lambda d: 3 * d, twice), run(lambda x: 3 * x, lambda d: 4 * d, twice, seed=4)]
    result = score_item(ITEM, runs, True, 10)
    assert (result.points, result.status) == (0.0, "fail")
    assert "disagrees with the numerical gradient of your own dropout_forward" in result.message


def test_the_gradient_of_a_forward_that_does_nothing_carries_nothing() -> None:
    result = score_item(ITEM, [run(lambda x: 0 * x, lambda d: 0 * d, twice)], True, 10)
    assert (result.points, result.status) == (0.0, "fail")


def test_a_gradient_the_child_reports_is_not_believed() -> None:
    # The forward does nothing; the child also claims a numerical gradient equal to its backward.
    forged = run(lambda x: 0 * x, lambda d: 3 * d, twice, numeric={"dx": np.full((3, 4), 99.0)})
    assert not np.any(forged.result.outputs["numeric"]["dx"])
    assert score_item(ITEM, [forged], True, 10).points == 0.0


def test_outputs_on_perturbed_inputs_that_do_not_add_up_are_no_gradient() -> None:
    good = perturbed_values(lambda x: 3 * x, np.ones((2, 2)))
    dout = np.ones((2, 2))
    grad = numerical_gradient(good, dout)
    assert grad is not None and np.allclose(grad, 3.0)
    assert numerical_gradient({**good, "entries": np.array([0, 1, 2, 9])}, dout) is None
    assert numerical_gradient({**good, "pos": good["pos"][:2]}, dout) is None
    assert numerical_gradient({**good, "h": -1.0}, dout) is None
    assert numerical_gradient({**good, "shape": [10**7, 10**7]}, dout) is None
    assert numerical_gradient("not a table", dout) is None


def test_an_item_depends_on_what_the_items_it_names_depend_on(tmp_path: Path) -> None:
    """A network that reaches a layer through a helper is fed by that layer: the rubric names the
    helper, the helper names the layer (and a cycle of names ends)."""
    items = {"net": ["helper"], "helper": ["layer", "other"], "layer": [], "other": ["net"]}
    lines = ["[assignment]", 'name = "toy"']
    for name, deps in items.items():
        lines += ["[[item]]", f'id = "toy.ops:{name}"', "points = 1", 'kind = "compare"', 'params = ["x"]']
        lines += ['returns = ["out"]', 'compare = ["out"]', f"depends = {[f'toy.ops:{d}' for d in deps]!r}"]
        lines += ["[[item.case]]", "x = {randn = [2]}"]
    path = tmp_path / "rubric.toml"
    path.write_text("\n".join(lines).replace("'", '"') + "\n")
    loaded = {i.id.split(":")[1]: [d.split(":")[1] for d in i.depends] for i in rubric.load(path).items}
    # The rubric's own order first, then breadth first; never the item itself.
    assert loaded == {
        "net": ["helper", "layer", "other"],
        "helper": ["layer", "other", "net"],
        "layer": [],
        "other": ["net", "helper", "layer"],
    }


def test_a_networks_loss_is_not_charged_for_a_layer_it_reaches_through_a_helper() -> None:
    """nndl's rubric names the batchnorm helper, not batchnorm_forward, among the network's
    dependencies: a bug in batchnorm's test mode is carried forward through the helper, which passes
    its own training-mode cases (tests/submissions/fails_batchnorm_test_uses_batch_statistics)."""
    net = next(
        i
        for i in rubric.load(ROOT / "reference" / "nndl" / "rubric.toml").items
        if i.id.endswith(":FullyConnectedNet.loss")
    )
    assert "nndl.layers:batchnorm_forward" in net.depends
    assert "nndl.layers:batchnorm_backward" in net.depends
    assert net.depends.index("nndl.layer_utils:affine_batchnorm_relu_forward") < net.depends.index(
        "nndl.layers:batchnorm_forward"
    )


HELPER = next(
    i
    for i in rubric.load(ROOT / "reference" / "nndl" / "rubric.toml").items
    if i.id == "nndl.layer_utils:affine_relu_backward"
)


def helper_run(upstream: dict[str, Any] | None) -> CaseRun:
    """A case of the sandwich layer's backward pass whose gradients are right and whose `dout` was
    written into, with what the reference gave fed the student's own upstream calls (or nothing)."""
    grads = {p: np.full(3, k + 1.0) for k, p in enumerate(HELPER.parts)}
    result = ChildResult("ok", {"returned": grads, "modified": ["dout"]})
    return CaseRun(
        "public case 1", result, grads, "public", upstream=upstream, upstream_of="affine_backward, relu_backward"
    )


def test_an_argument_written_into_by_the_students_own_upstream_function_costs_nothing_here() -> None:
    """relu_backward writes into `dout`, which the sandwich layer passes it: fed that recording, the
    reference's sandwich layer writes into its `dout` too. relu_backward loses its points for it; the
    sandwich layer, right in itself, keeps its own (tests/submissions/fails_relu_backward_writes_into_dout)."""
    grads = {p: np.full(3, k + 1.0) for k, p in enumerate(HELPER.parts)}
    written = {replay.MODIFIED: {"arguments": ["dout"], "by": ["relu_backward"]}}
    result = score_item(HELPER, [helper_run({**grads, **written})], True, 10)
    assert (result.points, result.status) == (HELPER.points, "pass")
    # Named by the function whose recorded calls wrote into an argument, not every function replayed.
    assert "'dout' is changed in place by your own relu_backward, which loses its points" in result.message


def test_an_argument_the_reference_fed_the_same_calls_leaves_alone_is_the_items_own_write() -> None:
    """The write is the item's own where the reference, fed the student's upstream calls, does not
    make it, where nothing was replayed, or where no recorded call wrote into anything."""
    grads = {p: np.full(3, k + 1.0) for k, p in enumerate(HELPER.parts)}
    elsewhere = {replay.MODIFIED: {"arguments": ["cache"], "by": ["relu_backward"]}}
    by_nobody = {replay.MODIFIED: {"arguments": ["dout"], "by": []}}
    for upstream in (None, dict(grads), {**grads, **elsewhere}, {**grads, **by_nobody}):
        result = score_item(HELPER, [helper_run(upstream)], True, 10)
        assert (result.points, result.status) == (0.0, "fail"), upstream
        assert "affine_relu_backward wrote into its argument 'dout'" in result.message
