"""The probes' toolkit: what every kind's probe uses inside the child.

Probes (one set per check kind, in `grader/kinds/`) run inside the sandboxed child.
Each takes the resolved student object, the request's parameters and its decoded
inputs, and returns a plain value for `codec`. A probe never sees an expected output
and never judges: it reports what the code returned, which inputs it wrote into, and
(for gradients) the forward pass's outputs on perturbed inputs, from which the parent
estimates the numerical gradient. The parent decides every score.

This module imports only the standard library and numpy.
"""

from __future__ import annotations

import copy
import importlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np


class ProbeError(Exception):
    """The student's code returned something the probe cannot interpret."""


# Bound when the probes are imported, before any student code runs: a submission that
# patches copy.deepcopy or numpy's functions cannot blind the in-place check.
_deepcopy = copy.deepcopy
_ndarray = np.ndarray
default_rng = np.random.default_rng
perf_counter = time.perf_counter
FINITE_DIFFERENCE_STEP = 1e-5


def copy_value(value: Any) -> Any:
    return _deepcopy(value)


def changed(before: Any, after: Any) -> bool:
    if isinstance(before, _ndarray):
        if not isinstance(after, _ndarray) or before.shape != after.shape:
            return True
        # tobytes is a method of the built-in type, which no submission can replace.
        return bool(_ndarray.tobytes(before) != _ndarray.tobytes(after))
    return False


def unpack(result: Any, names: list[str], what: str) -> dict[str, Any]:
    """Name the parts of a returned tuple; complain usefully when it has another form."""
    if len(names) == 1:
        return {names[0]: result}
    if not isinstance(result, (tuple, list)):
        raise ProbeError(f"{what} returned {type(result).__name__}; expected a tuple ({', '.join(names)})")
    if len(result) != len(names):
        raise ProbeError(f"{what} returned {len(result)} values; expected {len(names)} ({', '.join(names)})")
    return dict(zip(names, result))


def perturbed_values(
    f: Callable[[np.ndarray], Any], x: np.ndarray, h: float = FINITE_DIFFERENCE_STEP, samples: int = 0, seed: int = 0
) -> dict[str, Any]:
    """f's outputs with each chosen entry of x moved by +h and by -h (x is restored): what the
    parent needs to estimate a numerical gradient. The child reports values, never a gradient.

    With samples > 0 only that many entries, chosen by seed, are moved: a model's full numerical
    gradient costs two forward passes per parameter entry, and a sample finds a wrong gradient
    just as surely.
    """
    flat = x.reshape(-1)
    if samples and samples < flat.size:
        entries = np.sort(default_rng(seed).choice(flat.size, samples, replace=False))
    else:
        entries = np.arange(flat.size)
    pos, neg = [], []
    for i in entries:
        old = flat[i]
        flat[i] = old + h
        pos.append(np.array(f(x), dtype=float))
        flat[i] = old - h
        neg.append(np.array(f(x), dtype=float))
        flat[i] = old
    try:  # one array for each direction, not one per entry: a reply holds a bounded number of arrays
        moved = {"pos": np.stack(pos), "neg": np.stack(neg)} if pos else {"pos": np.zeros(0), "neg": np.zeros(0)}
    except ValueError:
        raise ProbeError("the forward pass returns outputs of another shape when its input moves slightly") from None
    return {"shape": list(x.shape), "entries": entries.astype(np.int64), "h": h, **moved}


def import_callable(spec: str) -> Any:
    """'package.module:function' -> the function."""
    module, _, qualname = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj
