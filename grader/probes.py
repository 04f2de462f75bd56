"""What the child process does with a submission's code: call it, and report data.

Probes run inside the sandboxed child. Each takes the resolved student object,
the request's parameters and its decoded inputs, and returns a plain value for
`codec`. A probe never sees an expected output and never judges: it reports what
the code returned, which inputs it wrote into, and (for gradients) the numerical
gradient of the student's own forward pass. The parent decides every score.

This module imports only the standard library and numpy.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np

Probe = Callable[[Any, dict[str, Any], dict[str, Any]], dict[str, Any]]


class ProbeError(Exception):
    """The student's code returned something the probe cannot interpret."""


# Bound when the probes are imported, before any student code runs: a submission that
# patches copy.deepcopy or numpy's functions cannot blind the in-place check.
_deepcopy = copy.deepcopy
_ndarray = np.ndarray
_default_rng = np.random.default_rng
_perf_counter = time.perf_counter


def _copy(value: Any) -> Any:
    return _deepcopy(value)


def _changed(before: Any, after: Any) -> bool:
    if isinstance(before, _ndarray):
        if not isinstance(after, _ndarray) or before.shape != after.shape:
            return True
        # tobytes is a method of the built-in type, which no submission can replace.
        return bool(_ndarray.tobytes(before) != _ndarray.tobytes(after))
    return False


def _unpack(result: Any, names: list[str], what: str) -> dict[str, Any]:
    """Name the parts of a returned tuple; complain usefully when it has another form."""
    if len(names) == 1:
        return {names[0]: result}
    if not isinstance(result, (tuple, list)):
        raise ProbeError(f"{what} returned {type(result).__name__}; expected a tuple ({', '.join(names)})")
    if len(result) != len(names):
        raise ProbeError(f"{what} returned {len(result)} values; expected {len(names)} ({', '.join(names)})")
    return dict(zip(names, result))


def numerical_gradient(
    f: Callable[[np.ndarray], Any], x: np.ndarray, dout: np.ndarray, h: float = 1e-5, samples: int = 0, seed: int = 0
) -> np.ndarray:
    """Centered-difference gradient of sum(f(x) * dout) at x; x is restored.

    With samples > 0 only that many entries, chosen by seed, are estimated and the
    others are NaN: a model's full numerical gradient costs two forward passes per
    parameter entry, and a sample finds a wrong gradient just as surely.
    """
    flat = x.reshape(-1)
    if samples and samples < flat.size:
        grad = np.full(x.shape, np.nan)
        entries = _default_rng(seed).choice(flat.size, samples, replace=False)
    else:
        grad = np.zeros(x.shape)
        entries = np.arange(flat.size)
    gflat = grad.reshape(-1)
    for i in entries:
        old = flat[i]
        flat[i] = old + h
        pos = np.array(f(x), dtype=float)
        flat[i] = old - h
        neg = np.array(f(x), dtype=float)
        flat[i] = old
        gflat[i] = np.sum((pos - neg) * dout) / (2 * h)
    return grad


