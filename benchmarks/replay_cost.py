"""What carrying a bug forward costs: grading a submission whose upstream bug is replayed into the
items that call it (`grader.replay`), against grading it with the replay left out, in turns.

    .venv/bin/python benchmarks/replay_cost.py [NAME ...] [--runs 5]

NAME is a test submission under tests/submissions/ (default: one per assignment whose bug is in a
layer the networks and training call). Instructor mode, module items only, the test hidden seed.
Prints, per submission, the median wall time of each way and the median ratio pair by pair.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bugs import TEST_SEED, assignment_of, load_bug, materialize  # noqa: E402

from grader import engine  # noqa: E402
from grader.options import GradeOptions  # noqa: E402
from grader.project import Layout  # noqa: E402

DEFAULT = ["mlp_lib_fails_fc_forward_without_bias", "fails_dropout_forward_scales_by_1_minus_p_backward_right_for_it"]


def _grade(name: str, replay: bool) -> float:
    bug = load_bug(name)
    layout = Layout(ROOT, assignment_of(bug))
    own = engine._replay_targets
    if not replay:
        engine._replay_targets = lambda *args: []  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            submission = materialize(name, Path(tmp) / name)
            assignment = engine.load_assignment(layout.fixtures, layout.reference)
            start = time.perf_counter()
            engine.grade(submission, assignment, GradeOptions(hidden_seed=TEST_SEED, notebooks=False))
            return time.perf_counter() - start
    finally:
        engine._replay_targets = own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=DEFAULT)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for name in args.names:
        with_replay, without, ratios = [], [], []
        for _ in range(args.runs):
            a, b = _grade(name, replay=False), _grade(name, replay=True)
            without.append(a)
            with_replay.append(b)
            ratios.append(b / a)
        print(
            f"{name}: without replay median {statistics.median(without):.2f} s, with replay "
            f"{statistics.median(with_replay):.2f} s; ratio with/without median {statistics.median(ratios):.2f} "
            f"(min {min(ratios):.2f}, max {max(ratios):.2f}) over {args.runs} pairs"
        )


if __name__ == "__main__":
    main()
