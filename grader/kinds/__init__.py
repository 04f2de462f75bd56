"""The registry of check kinds: a kind's name in the rubric -> the object that knows it.

Each built-in kind is one module of this package, holding its rubric keys, its probes
(the child's side) and its scoring. Adding a kind is adding a module and a line in
`_BUILT_IN`; a course or a test can also `register` a kind of its own (its probes must
then be those of a built-in kind, which is all a child can import).
"""

from __future__ import annotations

import importlib

from grader.kinds.base import Kind, KindError, Probe

_BUILT_IN = (
    "compare",
    "gradient",
    "optimizer",
    "model",
    "speedup",
    "notebook",
    "threshold",
    "notebook_value",
    "manual",
)
# The built-in kinds with probes (`PROBES`): the only kind modules a child imports.
_WITH_PROBES = ("compare", "gradient", "optimizer", "model", "speedup", "threshold", "notebook_value")
_REGISTERED: dict[str, Kind] = {}


def _load(name: str) -> Kind:
    kind: Kind = importlib.import_module(f"grader.kinds.{name}").KIND
    return kind


def get(name: str) -> Kind:
    """The kind of this name; KindError when there is none."""
    if name not in _REGISTERED:
        if name not in _BUILT_IN:
            raise KindError(f"kind {name!r} is not one of {', '.join(names())}")
        _REGISTERED[name] = _load(name)
    return _REGISTERED[name]


def names() -> tuple[str, ...]:
    return tuple(dict.fromkeys((*_BUILT_IN, *_REGISTERED)))


def register(kind: Kind) -> None:
    """Add a kind (from a course's or a test's own code); its name must be new."""
    if kind.name in _BUILT_IN or kind.name in _REGISTERED:
        raise KindError(f"kind {kind.name!r} exists already")
    _REGISTERED[kind.name] = kind


def unregister(name: str) -> None:
    if name in _BUILT_IN:
        raise KindError(f"kind {name!r} is built in")
    _REGISTERED.pop(name, None)


_PROBES: dict[str, Probe] = {}


def preload_probes() -> None:
    """Import every built-in kind's probes now. The child does this before any student code runs:
    a submission that planted a module in sys.modules cannot stand in for a probe imported later."""
    for kind in _WITH_PROBES:
        for name, fn in importlib.import_module(f"grader.kinds.{kind}").PROBES.items():
            _PROBES[f"{kind}:{name}"] = fn


def probe(address: str) -> Probe:
    """The probe at 'kind:probe', from the built-in kinds only (a child runs nothing a request
    names but the grader's own probes)."""
    if not _PROBES:
        preload_probes()
    if address not in _PROBES:
        kind, _, name = address.partition(":")
        if kind not in _WITH_PROBES:
            raise KindError(f"no built-in kind {kind!r} has probes")
        raise KindError(f"kind {kind!r} has no probe {name!r}")
    return _PROBES[address]


__all__ = ["Kind", "KindError", "Probe", "get", "names", "preload_probes", "probe", "register", "unregister"]
