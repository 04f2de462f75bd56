"""Is an item right given the student's own upstream code? Record, then replay, the calls it makes.

A network's loss that calls the student's wrong `affine_forward`, or a `train` that calls a wrong
`loss`, differs from the reference's though its own code may be right. In the student's child
the calls the item makes to the dependencies that lost points are recorded: the arguments, the
instance's `params` for a method, what came back, and what the call changed in its dict and array
arguments. In the reference's child the same case then runs with those dependencies replaced by
the recording: each call must come, in the same order, with the arguments the student's code
passed (so a wrong minibatch or update rule still shows), and returns what the student's function
returned. What the reference computes that way is what the item should give for the student's
own upstream code.

Only data crosses between the two: the recording travels as a codec value, and the reference never
meets student code. A recording that cannot be made (a value that cannot be copied or encoded, a
call that raised, too many calls) is no recording, and the item is judged as before.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
from typing import Any

import numpy as np

REPLAY_INPUT = "__replay__"  # the request input that carries a recording into the reference's child
# In what the reference gave, fed a recording: the type of the exception it raised, where the
# student's code raised one too.
RAISED = "__raised__"
# In what the reference gave, fed a recording: the arguments it changed in place, where the student's
# upstream functions changed them (a relu_backward that writes into `dout` inside a helper), and
# those functions: {"arguments": [...], "by": [...]}.
MODIFIED = "__modified__"
SUMMARY = "__summary__"  # an argument recorded by its summary (`summarized`)
# An attribute a call set to one of its own arguments (a layer's cache `self.x = x`): recorded by the
# argument's name, and set in the reference to the argument the reference passed (equal to the
# student's within RTOL), so that a training run's caches do not fill the recording.
ARGUMENT = "__argument__"
SUMMARY_ABOVE = 64  # entries; smaller arrays are recorded whole
PROJECTIONS = 4
MAX_CALLS = 5000
# What the recordings of one submission's items may add up to: a training run's recording holds what
# every call to the layer it replays returned (about 45 MB for mlp_lib's train_net on one case).
RECORDING_SESSION_BYTES = 1024**3
# How close an argument the reference passes must be to the one the student's code passed: the
# same computation by other code, so differences are of rounding only.
RTOL = 1e-6


class Diverged(Exception):
    """The reference, fed the student's recorded values, did not make the calls the student's code made."""


def _arguments(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The call's arguments by parameter name (defaults applied, so `f(x, 0.5)` and `f(x, reg=0.5)`
    are one call), without `self`; and a method's instance, or None."""
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    return arguments, arguments.pop("self", None)


def _params(owner: Any) -> Any:
    """A method's instance `params`, the state its result depends on (None for a function)."""
    state = getattr(owner, "params", None) if owner is not None else None
    return state if isinstance(state, dict) else None


def _attributes(owner: Any) -> dict[str, Any]:
    """Copies of an instance's plain attributes other than `params`: what a method may set for later
    calls to read (a layer's cache, its gradients)."""
    found = getattr(owner, "__dict__", None) if owner is not None else None
    if not isinstance(found, dict):
        return {}
    return {k: copy.deepcopy(v) for k, v in found.items() if isinstance(k, str) and k != "params" and _plain(v)}


