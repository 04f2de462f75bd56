"""Old code's errors say what replaced the name they are about, from the errors the installed
NumPy and Python really raise."""

from __future__ import annotations

import numpy as np
import pytest

from grader.messages import exception
from grader.version_hints import hint

NUMPY = f"NumPy {np.__version__.split('.')[0]}"


def raised(code: str) -> tuple[str, str]:
    try:
        exec(code, {"np": np})
    except Exception as exc:  # noqa: BLE001 - whatever the old code raises is what is read
        return type(exc).__name__, str(exc)
    pytest.skip(f"{code!r} still works with NumPy {np.__version__}")


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("np.product([1, 2])", f"np.product is not in {NUMPY}, which the grader runs: use np.prod instead"),
        ("np.asscalar(np.ones(1))", "use a.item() instead"),
        ("from numpy import cumproduct", f"np.cumproduct is not in {NUMPY}, which the grader runs: use np.cumprod"),
        ("for i in xrange(3): pass", "xrange is Python 2's: in Python 3 use range"),
        ("{}.iteritems()", "dict.iteritems is Python 2's: in Python 3 use .items()"),
        ("import cPickle", "cPickle is Python 2's: in Python 3 use pickle"),
    ],
)
def test_an_error_from_old_code_says_what_replaced_the_name(code: str, says: str) -> None:
    assert says in hint(*raised(code))


@pytest.mark.parametrize("code", ["np.NaN", "np.float_", "np.no_such_function()", "undefined_name", "import nosuchmod"])
def test_no_hint_where_numpy_says_it_already_or_the_name_is_simply_wrong(code: str) -> None:
    error_type, message = raised(code)
    assert hint(error_type, message) == ""


def test_the_hint_follows_the_error_in_a_students_message() -> None:
    error_type, message = raised("np.product([1, 2])")
    text = exception("public case 1", {"error_type": error_type, "message": message, "traceback": "  File ..."})
    first = text.split("\n")[0]
    assert first == (
        "public case 1: AttributeError: module 'numpy' has no attribute 'product' "
        f"(np.product is not in {NUMPY}, which the grader runs: use np.prod instead)"
    )
