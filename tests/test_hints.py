"""A hint is shown only when the failure it explains is the one seen; a misspelled hint is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import toy_rubric

from grader import hints, rubric
from grader.compare import Mismatch, compare_value

PARTS = ("loss", "dx")
OVERFLOW = hints.Hint("subtract the max", when="nonfinite")
REG = hints.Hint("add the regularization", parts=("loss",), cases=(2, 3))
SCALE = hints.Hint("scale by 1 / p", when="factor")


def wrong(part: str, case: int, code: str = "value", pattern: str = "") -> hints.Wrong:
    return hints.Wrong(part, case, Mismatch(code, "...", pattern))


@pytest.mark.parametrize(
    ("evidence", "failing", "shown"),
    [
        ([wrong("loss", 2, "nonfinite")], {2}, [OVERFLOW]),
        # finite but wrong values where the scores are large: not an overflow
        ([wrong("loss", 2)], {2}, []),
        ([wrong("loss", 2), wrong("loss", 3)], {2, 3}, [REG]),
        # the unregularized case fails too: the cause is elsewhere
        ([wrong("loss", 1), wrong("loss", 2), wrong("loss", 3)], {1, 2, 3}, []),
        # a crash on case 1 is a failure of case 1 as well
        ([wrong("loss", 2), wrong("loss", 3)], {1, 2, 3}, []),
        # the right cases, but only a part the hint is not about
        ([wrong("dx", 2), wrong("dx", 3)], {2, 3}, []),
        ([wrong("dx", 1, pattern="factor")], {1}, [SCALE]),
        ([wrong("dx", 1, pattern="sign")], {1}, []),
    ],
)
def test_a_hint_is_shown_only_when_its_condition_holds(
    evidence: list[hints.Wrong], failing: set[int], shown: list[hints.Hint]
) -> None:
    assert hints.holding((OVERFLOW, REG, SCALE), evidence, failing) == shown


def test_the_factor_condition_reads_the_pattern_compare_found() -> None:
    problem = compare_value("out", [2.0, 4.0, 0.0, 6.0], [1.0, 2.0, 0.0, 3.0], 1e-7)
    assert problem is not None and problem.pattern == "factor"
    unpatterned = compare_value("out", [2.0, 1.0, 0.0, 6.0], [1.0, 2.0, 0.0, 3.0], 1e-7)
    assert unpatterned is not None and unpatterned.pattern == ""


def test_a_plain_string_is_a_hint_on_any_wrong_value() -> None:
    assert hints.read("check the sign", "item 'x'", PARTS, 2) == (hints.Hint("check the sign"),)
    assert hints.read([{"text": "t", "when": "shape", "parts": ["dx"], "cases": [2, 1]}], "item 'x'", PARTS, 2) == (
        hints.Hint("t", "shape", ("dx",), (1, 2)),
    )


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ([{"text": "t", "wehn": "nonfinite"}], "unknown key 'wehn'"),
        ([{"text": "t", "when": "overflow"}], "when must be one of wrong, nonfinite, factor, shape"),
        ([{"text": "t", "parts": ["dw"]}], "parts must be a list of the item's parts (loss, dx)"),
        ([{"text": "t", "cases": [3]}], "cases must be a list of public case numbers, 1 to 2"),
        ([{"text": "t", "cases": [0]}], "cases must be a list of public case numbers, 1 to 2"),
        ([{"when": "wrong"}], "text must be a non-empty string"),
        (3, "hint must be a string or a list of tables"),
    ],
)
def test_a_misspelled_hint_is_refused_naming_the_item_and_key(raw: object, says: str) -> None:
    with pytest.raises(hints.HintError, match="item 'x'") as caught:
        hints.read(raw, "item 'x'", PARTS, 2)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("hint", "error"),
    [
        (
            '[[item.hint]]\ntext = "t"\ncases = [2]',
            "item 'toy.ops:f', hint 1: cases must be a list of public case numbers, 1 to 1",
        ),
        (
            '[[item.hint]]\ntext = "t"\nparts = ["dx"]',
            "item 'toy.ops:f', hint 1: parts must be a list of the item's parts (out)",
        ),
    ],
)
def test_the_rubric_refuses_a_hint_that_names_no_case_or_part_of_its_item(
    tmp_path: Path, hint: str, error: str
) -> None:
    with pytest.raises(rubric.RubricError, match=re.escape(error)):
        rubric.load(toy_rubric.write(tmp_path, keys=hint))
