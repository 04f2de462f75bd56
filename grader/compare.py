"""Comparing what a submission returned with what the reference returned.

Pure functions: each returns None when the value is acceptable, or a `Mismatch`
that says what is wrong in words a student can act on (shape, NaN, value, type).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Mismatch:
    """Why one output is not accepted. `code`: none, type, shape, dtype, nonfinite, value, missing.
    `pattern`, for a wrong value, when one explains every entry: sign, zero, factor or offset."""

    code: str
    message: str
    pattern: str = ""


def rel_error(x: Any, y: Any) -> float:
    """The seeds' relative error: max |x - y| / max(1e-8, |x| + |y|)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _as_numeric(value: Any) -> np.ndarray | None:
    if isinstance(value, (bool, np.bool_)):
        return np.asarray(value)
    if isinstance(value, (int, float, np.ndarray, np.generic, list)):
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError):
            return None
        if arr.dtype.kind in "biuf":
            return arr
    return None


def compare_value(name: str, got: Any, expected: Any, tolerance: float) -> Mismatch | None:
    """Compare one output (array, number, or dict of them) with the reference's."""
    if isinstance(expected, dict):
        if got is None:
            return Mismatch("none", f"{name} is None; expected a dict with keys {', '.join(sorted(expected))}")
        if not isinstance(got, dict):
            return Mismatch("type", f"{name} is a {type(got).__name__}; expected a dict")
        for key in sorted(expected):
            if key not in got:
                return Mismatch("missing", f"{name} has no entry {key!r}")
            problem = compare_value(f"{name}[{key!r}]", got[key], expected[key], tolerance)
            if problem:
                return problem
        return None
    if got is None:
        return Mismatch("none", f"{name} is None")
    want = np.asarray(expected)
    arr = _as_numeric(got)
    if arr is None:
        return Mismatch(
            "type",
            f"{name} is a {type(got).__name__}; expected "
            + ("a number" if want.ndim == 0 else f"an array of shape {_shape_text(want.shape)}"),
        )
    if want.ndim == 0 and arr.size == 1:
        arr = arr.reshape(())
    if arr.shape != want.shape:
        message = f"{name} has shape {_shape_text(arr.shape)}; expected {_shape_text(want.shape)}"
        if arr.ndim == 2 and arr.shape == want.shape[::-1] and rel_error(arr.T, want) <= max(tolerance, 1e-6):
            message += ": it is the transpose of the expected array"
        return Mismatch("shape", message)
    if want.dtype.kind in "iu" and arr.dtype.kind not in "iu":
        return Mismatch("dtype", f"{name} has dtype {arr.dtype}; expected integers (class labels)")
    finite_expected = np.isfinite(want.astype(float))
    bad = ~np.isfinite(arr.astype(float)) & finite_expected
    if bad.any():
        what = "nan" if np.isnan(arr.astype(float)[bad]).any() else "inf"
        return Mismatch(
            "nonfinite", f"{name} contains {what} ({int(bad.sum())} of {arr.size} entries); expected finite values"
        )
    err = rel_error(arr, want)
    if err > tolerance:
        words, pattern = _described(name, arr, want, tolerance)
        return Mismatch(
            "value", f"{name} is off: relative error {err:.1e} (tolerance {tolerance:.0e}); {words}", pattern
        )
    return None


def describe(name: str, got: np.ndarray, want: np.ndarray, tolerance: float) -> str:
    """Where and how a wrong value differs: its first wrong entry, how many entries are wrong, and
    the pattern, when one explains every entry (the opposite sign, a constant factor, a constant
    offset): what a student needs to find the line."""
    return _described(name, got, want, tolerance)[0]