def _plain(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biufc"
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return True
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return False


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and bool(np.array_equal(a, b, equal_nan=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and bool(a == b)


def _set(owner: Any, name: str, value: Any) -> None:
    """An attribute set as the student's call set it, in place where the reference's holds a dict or
    an array of that shape (which other objects may share)."""
    current = getattr(owner, name, None)
    if isinstance(current, dict) and isinstance(value, dict):
        current.clear()
        current.update(value)
    elif isinstance(current, np.ndarray) and isinstance(value, np.ndarray) and current.shape == value.shape:
        current[...] = value
    else:
        setattr(owner, name, value)


class Recorder:
    """Wrappers, in the student's child, that record the outermost calls of the given functions."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.depth = 0
        self.broken = False

    def wrap(self, function: Any, key: str) -> Any:
        @functools.wraps(function)
        def recorded(*args: Any, **kwargs: Any) -> Any:
            if self.depth or self.broken:
                return function(*args, **kwargs)
            try:
                arguments, owner = _arguments(function, args, kwargs)
                originals = copy.deepcopy(arguments)
                before = _portable(summarized({"arguments": originals, "state": copy.deepcopy(_params(owner))}))
                attributes = _attributes(owner)
            except Exception:  # noqa: BLE001 - an argument that cannot be copied: no recording, same call
                self.broken = True
                return function(*args, **kwargs)
            self.depth += 1
            try:
                out = function(*args, **kwargs)
            except BaseException:
                self.broken = True  # the recording would end here while the code goes on
                raise
            finally:
                self.depth -= 1
            try:
                after = {
                    k: copy.deepcopy(v)
                    for k, v in arguments.items()
                    if isinstance(v, (dict, np.ndarray)) and not _equal(originals[k], v)
                }
                now = _attributes(owner)
                changed = {k: v for k, v in now.items() if k not in attributes or not _equal(attributes[k], v)}
                live = vars(owner) if changed else {}
                for name in changed:
                    same = [a for a, v in arguments.items() if live.get(name) is v and isinstance(v, np.ndarray)]
                    if same:
                        changed[name] = {ARGUMENT: same[0]}
                self.calls.append(
                    {
                        "key": key,
                        **before,
                        "out": _portable(copy.deepcopy(out)),
                        "after": _portable(after),
                        "set": _portable(changed),
                    }
                )
            except Exception:  # noqa: BLE001 - a value that cannot be copied: no recording
                self.broken = True
            if len(self.calls) > MAX_CALLS:
                self.broken = True
            return out

        return recorded

    def recording(self) -> list[dict[str, Any]] | None:
        return None if self.broken else self.calls


def _portable(value: Any) -> Any:
    """A value whose scalars travel as scalars: the codec sends a NumPy scalar or a 0-d array as an
    array of shape (1,), which the reference's code would then append, add or compare as such."""
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_portable(v) for v in value)
    return value


class Replayer:
    """Wrappers, in the reference's child, that answer each call from the student's recording."""

    def __init__(self, calls: Any) -> None:
        self.calls = list(calls) if isinstance(calls, (list, tuple)) else []
        self.next = 0

    def wrap(self, function: Any, key: str) -> Any:
        @functools.wraps(function)
        def replayed(*args: Any, **kwargs: Any) -> Any:
            if self.next >= len(self.calls):
                raise Diverged(f"the reference calls {key} more often than the submission did")
            call = self.calls[self.next]
            self.next += 1
            if not isinstance(call, dict) or call.get("key") != key:
                raise Diverged(f"call {self.next}: the reference calls {key} where the submission called another")
            arguments, owner = _arguments(function, args, kwargs)
            problem = differs(call.get("arguments"), arguments, "arguments") or differs(
                call.get("state"), _params(owner), "params"
            )
            if problem:
                raise Diverged(f"call {self.next} ({key}): {problem}")
            for name, value in (call.get("after") or {}).items():
                target = arguments.get(name)
                if isinstance(target, dict) and isinstance(value, dict):
                    target.clear()
                    target.update(value)
                elif isinstance(target, np.ndarray) and isinstance(value, np.ndarray) and target.shape == value.shape:
                    target[...] = value
            for name, value in (call.get("set") or {}).items() if owner is not None else ():
                if isinstance(value, dict) and set(value) == {ARGUMENT}:
                    setattr(owner, name, arguments.get(value[ARGUMENT]))
                else:
                    _set(owner, name, value)
            return call.get("out")

        return replayed

    def finish(self) -> None:
        if self.next != len(self.calls):
            raise Diverged(f"the submission made {len(self.calls)} recorded calls, the reference {self.next}")


def summarized(value: Any) -> Any:
    """A value with each large array replaced by a summary that `differs` can compare: its shape,
    its norm and a few projections on fixed random directions. What a call was passed is only
    compared, never used, and a training run passes thousands of arrays: the recording must stay
    small. A difference beyond rounding moves the projections almost surely."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc" and value.size > SUMMARY_ABOVE:
        return {SUMMARY: _summary(value)}
    if isinstance(value, dict):
        return {k: summarized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [summarized(v) for v in value]
    if isinstance(value, tuple):
        return tuple(summarized(v) for v in value)
    return value


def _summary(array: np.ndarray) -> np.ndarray:
    flat = np.asarray(array, dtype=float).ravel()
    directions = _directions(flat.size)
    return np.concatenate([[float(flat.size)], np.shape(array), [float(np.linalg.norm(flat))], directions @ flat])


@functools.lru_cache(maxsize=16)
def _directions(size: int) -> np.ndarray:
    """The fixed random directions for arrays of `size` entries. Drawing them was most of a training
    run's recording time (hundreds of calls on a handful of sizes); a few sizes' worth is kept."""
    directions = np.random.RandomState(size % (2**32)).standard_normal((PROJECTIONS, size))
    directions.flags.writeable = False
    return directions


def differs(recorded: Any, passed: Any, path: str) -> str:
    """Where a value the reference passes differs from the one the student's code passed ("" if nowhere)."""
    if isinstance(recorded, dict) and set(recorded) == {SUMMARY} and isinstance(passed, np.ndarray):
        want, got = np.asarray(recorded[SUMMARY], dtype=float), _summary(passed)
        if want.shape != got.shape or not np.array_equal(want[: 1 + passed.ndim], got[: 1 + passed.ndim]):
            return f"{path} has another shape"
        scale = max(1.0, float(got[1 + passed.ndim])) * RTOL * 10
        return "" if np.all(np.abs(want - got) <= scale) else f"{path} differs"
    if isinstance(passed, (np.ndarray, np.generic)) or isinstance(recorded, (np.ndarray, np.generic)):
        a, b = np.asarray(recorded), np.asarray(passed)
        if a.shape != b.shape:
            return f"{path} has shape {a.shape}, the reference passes {b.shape}"
        if a.dtype.kind in "biufc" and b.dtype.kind in "biufc":
            scale = max(1.0, float(np.max(np.abs(b)))) if b.size and np.all(np.isfinite(b)) else 1.0
            same = np.allclose(a, b, rtol=RTOL, atol=RTOL * scale, equal_nan=True)
        else:
            same = bool(np.array_equal(a, b))
        return "" if same else f"{path} differs"
    if isinstance(passed, dict):
        if not isinstance(recorded, dict) or set(recorded) != set(passed):
            return f"{path} has other keys"
        return next((p for k in passed if (p := differs(recorded[k], passed[k], f"{path}.{k}"))), "")
    if isinstance(passed, (list, tuple)):
        if not isinstance(recorded, (list, tuple)) or len(recorded) != len(passed):
            return f"{path} has another length"
        return next((p for k, v in enumerate(passed) if (p := differs(recorded[k], v, f"{path}[{k}]"))), "")
    if _number(passed) and _number(recorded):
        return "" if math.isclose(recorded, passed, rel_tol=RTOL, abs_tol=RTOL) else f"{path} differs"
    try:
        return "" if type(recorded) is type(passed) and bool(recorded == passed) else f"{path} differs"
    except Exception:  # noqa: BLE001 - a value that cannot be compared is not the same value
        return f"{path} differs"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
