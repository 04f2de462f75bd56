"""`threshold`: a network the notebook trained and saved, scored on the accuracy the grader itself
measures, with trusted code (the reference, or the course's provided files), on the data set the
rubric names: held-out data in instructor mode, public data in student mode. The student's only
contribution is the saved parameter arrays."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np

from grader.codec import CodecError, load_saved_arrays
from grader.kinds.base import Keys, Kind, KindError, Probe, item_result, require
from grader.probes import import_callable
from grader.tables import Key, unknown_key

if TYPE_CHECKING:
    from grader.kinds.context import NotebookContext
    from grader.results import ItemResult, Status
    from grader.rubric import Item

MAX_SAVED_BYTES = 100 * 1024**2
CURVE_KEYS = {
    "kind": Key("string", "required", '`"linear"` (points rise with accuracy) or `"step"` (all or nothing)'),
    "zero": Key("float", "required for linear", "the accuracy (0..1) at and below which the item earns nothing"),
    "full": Key("float", "required for linear", "the accuracy at and above which it earns full points"),
    "floor_percent": Key("boolean", "false", "for linear: count whole percentage points above `zero` only"),
    "at": Key("float", "required for step", "the accuracy at and above which a step curve earns full points"),
}


def accuracy(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Accuracy of saved parameters on the data the rubric names, with the trusted forward pass."""
    X, y = import_callable(params["data"])()
    scores = target(inputs["params"], X)
    y_pred = np.argmax(np.asarray(scores), axis=1)
    return {"returned": {"accuracy": float(np.mean(y_pred == np.asarray(y))), "count": len(y)}, "modified": []}


PROBES: dict[str, Probe] = {"accuracy": accuracy}


def credit(curve: Mapping[str, Any], measured: float) -> float:
    """The fraction of the points an accuracy earns on the rubric's curve."""
    if curve["kind"] == "step":
        return 1.0 if measured >= float(curve["at"]) - 1e-12 else 0.0
    zero, full = float(curve["zero"]), float(curve["full"])
    above = measured - zero
    if curve.get("floor_percent"):
        above = math.floor(round(above * 100, 9)) / 100  # seed 001: floor of the percentage points
    return min(max(above / (full - zero), 0.0), 1.0)


def describe_curve(curve: Mapping[str, Any]) -> str:
    if curve["kind"] == "step":
        return f"full credit from {float(curve['at']):.0%}"
    return f"no credit up to {float(curve['zero']):.0%}, full credit from {float(curve['full']):.0%}"


def score_threshold(
    item: Item,
    dataset: str,
    saved: str | None,
    measured: float | None,
    count: int,
    where: str,
    stopped: str = "",
) -> ItemResult:
    """`saved` is None when the notebook saved nothing, else an error message or ''.
    `stopped` says what stopped the notebook, if anything did."""
    curve = item.params["curve"].get(dataset)
    if curve is None:
        return item_result(item, 0.0, "error", f"the rubric gives no accuracy target for data set {dataset!r}")
    name = item.params["saved"]
    if saved is None:
        because = f" ({item.notebook}: {stopped})" if stopped else ""
        return item_result(
            item,
            0.0,
            "fail",
            f"{name} was not saved: the notebook never reached save_for_grading({name!r}, ...){because}",
        )
    if saved:
        return item_result(item, 0.0, "fail", saved)
    assert measured is not None
    fraction = credit(curve, measured)
    message = (
        f"{name}: accuracy {measured:.1%} measured by the grader on {count} {where} examples ({describe_curve(curve)})"
    )
    status: Status = "pass" if fraction >= 1 else "partial" if fraction > 0 else "fail"
    return item_result(item, item.points * fraction, status, "" if status == "pass" else message)