def _described(name: str, got: np.ndarray, want: np.ndarray, tolerance: float) -> tuple[str, str]:
    """The description, and the kind of pattern it names ("" for none)."""
    g, w = got.astype(float), want.astype(float)
    if w.size == 1:
        text = _got_expected(float(g.reshape(-1)[0]), float(w.reshape(-1)[0]))
    else:
        with np.errstate(all="ignore"):
            wrong = np.abs(g - w) / np.maximum(1e-8, np.abs(g) + np.abs(w)) > tolerance
        wrong |= ~np.isfinite(g)
        if not wrong.any():  # only rounding between the whole and the entries
            return f"{int(g.size)} entries, the largest difference {float(np.max(np.abs(g - w))):.3g}", ""
        first = tuple(int(i) for i in np.argwhere(wrong)[0])
        where = f"{name}[{', '.join(map(str, first))}]"
        count = f"{int(wrong.sum())} of {wrong.size} entries differ"
        text = f"{where}: {_got_expected(float(g[first]), float(w[first]))}; {count}"
    with np.errstate(all="ignore"):  # a student's values may be anything; a pattern is only a hint
        kind, pattern = _pattern(g, w, max(tolerance, 1e-12))
    return (f"{text}; {pattern}" if pattern else text), kind


def _got_expected(got: float, want: float) -> str:
    """Both numbers with as many digits as it takes to tell them apart (6 at least)."""
    for digits in range(6, 18):
        a, b = f"{got:.{digits}g}", f"{want:.{digits}g}"
        if a != b:
            break
    return f"got {a}, expected {b}"


def _pattern(g: np.ndarray, w: np.ndarray, tolerance: float) -> tuple[str, str]:
    """(kind, words) of the one pattern that explains every entry, or ("", "")."""
    nonzero = np.abs(w) > 1e-12
    if w.size < 2 or not (np.all(np.isfinite(g)) and nonzero.any()):
        return "", ""  # one number has every pattern
    factor = float(np.median(g[nonzero] / w[nonzero]))
    if abs(factor - 1) > tolerance and rel_error(g, factor * w) <= tolerance:
        if abs(factor + 1) <= tolerance:
            return "sign", "every entry has the opposite sign"
        if abs(factor) <= tolerance:
            return "zero", "every entry is 0"
        return "factor", f"every entry is {factor:.4g} times the expected one"
    offset = float(np.median(g - w))
    if offset != 0 and rel_error(g, w + offset) <= tolerance:
        return "offset", f"every entry is off by the same {offset:+.4g}"
    return "", ""


# How far a kept fraction may stray from the reference's, in standard deviations of the difference
# of two binomial proportions: a correct mask fails one case in about two million.
MASK_SIGMAS = 5.0


def compare_mask(name: str, got: Any, x: Any, expected: Any, tolerance: float) -> Mismatch | None:
    """An output that is `x` under a random mask (dropout), judged by what the mask must do, not by
    which random numbers drew it: every entry is either dropped (0) or kept and scaled as the
    reference scales it, and the fraction kept is the reference's up to sampling noise. Where the
    reference drops nothing (test mode), the output must equal it."""
    exact = compare_value(name, got, expected, tolerance)
    if exact is None or exact.code != "value":
        return exact
    x_arr, want, arr = np.asarray(x, dtype=float), np.asarray(expected, dtype=float), np.asarray(got, dtype=float)
    if x_arr.shape != want.shape:
        return exact
    live = np.abs(x_arr) > 1e-12  # where x is 0, kept and dropped look alike
    kept_ref = live & (np.abs(want) > 1e-12)
    if not live.any() or kept_ref.sum() == live.sum() or not kept_ref.any():
        return exact  # the reference drops nothing, or everything: no randomness to allow for
    scale = float(np.median(want[kept_ref] / x_arr[kept_ref]))
    kept = live & (np.abs(arr) > 1e-12)
    with np.errstate(all="ignore"):
        off = kept & (np.abs(arr - scale * x_arr) > tolerance * np.maximum(1e-8, np.abs(arr) + np.abs(scale * x_arr)))
    if off.any():
        first = tuple(int(i) for i in np.argwhere(off)[0])
        factor = float(arr[first] / x_arr[first])
        return Mismatch(
            "value",
            f"{name} is off: a kept entry should be the input times {scale:.6g} (the reference's scale), "
            f"but {name}[{', '.join(map(str, first))}] is the input times {factor:.6g}; "
            f"{int(off.sum())} of {int(kept.sum())} kept entries are scaled differently",
            "factor" if np.allclose(arr[kept] / x_arr[kept], factor, rtol=tolerance, atol=0) else "",
        )
    if arr.ndim >= 2 and arr.shape[0] > 1 and (kept == kept[:1]).all() and not (kept_ref == kept_ref[:1]).all():
        return Mismatch(
            "value",
            f"{name} drops the same entries for every example (row): draw a mask of the input's whole "
            "shape, one random number per entry",
        )
    n = int(live.sum())
    want_rate, got_rate = float(kept_ref.sum()) / n, float(kept.sum()) / n
    spread = MASK_SIGMAS * float(np.sqrt(2 * want_rate * (1 - want_rate) / n))
    if abs(got_rate - want_rate) > spread:
        return Mismatch(
            "value",
            f"{name} keeps {got_rate:.1%} of the entries; the reference keeps {want_rate:.1%} "
            f"(any mask that keeps each entry with that probability is accepted: between "
            f"{max(0.0, want_rate - spread):.1%} and {min(1.0, want_rate + spread):.1%} on {n} entries)",
        )
    return None


