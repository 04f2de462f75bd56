"""Python's parser in the grader's process, safe from CPython 3.11's spurious "AST constructor
recursion depth mismatch" SystemError (python/cpython#106905).

The count that error checks is shared by the whole process, and a parse started while another is
converting its tree resets it. That happens when a garbage collection during the conversion runs a
finalizer that formats a traceback (3.11 parses each line of one), or lets another thread run. Every
parse in the grader's process goes through `retried`: the grader's own `ast.parse`, and numpy's
reading of each array header a child returns (`ast.literal_eval`), which runs in the worker threads.
"""

from __future__ import annotations

import ast
import gc
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_PARSING = threading.Lock()
_TRIES = 3


def retried(parse: Callable[[], T]) -> T:
    """parse(), one at a time in this process, with the collector paused: the conversion of the tree
    then runs no Python code until it ends, so no finalizer and no other thread gets in. It is tried
    again on the spurious error, for a thread that turns the collector back on (a library's own pause
    ending) before the conversion starts. Any other SystemError is raised."""
    with _PARSING:
        collecting = gc.isenabled()
        gc.disable()
        try:
            for attempt in range(_TRIES):
                try:
                    return parse()
                except SystemError as exc:
                    if "recursion depth mismatch" not in str(exc) or attempt == _TRIES - 1:
                        raise
        finally:
            if collecting:
                gc.enable()
    raise AssertionError("unreachable")


def parse(source: str) -> ast.Module:
    """ast.parse(source), safely: the parent never gives up on a student's file for that error."""
    return retried(lambda: ast.parse(source))
