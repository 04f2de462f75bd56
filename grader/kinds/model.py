"""`model`: one property of a model class (a two-layer or deep network): its initial parameters,
its loss and gradients, its predictions, or its training."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np

from grader.compare import (
    Mismatch,
    compare_best_val_accuracy,
    compare_history,
    compare_init,
    compare_minibatches,
    compare_trained_loss,
    numerical_gradient,
    spread_ceiling,
)
from grader.kinds.base import Keys, Kind, KindError, Probe
from grader.probes import ProbeError, perturbed_values, unpack

if TYPE_CHECKING:
    from grader.results import CaseRun
    from grader.rubric import Item

# What each probe compares unless the item says otherwise.
DEFAULT_COMPARE = {
    "init": ["params"],
    "loss": ["scores", "loss", "grads"],
    "predict": ["y_pred"],
    "train": ["loss_history"],
}


def _construct(cls: Any, params: dict[str, Any], inputs: dict[str, Any]) -> Any:
    kwargs = dict(inputs.get("init", {}))
    for name in params.get("dtype_args", []):
        if name in kwargs:
            kwargs[name] = np.dtype(kwargs[name]).type
    np.random.seed(params.get("init_seed", 0))
    model = cls(**kwargs)
    for attr, value in inputs.get("attrs", {}).items():
        setattr(model, attr, value)
    if "params" in inputs:
        if not isinstance(getattr(model, "params", None), dict):
            raise ProbeError("the model has no params dict after __init__")
        for name, value in inputs["params"].items():
            model.params[name] = value.copy()
    return model


def init(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    model = _construct(target, params, inputs)
    model_params = getattr(model, "params", None)
    if not isinstance(model_params, dict):
        raise ProbeError("__init__ did not create a dict self.params")
    return {"returned": {"params": dict(model_params)}, "modified": []}


def loss(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Scores at test time; loss and gradients at training time; the loss on perturbed weights."""
    model = _construct(target, params, inputs)
    X, y = inputs["X"], inputs["y"]
    kwargs = inputs.get("loss_kwargs", {})
    # Training passes first, for a case about what they leave behind: the running averages a
    # test-mode pass then reads.
    for _ in range(int(inputs.get("train_passes", 0))):
        model.loss(X.copy(), y.copy(), **kwargs)
    returned: dict[str, Any] = {}
    if "scores" in params["compare"]:
        returned["scores"] = model.loss(X.copy(), **kwargs)
    value, grads = unpack(model.loss(X.copy(), y.copy(), **kwargs), ["loss", "grads"], params["target"]).values()
    if "loss" in params["compare"]:
        returned["loss"] = value
    perturbed = {}
    if "grads" in params["compare"]:
        if not isinstance(grads, dict):
            raise ProbeError(f"{params['target']} returned {type(grads).__name__} as grads; expected a dict")
        returned["grads"] = dict(grads)
        for index, name in enumerate(sorted(model.params) if params.get("numeric", True) else []):
            weights = model.params[name]
            if not isinstance(weights, np.ndarray) or weights.dtype.kind != "f":
                continue

            def f(_: np.ndarray) -> Any:
                return model.loss(X.copy(), y.copy(), **kwargs)[0]

            perturbed[name] = perturbed_values(f, weights, samples=int(params.get("numeric_samples", 12)), seed=index)
    return {"returned": returned, "perturbed": {"grads": perturbed} if perturbed else {}, "modified": []}


