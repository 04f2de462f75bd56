"""The seed catalogue's records (tests/data/<assignment>_seed_records.json) and how to check one.

A record carries NumPy code that builds inputs and calls the seed's API, the numbers the
seed published, and the kind of tolerance its notebook applied. Each assignment's test
supplies the namespace that maps the record's names onto its reference.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from conftest import ROOT


def records(assignment: str) -> list[dict[str, Any]]:
    data = json.loads((ROOT / "tests" / "data" / f"{assignment}_seed_records.json").read_text())
    return list(data["records"])


def rel_error(x: Any, y: Any) -> float:
    """The seeds' relative error: max |x - y| / max(1e-8, |x| + |y|)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def run(record: dict[str, Any], ns: dict[str, Any], call: str | None = None) -> Any:
    """Execute a record's inputs and call in ns; its `result`."""
    ns.setdefault("np", np)
    ns.setdefault("rel_error", rel_error)
    exec(record["inputs_code"], ns)
    exec(call if call is not None else record["call_code"], ns)
    return ns["result"]


def within(record: dict[str, Any], result: Any, expected: Any, tolerance: float | None = None) -> tuple[bool, float]:
    """Whether result meets the record's published expectation, and by how much it misses."""
    kind = record["tolerance_kind"]
    tol = record["tolerance"] if tolerance is None else tolerance
    if kind == "rel_error":
        err = rel_error(result, expected)
    elif kind == "abs_sum":
        err = float(np.sum(np.abs(np.asarray(result) - np.asarray(expected))))
    elif kind == "abs":
        err = abs(float(result) - float(expected))
    elif kind == "upper_bound":
        err = max(float(v) for v in result.values())
    else:  # pragma: no cover - the catalogue has no other kind
        raise AssertionError(f"unknown tolerance kind {kind}")
    return err <= tol, err