def compare_init(name: str, got: Any, expected: dict[str, Any], tolerance: float) -> Mismatch | None:
    """Initialization is random: compare keys, shapes, constants exactly, and the spread of weights."""
    if got is None or not isinstance(got, dict):
        return Mismatch("type", f"{name} is {type(got).__name__}; expected a dict of parameters")
    missing = sorted(set(expected) - set(got))
    if missing:
        return Mismatch("missing", f"{name} has no entry {missing[0]!r}")
    extra = sorted(set(got) - set(expected))
    if extra:
        return Mismatch("missing", f"{name} has an unexpected entry {extra[0]!r}")
    for key in sorted(expected):
        want = np.asarray(expected[key], dtype=float)
        arr = _as_numeric(got[key])
        if arr is None:
            return Mismatch("type", f"{name}[{key!r}] is a {type(got[key]).__name__}; expected an array")
        if arr.shape != want.shape:
            return Mismatch(
                "shape", f"{name}[{key!r}] has shape {_shape_text(arr.shape)}; expected {_shape_text(want.shape)}"
            )
        if want.size and np.all(want == want.flat[0]):
            if not np.array_equal(arr, want):
                return Mismatch("value", f"{name}[{key!r}] should be all {want.flat[0]:g}")
            continue
        got_std, want_std = float(np.std(arr)), float(np.std(want))
        if abs(got_std - want_std) > tolerance * want_std:
            return Mismatch(
                "value", f"{name}[{key!r}] has standard deviation {got_std:.3g}; expected about {want_std:.3g}"
            )
        if abs(float(np.mean(arr))) > max(tolerance * want_std, 4 * want_std / np.sqrt(arr.size)):
            return Mismatch("value", f"{name}[{key!r}] has mean {float(np.mean(arr)):.3g}; expected about 0")
    return None


# One-sided 99.9% quantiles of Student's t by degrees of freedom, 1 to 20 (more runs use the last,
# which only widens the bound a little).
_T_999: tuple[float, ...] = (318.31, 22.327, 10.215, 7.173, 5.893, 5.208, 4.785, 4.501, 4.297, 4.144)
_T_999 += (4.025, 3.930, 3.852, 3.787, 3.733, 3.686, 3.646, 3.610, 3.579, 3.552)


def spread_ceiling(values: Any) -> float:
    """The worst result a training run may reach and still be one of the reference's own: the upper
    99.9% prediction bound of its runs over seeds, mean + t * s * sqrt(1 + 1/K) (s their sample
    standard deviation, K their number), plus 1e-3 for training that every seed brings to the same
    place. A correct run that draws other minibatches, another run from the same spread, is above it
    once in a thousand when the runs spread normally; the worst run plus the runs' range was above
    it once in 68 for five runs, which often happen to cluster. One run: that run, plus 1e-3."""
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size < 2:
        return float(arr.max() + 1e-3)
    t = _T_999[min(arr.size - 1, len(_T_999)) - 1]
    return float(arr.mean() + t * arr.std(ddof=1) * math.sqrt(1 + 1 / arr.size) + 1e-3)


def _among(values: np.ndarray) -> str:
    lo, hi = float(values.min()), float(values.max())
    if values.size == 1:
        return f"ours reaches {hi:.4g}"
    return f"ours reaches {lo:.4g} to {hi:.4g} under {values.size} seeds"