def predict(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    model = _construct(target, params, inputs)
    return {"returned": {"y_pred": model.predict(inputs["X"].copy())}, "modified": []}


# What a training run is judged by beyond the history it reports, measured by the probe itself:
# the rows of every minibatch its loss was called on (their number is the number of updates), and
# the loss of the parameters it leaves behind on the whole training set, which a made-up history
# cannot fake.
TRAINING_MEASURES = ("minibatch_sizes", "trained_loss")


def _count_minibatches(model: Any, sizes: list[int]) -> Any:
    """Replace the model's loss by one that notes the rows of each training minibatch; returns the
    student's own loss."""
    own = model.loss
    try:
        signature: inspect.Signature | None = inspect.signature(own)
    except (TypeError, ValueError):
        signature = None

    def counted(*args: Any, **kwargs: Any) -> Any:
        try:  # (X, y, ...) under whatever names the student's loss gives them
            data, labels = [*(signature.bind(*args, **kwargs).arguments.values() if signature else ()), None, None][:2]
        except TypeError:
            data, labels = None, None
        if labels is not None:  # a training step's loss, not a prediction's scores
            sizes.append(int(data.shape[0]) if isinstance(data, np.ndarray) and data.ndim else -1)
        return own(*args, **kwargs)

    model.loss = counted
    return own


def _scalar(value: Any) -> float:
    arr = np.asarray(value, dtype=float)
    if arr.size != 1:
        raise ProbeError(f"the loss is an array of shape {arr.shape}; expected one number")
    return float(arr.reshape(-1)[0])


def _train_once(target: Any, params: dict[str, Any], inputs: dict[str, Any], seed: int) -> dict[str, Any]:
    model = _construct(target, params, inputs)
    X, y = inputs["X"], inputs["y"]
    measures = [m for m in TRAINING_MEASURES if m in params["compare"]]
    sizes: list[int] = []
    own_loss: Any = _count_minibatches(model, sizes) if measures else None
    before = None
    if "trained_loss" in measures:  # from the same start as ours: what training must bring down
        before = unpack(own_loss(X.copy(), y.copy()), ["loss", "grads"], params["target"])["loss"]
    np.random.seed(seed)
    stats = model.train(X, y, inputs["X_val"], inputs["y_val"], **inputs.get("train_kwargs", {}))
    if not isinstance(stats, dict):
        raise ProbeError(f"train returned {type(stats).__name__}; expected the stats dict")
    returned = {name: np.array(stats.get(name, []), dtype=float) for name in params["compare"] if name not in measures}
    if "minibatch_sizes" in measures:
        returned["minibatch_sizes"] = np.array(sizes, dtype=np.int64)
    if "trained_loss" in measures:
        after = unpack(own_loss(X.copy(), y.copy()), ["loss", "grads"], params["target"])["loss"]
        returned["trained_loss"] = np.array([_scalar(before), _scalar(after)], dtype=float)
    return returned


# What a training run that returns its best parameters reports (through its adapter): the validation
# accuracy of those parameters, and the best in its validation history.
BEST_PARAMS = "best_val_accuracy"

# The parts of a training run judged by the spread of the reference's runs over seeds; the
# reference's runs under the other seeds are kept beside each, under this suffix.
SPREAD_PARTS = ("loss_history", "trained_loss")
SEEDS_SUFFIX = "@seeds"


def train(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    seed = int(params.get("train_seed", 0))
    returned = _train_once(target, params, inputs, seed)
    if params.get("spread"):  # the reference, whose runs under other seeds set what a run may reach
        others = [_train_once(target, params, inputs, seed + k) for k in range(1, int(params.get("seeds", 1)))]
        for part in SPREAD_PARTS:
            if part in returned and others:
                returned[part + SEEDS_SUFFIX] = np.stack([np.asarray(run[part], dtype=float) for run in others])
    return {"returned": returned, "modified": []}


PROBES: dict[str, Probe] = {"init": init, "loss": loss, "predict": predict, "train": train}


_COMPARE_ABOUT = "the outputs compared, each credited apart"
_COMPARE_DEFAULT = "the probe's own: " + "; ".join(
    f"{probe} `{', '.join(parts)}`" for probe, parts in DEFAULT_COMPARE.items()
)


class ModelKeys(Keys):
    probe: Annotated[str, "what is exercised: `init`, `loss`, `predict` or `train`"]
    compare: Annotated[tuple[str, ...], _COMPARE_ABOUT, _COMPARE_DEFAULT] = ()
    dtype_args: Annotated[tuple[str, ...], 'constructor arguments given as a dtype\'s name (`"float64"`)'] = ()
    seeds: Annotated[
        int,
        "for training whose minibatches or masks the student's code draws its own way: the reference trains "
        "under this many seeds from the same start, and the loss history (the mean of its last tenth) and the "
        "trained loss may be no worse than the spread of those runs allows; 1 compares as is",
    ] = 1
    self_check: Annotated[bool, "judged only against the numerical gradient of the student's own loss"] = False


class Model(Kind):
    name = "model"
    Spec = ModelKeys

    def parse(self, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        probe = raw.get("probe")
        if isinstance(probe, str) and probe in DEFAULT_COMPARE and "compare" not in raw:
            raw = {**raw, "compare": DEFAULT_COMPARE[probe]}
        return super().parse(raw, where)

    def check(self, spec: ModelKeys, where: str) -> None:
        if spec.probe not in PROBES:
            raise KindError(f"{where}: probe {spec.probe!r} is not one of {', '.join(PROBES)}")
        if spec.probe != "train" and any(m in spec.compare for m in TRAINING_MEASURES):
            measures = ", ".join(TRAINING_MEASURES)
            raise KindError(f'{where}: {measures} are measures of a training run (probe = "train")')
        if spec.seeds < 1 or (spec.seeds > 1 and spec.probe != "train"):
            raise KindError(f'{where}: seeds is the number of training runs of the reference (probe = "train"), >= 1')
        if spec.self_check and spec.compare != ("grads",):
            raise KindError(f'{where}: a self_check model item compares grads only (compare = ["grads"])')

    def parts(self, spec: ModelKeys) -> list[str]:
        return list(spec.compare)

    def probe(self, item: Item) -> str:
        return f"model:{item.params['probe']}"

    def request_params(self, item: Item) -> dict[str, Any]:
        params = super().request_params(item)
        params["class"] = item.qualname.rsplit(".", 1)[0]  # the item names a method; the probe needs its class
        return params

    def numeric(self, item: Item, inputs: dict[str, Any], perturbed: dict[str, Any]) -> dict[str, Any]:
        by_param = perturbed.get("grads")
        if "grads" not in item.parts or not isinstance(by_param, dict):
            return {}
        found = {}
        for name, values in by_param.items():
            grad = numerical_gradient(values, np.array(1.0))  # of the loss itself
            if grad is not None:
                found[str(name)] = grad
        return {"grads": found} if found else {}

    def self_checks(self, item: Item) -> bool:
        return "grads" in item.parts

    def compare_part(self, item: Item, part: str, got: Any, want: Any) -> Mismatch | None:
        spec: ModelKeys = item.params["spec"]
        if spec.probe == "init":
            return compare_init(part, got, want, item.tolerance[part])
        if spec.probe == "train" and part == "minibatch_sizes":
            return compare_minibatches(part, got, want)
        if spec.probe == "train" and part == BEST_PARAMS:
            return compare_best_val_accuracy(part, got)  # a property of the run itself, whatever it reached
        return super().compare_part(item, part, got, want)

    def check_part(self, item: Item, part: str, run: CaseRun) -> Mismatch | None:
        spec: ModelKeys = item.params["spec"]
        if spec.probe == "train" and (part == "trained_loss" or (part == "loss_history" and spec.seeds > 1)):
            returned, expected = run.result.outputs.get("returned", {}), run.expected or {}
            runs = _runs(expected, part)
            if runs is None:
                return Mismatch("missing", f"{part}: no reference run to compare with")
            judge = compare_trained_loss if part == "trained_loss" else compare_history
            return judge(part, returned.get(part), runs)
        return super().check_part(item, part, run)

    def reference_problems(self, item: Item, returned: dict[str, Any]) -> list[str]:
        """A training run too noisy over seeds to tell training from none (its spread reaches its
        start), or whose best parameters do not give its best validation accuracy."""
        spec: ModelKeys = item.params["spec"]
        found = []
        if spec.probe == "train" and BEST_PARAMS in spec.compare:
            wrong = compare_best_val_accuracy(BEST_PARAMS, returned.get(BEST_PARAMS))
            found += [f"{BEST_PARAMS}: {wrong.message}"] if wrong else []
        if spec.probe != "train" or spec.seeds < 2:
            return found
        for part in SPREAD_PARTS:
            runs = _runs(returned, part)
            if runs is None or part not in spec.compare:
                continue
            if part == "trained_loss":
                start, ends = float(runs[0, 0]), runs[:, 1]
            else:
                tail = max(1, runs.shape[1] // 10)
                start, ends = float(np.mean(runs[:, 0])), np.mean(runs[:, -tail:], axis=1)
            if spread_ceiling(ends) >= start:
                found.append(
                    f"{part}: the reference's runs under {spec.seeds} seeds end between {ends.min():.4g} and "
                    f"{ends.max():.4g}, too spread to tell training from none (start {start:.4g}): train longer"
                )
        return found


def _runs(expected: Mapping[str, Any], part: str) -> np.ndarray | None:
    """The reference's runs of one part, one row per seed: its own, then those under the other seeds."""
    if expected.get(part) is None:
        return None
    first = np.asarray(expected[part], dtype=float).reshape(1, -1)
    others = expected.get(part + SEEDS_SUFFIX)
    if others is None:
        return first
    rest = np.asarray(others, dtype=float).reshape(-1, first.shape[1])
    return np.concatenate([first, rest])


KIND = Model()