def call(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Call a function with the inputs in the rubric's parameter order."""
    names = params["params"]
    args = [inputs[n] for n in names]
    before = [_copy(a) for a in args]
    result = target(*args)
    returned = _unpack(result, params["returns"], params["target"])
    keep = {}
    for name in params["compare"]:
        if name in returned:
            keep[name] = returned[name]
        else:  # "bn_param.running_mean": the state a function leaves in a dict argument
            arg, key = name.split(".", 1)
            holder = args[names.index(arg)]
            keep[name] = holder.get(key) if isinstance(holder, dict) else None
    modified = [n for n, b, a in zip(names, before, args) if _changed(b, a)]
    return {"returned": keep, "modified": modified}


def gradient(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Forward, backward with a seeded upstream gradient, and the numerical gradient."""
    forward = params["forward_object"]
    names = params["params"]
    args = [inputs[n] for n in names]
    out, cache = _unpack(forward(*[_copy(a) for a in args]), ["out", "cache"], params["forward"]).values()
    if not isinstance(out, np.ndarray):
        raise ProbeError(f"{params['forward']} returned {type(out).__name__} as out; expected an array")
    dout: np.ndarray = np.asarray(_default_rng(int(inputs["dout_seed"])).standard_normal(out.shape))
    dout_given = dout.copy()
    grads = _unpack(target(dout, cache), params["grads"], params["target"])
    numeric = {}
    for wrt, grad_name in zip(params["wrt"], params["grads"]) if params.get("numeric", True) else ():
        i = names.index(wrt)

        def f(v: np.ndarray, i: int = i) -> Any:
            trial = [_copy(a) for a in args]
            trial[i] = v
            return forward(*trial)[0]

        numeric[grad_name] = numerical_gradient(f, np.array(args[i], dtype=float), dout)
    modified = ["dout"] if _changed(dout_given, dout) else []
    return {"returned": grads, "numeric": numeric, "modified": modified}


def optimizer(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """One or more update steps; reports next_w and the config the rule returns."""
    w, dw, config = inputs["w"], inputs["dw"], inputs["config"]
    dw_given = dw.copy()
    next_w = w
    for _ in range(int(inputs.get("steps", params.get("steps", 1)))):
        next_w, config = _unpack(target(next_w, dw, config), ["next_w", "config"], params["target"]).values()
        if not isinstance(config, dict):
            raise ProbeError(f"{params['target']} returned {type(config).__name__} as config; expected a dict")
    state = {k: config.get(k) for k in params.get("state", [])}
    returned = {"next_w": next_w}
    returned.update({f"config['{k}']": v for k, v in state.items()})
    modified = ["dw"] if _changed(dw_given, dw) else []
    return {"returned": returned, "modified": modified}


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
            trial = [_copy(a) for a in args]
            start = _perf_counter()
            out = fn(*trial)
            best = min(best, _perf_counter() - start)
        named = _unpack(out, params["returns"], what)
        return {k: named[k] for k in params["compare"]}, best

    fast, fast_s = timed(target, params["target"])
    slow, slow_s = timed(baseline, params["baseline"])
    ratio = slow_s / max(fast_s, 1e-9)
    return {"returned": {"agreement": fast, "speedup": float(ratio)}, "baseline": {"agreement": slow}, "modified": []}


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


def model_init(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    model = _construct(target, params, inputs)
    model_params = getattr(model, "params", None)
    if not isinstance(model_params, dict):
        raise ProbeError("__init__ did not create a dict self.params")
    return {"returned": {"params": dict(model_params)}, "modified": []}


def model_loss(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Scores at test time; loss and gradients at training time; numerical gradients of the loss."""
    model = _construct(target, params, inputs)
    X, y = inputs["X"], inputs["y"]
    kwargs = inputs.get("loss_kwargs", {})
    returned: dict[str, Any] = {}
    if "scores" in params["compare"]:
        returned["scores"] = model.loss(X.copy(), **kwargs)
    loss, grads = _unpack(model.loss(X.copy(), y.copy(), **kwargs), ["loss", "grads"], params["target"]).values()
    if "loss" in params["compare"]:
        returned["loss"] = loss
    numeric = {}
    if "grads" in params["compare"]:
        if not isinstance(grads, dict):
            raise ProbeError(f"{params['target']} returned {type(grads).__name__} as grads; expected a dict")
        returned["grads"] = dict(grads)
        for index, name in enumerate(sorted(model.params) if params.get("numeric", True) else []):
            value = model.params[name]
            if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
                continue

            def f(_: np.ndarray) -> Any:
                return model.loss(X.copy(), y.copy(), **kwargs)[0]

            numeric[name] = numerical_gradient(
                f, value, np.array(1.0), samples=int(params.get("numeric_samples", 12)), seed=index
            )
    return {"returned": returned, "numeric": {"grads": numeric} if numeric else {}, "modified": []}


def model_predict(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    model = _construct(target, params, inputs)
    return {"returned": {"y_pred": model.predict(inputs["X"].copy())}, "modified": []}


def model_train(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    model = _construct(target, params, inputs)
    np.random.seed(params.get("train_seed", 0))
    stats = model.train(inputs["X"], inputs["y"], inputs["X_val"], inputs["y_val"], **inputs.get("train_kwargs", {}))
    if not isinstance(stats, dict):
        raise ProbeError(f"train returned {type(stats).__name__}; expected the stats dict")
    returned = {name: np.array(stats.get(name, []), dtype=float) for name in params["compare"]}
    return {"returned": returned, "modified": []}


def _import_callable(spec: str) -> Any:
    """'package.module:function' -> the function."""
    import importlib

    module, _, qualname = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def threshold_accuracy(target: Any, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Accuracy of saved parameters on the data the rubric names, with the provided forward pass.

    Runs on trusted code (the reference or the provided files), never the student's:
    the student's only contribution is the parameter arrays.
    """
    X, y = _import_callable(params["data"])()
    scores = target(inputs["params"], X)
    y_pred = np.argmax(np.asarray(scores), axis=1)
    return {"returned": {"accuracy": float(np.mean(y_pred == np.asarray(y))), "count": len(y)}, "modified": []}


PROBES: dict[str, Probe] = {
    "threshold_accuracy": threshold_accuracy,
    "call": call,
    "gradient": gradient,
    "optimizer": optimizer,
    "model_init": model_init,
    "model_loss": model_loss,
    "model_predict": model_predict,
    "model_train": model_train,
    "speedup": speedup,
}