def compare_history(name: str, got: Any, runs: Any) -> Mismatch | None:
    """A loss history, for training whose minibatches (or masks) the student's code draws its own way:
    one entry per iteration, finite, and its end (the mean of the last tenth, so that one noisy
    minibatch decides nothing) no higher than the spread of the reference's runs over seeds allows.
    `runs`: the reference's histories, one row per seed, from the same start."""
    arr = _as_numeric(got)
    want = np.atleast_2d(np.asarray(runs, dtype=float))
    if arr is None or arr.ndim != 1:
        return Mismatch("type", f"{name} is not a list of losses")
    if arr.size != want.shape[1]:
        return Mismatch("shape", f"{name} has {arr.size} entries; expected one per iteration, {want.shape[1]}")
    if not np.all(np.isfinite(arr)):
        return Mismatch("nonfinite", f"{name} contains nan or inf: the training diverged")
    tail = max(1, want.shape[1] // 10)
    got_end, ends = float(np.mean(arr[-tail:])), np.mean(want[:, -tail:], axis=1)
    ceiling = spread_ceiling(ends)
    if got_end > ceiling:
        return Mismatch(
            "value",
            f"{name} comes down from {float(arr[0]):.4g} to {got_end:.4g} (mean of the last {tail}); from the "
            f"same start {_among(ends)}, and yours must reach at most {ceiling:.4g}",
        )
    return None


def compare_trained_loss(name: str, got: Any, runs: Any) -> Mismatch | None:
    """The loss on the whole training set before training and with the parameters it left behind,
    [before, after]: after no higher than the spread of the reference's runs over seeds allows, from
    the same start (a model that never updates its parameters stays at `before`). `runs`: the
    reference's [before, after], one row per seed."""
    arr = _as_numeric(got)
    if arr is None or arr.size != 2 or not np.all(np.isfinite(arr)):
        return Mismatch("type", f"{name}: the trained parameters give no finite loss on the training set")
    before, value = (float(v) for v in arr.reshape(-1))
    afters = np.atleast_2d(np.asarray(runs, dtype=float))[:, 1]
    ceiling = spread_ceiling(afters)
    if value > ceiling:
        return Mismatch(
            "value",
            f"training brings the loss on the training set from {before:.4g} to {value:.4g}; from the same start "
            f"{_among(afters)}, and yours must reach at most {ceiling:.4g}: are the updates applied to the "
            f"model's own parameters?",
        )
    return None


def compare_best_val_accuracy(name: str, got: Any) -> Mismatch | None:
    """[validation accuracy of the parameters a training run returned as its best, best validation
    accuracy in the history it returned]: the two must agree, whatever the run reached (a copy kept
    at the best epoch; not the final arrays, which later updates change in place)."""
    arr = _as_numeric(got)
    if arr is None or arr.size != 2:
        return Mismatch("type", f"{name}: training returned no validation accuracy history")
    returned, best = (float(v) for v in arr.reshape(-1))
    if not np.isfinite(returned) and best > 0:  # at 0, no epoch beat the start: nothing to keep
        return Mismatch(
            "value",
            "the parameters training returned as the best are not a copy of every parameter of the network "
            "(None, or names missing): keep a copy of each at the epoch with the best validation accuracy",
        )
    if np.isfinite(returned) and abs(returned - best) > 1e-9:
        return Mismatch(
            "value",
            f"the parameters training returned as the best give {returned:.1%} on the validation set; the "
            f"best validation accuracy in its history is {best:.1%}: keep a copy (.copy()) of every parameter "
            f"at the epoch where the validation accuracy improves, and update the best accuracy there too",
        )
    return None


def compare_minibatches(name: str, got: Any, expected: Any) -> Mismatch | None:
    """The rows of each minibatch the training loss saw: as many updates as ours, each of our size."""
    arr, want = _as_numeric(got), np.asarray(expected)
    if arr is None or arr.ndim != 1:
        return Mismatch("type", f"{name}: no minibatches were seen")
    if arr.size != want.size:
        return Mismatch(
            "shape", f"training called the loss on {arr.size} minibatches; expected one per update, {want.size}"
        )
    wrong = np.flatnonzero(arr != want)
    if wrong.size:
        k = int(wrong[0])
        return Mismatch(
            "value",
            f"minibatch {k + 1} has {int(arr[k])} examples; expected {int(want[k])} (batch_size): "
            f"{wrong.size} of {want.size} minibatches have another size",
        )
    return None


def compare_speedup(fast: str, slow: str, ratio: Any, minimum: float) -> Mismatch | None:
    """The fast implementation must beat the slow one by the rubric's factor."""
    value = _as_numeric(ratio)
    if value is None or value.size != 1 or not np.isfinite(value).all():
        return Mismatch("type", f"no timing came back for {fast}")
    if float(value) < minimum:
        return Mismatch(
            "value",
            f"{fast} is only {float(value):.1f} times faster than {slow}; expected at "
            f"least {minimum:g} times: remove the loops over examples and classes",
        )
    return None


# Centered differences (h = 1e-5) against analytic gradients.
GRADIENT_CHECK_TOLERANCE = 1e-5
# Centered differences with h = 1e-5 carry round-off of about 1e-11 in absolute terms.
ABSOLUTE_NOISE = 1e-8


MAX_GRADIENT_ENTRIES = 1_000_000


def numerical_gradient(values: Any, dout: np.ndarray) -> np.ndarray | None:
    """The centered-difference gradient of sum(f(x) * dout), from f's outputs on perturbed inputs as
    a child reported them (`grader.probes.perturbed_values`); NaN where no entry was moved. None when
    the values do not have that form: they come from the child, and are read as untrusted data."""
    try:
        shape = tuple(int(n) for n in values["shape"])
        entries = np.asarray(values["entries"])
        h = float(values["h"])
        size = int(np.prod(shape, dtype=np.int64))
        if (
            entries.dtype.kind not in "iu"
            or entries.ndim != 1
            or not 0 < size <= MAX_GRADIENT_ENTRIES
            or not h > 0
            or (entries.size and not (entries.min() >= 0 and entries.max() < size))
        ):
            return None
        rows = (len(entries), dout.size)
        pos = np.asarray(values["pos"], dtype=float).reshape(rows)
        neg = np.asarray(values["neg"], dtype=float).reshape(rows)
        grad = np.full(size, np.nan) if len(entries) < size else np.zeros(size)
        grad[entries.astype(np.int64)] = (pos - neg) @ dout.reshape(-1).astype(float) / (2 * h)
        return grad.reshape(shape)
    except (KeyError, TypeError, ValueError, IndexError, OverflowError):
        return None


def compare_gradient(name: str, analytic: Any, numeric: Any) -> Mismatch | None:
    """An analytic gradient against a numerical one: relatively close, or both zero up to noise.

    A parameter the loss does not depend on (a bias followed by batch norm) has a
    gradient of exactly zero; its numerical estimate is round-off of about 1e-11,
    which no relative error can call close.
    """
    if isinstance(numeric, dict):
        if not isinstance(analytic, dict):
            return Mismatch("type", f"{name} is a {type(analytic).__name__}; expected a dict")
        for key in sorted(numeric):
            problem = compare_gradient(f"{name}[{key!r}]", analytic.get(key), numeric[key])
            if problem:
                return problem
        return None
    numeric = np.asarray(numeric, dtype=float)
    sampled = np.isfinite(numeric)  # a sampled numerical gradient is NaN where not estimated
    got = _as_numeric(analytic)
    if got is not None and got.shape == numeric.shape and got.dtype.kind in "biuf":
        if not sampled.all():
            got, numeric = got[sampled], numeric[sampled]
        # Zero up to noise, before any relative error (and before describing a difference that is none).
        with np.errstate(all="ignore"):
            diff = float(np.max(np.abs(got.astype(float) - numeric), initial=0.0))
        if np.isfinite(diff) and diff <= ABSOLUTE_NOISE * max(1.0, float(np.max(np.abs(numeric), initial=0.0))):
            return None
        analytic = got
    return compare_value(name, analytic, numeric, GRADIENT_CHECK_TOLERANCE)
