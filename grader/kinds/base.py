"""What every check kind provides, with the defaults most kinds keep.

A kind is one object with two faces. Its rubric face reads the item's own keys into
`Item.params` (validated, with the separately credited `parts`). Its grading face is
either that of a *code kind*, whose cases run in a child (or a notebook's kernel)
through a probe and are scored part by part, or that of a *notebook kind*, scored
from a notebook's run as a whole (a run, an accuracy threshold, a written answer).

Kind modules are imported by every child too (for their probes), before it serves a request:
at module level they import only the standard library, numpy, `grader.probes` and
`grader.compare`; what only the parent uses is imported where it is used.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Literal,
    TypeVar,
    Union,
    dataclass_transform,
    get_args,
    get_origin,
    get_type_hints,
)

from grader.compare import Mismatch, compare_value

if TYPE_CHECKING:
    from grader.kinds.context import NotebookContext
    from grader.results import CaseRun, ItemResult, Status
    from grader.rubric import Item

S = TypeVar("S")

# A probe runs in the child: (the student's object, the request's parameters, its inputs) -> data.
Probe = Callable[[Any, dict[str, Any], dict[str, Any]], dict[str, Any]]


class KindError(ValueError):
    """An item's own keys are wrong; the message names the item and the key."""


def require(table: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise KindError(f"{where}: missing required key {key!r}")
    return table[key]


@dataclass_transform(frozen_default=True)
class Keys:
    """The base of a kind's rubric keys, declared as the fields of a frozen dataclass (types and
    defaults). The class becomes that dataclass when a rubric is first read (`keys_type`), not when
    its module is imported: every child imports every kind for its probes and never reads a rubric,
    and making the dataclasses was a measurable share of a child's start."""


_MAKING = threading.Lock()


def keys_type(spec: type[S]) -> type[S]:
    """`spec` as the frozen dataclass it declares (made once; a Spec already a dataclass is kept)."""
    with _MAKING:
        if "__dataclass_fields__" not in spec.__dict__:
            dataclass(frozen=True)(spec)
    return spec


_KEY_TYPES: dict[type, dict[str, Any]] = {}


def _key_types(spec: type) -> dict[str, Any]:
    """Each key's type, resolved once per Spec (resolving annotations compiles them)."""
    if spec not in _KEY_TYPES:
        _KEY_TYPES[spec] = get_type_hints(keys_type(spec))
    return _KEY_TYPES[spec]


class NoKeys(Keys):
    """A kind with no rubric keys of its own."""


class Kind:
    """The defaults of both faces; a kind overrides what it does differently."""

    name: ClassVar[str]
    # The rubric keys of this kind, beyond those every item has (id, title, points, ...): a `Keys`
    # class (or a frozen dataclass) whose fields are the keys, their types (bool, int, float, str, a list of strings as
    # tuple[str, ...], a table as dict, any of them `| None`) and their defaults.
    Spec: ClassVar[type] = NoKeys

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(f.name for f in fields(keys_type(self.Spec)))

    # "cases": cases run through a probe in a child or kernel. "notebook_run": scored from a notebook's run.
    scored_from: ClassVar[Literal["cases", "notebook_run"]] = "cases"

    def parse(self, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The item's params: its keys read into the kind's Spec (typed, defaulted), checked
        together, and the `parts` they credit; raises KindError naming the key."""
        spec: Any = read_spec(self.Spec, raw, where)
        self.check(spec, where)
        return {**asdict(spec), "spec": spec, "parts": list(self.parts(spec))}

    def check(self, spec: Any, where: str) -> None:
        """What the keys' types cannot say (two lists of one length); raises KindError."""

    def parts(self, spec: Any) -> Sequence[str]:
        """The separately credited outputs of an item with these keys."""
        return [self.name]

    # --- code kinds -------------------------------------------------------------------------

    # Tolerances the rubric cannot set, by part (a part judged against a target, not a tolerance).
    fixed_tolerance: ClassVar[Mapping[str, float]] = {}

    def probe(self, item: Item) -> str:
        """The child's probe for this item's cases, as 'kind:probe' (see `grader.kinds.probe`)."""
        return f"{self.name}:{self.name}"

    def request_params(self, item: Item) -> dict[str, Any]:
        """What the probe is told: the rubric's parameters and the name of its target."""
        params = {k: v for k, v in item.params.items() if k not in ("parts", "spec")}
        params["target"] = item.qualname
        return params

    def finish_inputs(self, item: Item, inputs: dict[str, Any], rng_parts: tuple[object, ...]) -> dict[str, Any]:
        """A drawn case's inputs, completed with what the probe draws itself (seeded from `rng_parts`)."""
        return inputs

    def self_checks(self, item: Item) -> bool:
        """Whether student mode adds cases judged by the numerical gradient of the student's own code."""
        return False

    # Whether a part wrong against the reference keeps its points when it is the exact gradient of
    # the student's own upstream code on every case (a bug costs its points once, where it is).
    carries_forward: ClassVar[bool] = False

    def derive(self, item: Item, inputs: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
        """A case's outputs with what the parent computes from the child's raw values: the numerical
        gradients, from the outputs on perturbed inputs. A gradient the child reports is dropped."""
        derived = {k: v for k, v in outputs.items() if k not in ("numeric", "perturbed")}
        perturbed = outputs.get("perturbed")
        if isinstance(perturbed, dict) and perturbed:
            derived["numeric"] = self.numeric(item, inputs, perturbed)
        return derived

    def numeric(self, item: Item, inputs: dict[str, Any], perturbed: dict[str, Any]) -> dict[str, Any]:
        """The numerical gradients, by part, from the child's outputs on perturbed inputs."""
        return {}

    def compare_part(self, item: Item, part: str, got: Any, want: Any) -> Mismatch | None:
        return compare_value(part, got, want, item.tolerance[part])

    def check_part(self, item: Item, part: str, run: CaseRun) -> Mismatch | None:
        """One part of one case against what it is compared with (the reference's output)."""
        returned = run.result.outputs.get("returned", {})
        expected = run.expected or {}
        return self.compare_part(item, part, returned.get(part), expected.get(part))

    def reference_problems(self, item: Item, returned: dict[str, Any]) -> list[str]:
        """Why the reference's outputs on a public case cannot judge a student (the build refuses them)."""
        return []

    def fixture_expected(self, item: Item, returned: dict[str, Any]) -> dict[str, Any]:
        """What the fixtures keep of the reference's outputs on a public case."""
        return returned

    # --- notebook kinds ---------------------------------------------------------------------

    # Whether the item's params set the limits of its notebook's run (cell_timeout_s, timeout_s).
    sets_notebook_limits: ClassVar[bool] = False
    # Whether scoring needs the notebook to have run (a kernel that cannot start is the grader's fault).
    needs_kernel: ClassVar[bool] = True

    def reads(self, item: Item) -> tuple[str, ...]:
        """The variables the notebook's run reads for this item, each right after the locked cell that
        assigns it (`NotebookRun.values`)."""
        return ()

    def score_notebook(self, items: Sequence[Item], context: NotebookContext) -> list[ItemResult]:
        """Every item of this kind, from the notebooks' runs."""
        raise NotImplementedError


def item_result(item: Item, points: float, status: Status, message: str, duration: float = 0.0) -> ItemResult:
    from grader.results import ItemResult

    return ItemResult(item.id, item.title, round(points, 6), item.points, status, message, round(duration, 3))


# --- an item's own keys, as a typed value -------------------------------------------------------


def _read(value: Any, hint: Any, key: str, where: str) -> Any:
    """One rubric value as its field's type says, or KindError naming the key."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        (inner,) = (a for a in args if a is not type(None))
        return _read(value, inner, key, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise KindError(f"{where}: {key} must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise KindError(f"{where}: {key} must be a whole number, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise KindError(f"{where}: {key} must be a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise KindError(f"{where}: {key} must be a string, got {value!r}")
    if origin is tuple and args[1:] == (Ellipsis,):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise KindError(f"{where}: {key} must be a list of strings, got {value!r}")
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if isinstance(value, dict):
            return dict(value)
        raise KindError(f"{where}: {key} must be a table, got {value!r}")
    raise TypeError(f"a rubric key's type must be bool, int, float, str, tuple[str, ...] or a table: {hint!r}")


def read_spec(spec: type[S], raw: Mapping[str, Any], where: str) -> S:
    """The kind's keys of one rubric item as its Spec dataclass: each present key checked against its
    field's type, each absent one defaulted, a required one missing an error naming it."""
    spec = keys_type(spec)
    hints = _key_types(spec)
    values: dict[str, Any] = {}
    for f in fields(spec):  # type: ignore[arg-type]
        if f.name in raw:
            values[f.name] = _read(raw[f.name], hints[f.name], f.name, where)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise KindError(f"{where}: missing required key {f.name!r}")
    return spec(**values)
