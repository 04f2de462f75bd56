"""Running rubric items' cases against one submission (or the reference) in a child."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from grader import backends
from grader.backends import Backend, Policy
from grader.cases import request_params
from grader.results import ChildResult
from grader.rubric import Item
from grader.scratch import copy_submission

# What a run of the reference's code (or a variant of it) is told: no numerical gradient, which
# nothing judges, and training under every seed its item names, whose spread judges a student's.
REFERENCE_PARAMS: dict[str, Any] = {"numeric": False, "spread": True}


def run_cases(
    root: Path,
    work: Iterable[tuple[Item, list[dict[str, Any]]]],
    submission_timeout_s: float,
    timeout_override: float | None = None,
    extra_params: dict[str, Any] | None = None,
    case_params: dict[str, list[dict[str, Any]]] | None = None,
    scratch: Path | None = None,
    policy: Policy = Policy(),
    backend: Backend | None = None,
) -> tuple[dict[str, list[ChildResult]], list[str]]:
    """Every case of every item, in order, in one child session on a scratch copy of root.

    Returns the results by item id and the paths the copy skipped (links, huge files).
    Once the whole-submission limit is spent, the remaining cases time out without running.
    `extra_params` reach every probe (e.g. `numeric: False` where no numerical gradient is wanted);
    `case_params[item id][k]` reach the probe of that item's k-th case only.
    With `scratch`, root is already a prepared scratch copy and is used as it is.
    The child runs on `backend` (the local one by default) under `policy`.
    """
    results: dict[str, list[ChildResult]] = {}
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        workdir = Path(tmp) / "requests"
        workdir.mkdir()
        if scratch is None:
            scratch = Path(tmp) / "submission"
            skipped = copy_submission(root, scratch)
        else:
            skipped = []
        deadline = time.monotonic() + submission_timeout_s
        with (backend or backends.default()).session(scratch, workdir, policy) as session:
            for item, cases in work:
                timeout = timeout_override if timeout_override is not None else item.timeout_s
                out: list[ChildResult] = []
                for index, inputs in enumerate(cases):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        out.append(ChildResult("timeout", meta={"message": "the submission's time limit was spent"}))
                        continue
                    if out and out[-1].status == "timeout":
                        # One hang is enough to know; waiting out every case would only delay the others.
                        out.append(ChildResult("timeout", meta=out[-1].meta))
                        continue
                    per_case = (case_params or {}).get(item.id, [])
                    params = {
                        **request_params(item),
                        **(extra_params or {}),
                        **(per_case[index] if index < len(per_case) else {}),
                    }
                    out.append(
                        session.run(item.module, item.qualname, item.probe(), params, inputs, min(timeout, remaining))
                    )
                results[item.id] = out
    return results, skipped