def _curve(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise KindError(f"{where}: a curve is a table")
    unknown = sorted(set(raw) - set(CURVE_KEYS))
    if unknown:
        raise KindError(unknown_key(unknown[0], CURVE_KEYS, where))
    kind = require(raw, "kind", where)
    if kind == "linear":
        if not float(require(raw, "zero", where)) < float(require(raw, "full", where)):
            raise KindError(f"{where}: a linear curve needs zero < full")
    elif kind == "step":
        require(raw, "at", where)
    else:
        raise KindError(f"{where}: curve kind {kind!r} is not linear or step")
    return dict(raw)


class ThresholdKeys(Keys):
    saved: Annotated[str, "the name the notebook saves its network's parameters under (`save_for_grading`)"]
    scores: Annotated[str, "trusted `pkg.module:function`: class scores from (saved parameters, X)"]
    data: Annotated[str, "trusted `pkg.module:function` returning (X, y): held-out data, for instructor mode"]
    curve: Annotated[
        dict[str, Any],
        'per data set (`default` without named ones), the accuracy-to-points curve: `{kind = "linear", zero, '
        'full[, floor_percent]}` or `{kind = "step", at}` (see the curve keys below)',
    ]
    public_data: Annotated[str | None, "the (X, y) student mode measures on; `data` when absent"] = None


class Threshold(Kind):
    name = "threshold"
    Spec = ThresholdKeys
    scored_from = "notebook_run"

    def check(self, spec: ThresholdKeys, where: str) -> None:
        for name, raw in spec.curve.items():
            _curve(raw, f"{where} curve.{name}")
        if not spec.curve:
            raise KindError(f"{where}: give a curve for at least one data set")

    def score_notebook(self, items: Sequence[Item], context: NotebookContext) -> list[ItemResult]:
        from grader.scratch import SAVED_DIR  # the parent's only

        saved: dict[str, dict[str, Any]] = {}  # item id -> arrays, or an error message
        for item in items:
            path = context.scratch / SAVED_DIR / f"{item.params['saved']}.npz"
            if not path.is_file() or path.is_symlink():
                continue
            try:
                saved[item.id] = {"arrays": load_saved_arrays(path, MAX_SAVED_BYTES)}
            except CodecError as exc:
                saved[item.id] = {"error": f"{item.params['saved']}: {exc}"}
        measured = self._measure([i for i in items if "arrays" in saved.get(i.id, {})], saved, context)
        results = []
        for item in items:
            entry = saved.get(item.id)
            where = "held-out" if context.instructor else "public test"
            if item.params["data"] == item.params["public_data"]:
                where = "training"
            if entry is None:
                from grader.kinds.notebook import run_problem  # the parent's only

                stopped = run_problem(context.runs[item.notebook])
                results.append(score_threshold(item, context.dataset, None, None, 0, where, stopped))
            elif "error" in entry:
                results.append(score_threshold(item, context.dataset, entry["error"], None, 0, where))
            else:
                value, count, problem = measured[item.id]
                results.append(score_threshold(item, context.dataset, problem, value, count, where))
        return results

    def _measure(
        self, todo: list[Item], saved: dict[str, dict[str, Any]], context: NotebookContext
    ) -> dict[str, tuple[float | None, int, str]]:
        """Accuracy of every saved network, computed by trusted code: (accuracy, count, problem)."""
        if not todo:
            return {}
        from grader.kinds.context import TrustedCall

        calls = []
        for item in todo:
            spec: ThresholdKeys = item.params["spec"]
            data = spec.data if context.instructor else (spec.public_data or spec.data)
            module, _, qualname = item.params["scores"].partition(":")
            params = {"data": data, "target": qualname}
            calls.append(
                TrustedCall(module, qualname, "threshold:accuracy", params, {"params": saved[item.id]["arrays"]})
            )
        out: dict[str, tuple[float | None, int, str]] = {}
        for item, result in zip(todo, context.run_trusted(calls)):
            if result.status == "ok":
                returned = result.outputs["returned"]
                out[item.id] = (float(returned["accuracy"]), int(returned["count"]), "")
            else:
                detail = result.meta.get("message", result.status)
                out[item.id] = (None, 0, f"{item.params['saved']} could not be evaluated: {detail}")
        return out


KIND = Threshold()
