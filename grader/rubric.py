"""The rubric file (`rubric.toml`): what is graded, for how many points, and how.

The rubric is data. It is validated when loaded, an unknown key is an error that
names the key, and nothing in the engine knows any assignment by name.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader import kinds
from grader.hints import Hint, HintError
from grader.hints import read as read_hints
from grader.project import source_file
from grader.tables import Key, unknown_key
from grader.variants import Variant, VariantError
from grader.variants import read as read_variants

# Each key with its type, default and meaning: `docs/rubric.md` is written from these and the kinds' own.
ASSIGNMENT_KEYS = {
    "name": Key("string", "required", "the assignment's name, as in `grade.toml` and the folders"),
    "title": Key("string", "the name", "what reports and the students' README call it"),
    "student_packages": Key("array of strings", "[]", "the packages students write code in (for the reader)"),
    "provided": Key(
        "array of strings",
        "[]",
        "the course's own files or folders, restored from the fixtures before grading: students cannot change "
        "how they are graded",
    ),
    "instructor_only": Key(
        "array of strings",
        "[]",
        'files or folders never copied to the template or the fixtures (`"rubric.toml"`, held-out data)',
    ),
    "timeout_s": Key("float", "10", "each item's limit in seconds, unless the item sets its own"),
    "submission_timeout_s": Key("float", "300", "the whole submission's limit in seconds"),
    "cell_timeout_s": Key(
        "float", "60", "each notebook cell's limit in seconds, unless the notebook's `notebook` item sets its own"
    ),
    "notebook_timeout_s": Key(
        "float", "600", "each notebook's whole run's limit in seconds, unless its `notebook` item sets `timeout_s`"
    ),
    "hidden_cases": Key("integer", "2", "hidden cases drawn per public case in instructor mode"),
    "datasets": Key("array of strings", '["default"]', "the data sets `--dataset` may name, the first the default"),
    "dataset_env": Key("string", '""', "the environment variable the chosen data set's name is passed in"),
    "data_dir_env": Key("string", '""', "the environment variable `--data-dir` is passed in"),
    "public": Key("boolean", "false", "written by `grade-build` in the fixtures' copy; never set it by hand"),
}
# The notebook an item is about: required of items scored from a notebook's run, and given for an
# object a notebook defines (graded in its kernel); absent for objects of module files.
NOTEBOOK_KEY = "notebook"
COMMON_ITEM_KEYS = {
    "id": Key(
        "string",
        "required",
        '`"dotted.module:qualname"` (`"nndl.layers:affine_forward"`), `"notebook.ipynb:qualname"` for an object '
        "a notebook defines, with `[variant]` appended when several items grade one function; "
        '`"notebook:<nb>:<name>"`, `"threshold:..."`, `"manual:..."` for the notebook kinds',
    ),
    "title": Key("string", "the qualname", "what students read in the score table"),
    "points": Key("float", "required", "the item's points, >= 0"),
    "kind": Key("string", "required", "the check kind (below)"),
    "tolerance": Key(
        "float or table", "1e-8", "the relative error allowed, for every part or per part (`{dx = 1e-7, dw = 1e-7}`)"
    ),
    "timeout_s": Key("float", "the assignment's", "the item's limit in seconds"),
    "dims": Key("table", "{}", "the public cases' dimension names and sizes (`{N = 4, D = 5}`)"),
    "hidden_dims": Key(
        "table",
        "half to twice each public size, and at least 2 where the public size is",
        "per dimension, the [low, high] sizes hidden cases draw from (`{N = [3, 8]}`)",
    ),
    "case": Key("array of tables", "required for code kinds", "the public cases: `[[item.case]]` (below)"),
    "modifies": Key("array of strings", "[]", "the arguments the function may change in place (an optimizer's `w`)"),
    "hint": Key("string or array of tables", "none", "what to tell a student about a failure: `[[item.hint]]`"),
    "depends": Key(
        "array of strings",
        "[]",
        "the items this one calls, itself or through the items they call (those follow from their own "
        "`depends`): a student's bug there is not charged here again",
    ),
    "adapter": Key(
        "string",
        "none",
        "`pkg.module:function` in a provided file that maps a course's classes onto what the kind calls; it "
        "receives the student's module (or the notebook's variables) first",
    ),
    "variant": Key("array of tables", "[]", "accepted alternatives and known mistakes: `[[item.variant]]`"),
    NOTEBOOK_KEY: Key("string", "none", "the notebook the item is about (required of the notebook kinds)"),
}

# Keys of an `[[item.case]]` that describe the case or say how it is judged, not what it is called
# with.
CASE_KEYS = {
    "about": Key(
        "string",
        '""',
        'what the case is, in a few words a student reads in every message about it (`"with regularization"`)',
    ),
    "self_check": Key(
        "array of strings",
        "[]",
        "the parts judged, on this case, against the student's own code only (a gradient against the numerical "
        "gradient of the student's own function): for a case whose values the reference's random draws decide",
    ),
}


class RubricError(ValueError):
    """The rubric is malformed; the message names the item and the key."""


@dataclass(frozen=True)
class Item:
    """One graded item: a function, a method, or one property of a model class."""

    id: str
    title: str
    points: float
    kind: str
    module: str
    qualname: str
    cases: tuple[Mapping[str, Any], ...]
    tolerance: Mapping[str, float]
    dims: Mapping[str, int]
    hidden_dims: Mapping[str, list[int]]
    timeout_s: float
    params: Mapping[str, Any] = field(default_factory=dict)
    modifies: tuple[str, ...] = ()
    hints: tuple[Hint, ...] = ()  # each shown only when the failure it explains is the one seen
    depends: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()  # accepted alternatives and known mistakes (`grader.variants`)
    case_self_check: tuple[tuple[str, ...], ...] = ()  # per case, its `self_check` parts
    case_about: tuple[str, ...] = ()  # per case, its `about` ("" for none)

    def about(self, number: int) -> str:
        """What the public case `number` (from 1) is, as the rubric describes it ('' if it does not)."""
        return self.case_about[number - 1] if 0 < number <= len(self.case_about) else ""

    def own_parts(self, number: int) -> tuple[str, ...]:
        """The parts judged against the student's own code only on the public case `number` (from 1)
        and on the hidden cases drawn after it."""
        return self.case_self_check[number - 1] if 0 < number <= len(self.case_self_check) else ()

    @property
    def notebook(self) -> str:
        """The notebook an item is about ('' for items about module code)."""
        return str(self.params.get(NOTEBOOK_KEY, ""))

    @property
    def parts(self) -> tuple[str, ...]:
        """The separately credited outputs of this item, in order."""
        return tuple(self.params["parts"])

    @property
    def self_check(self) -> bool:
        """Graded only against the numerical gradient of the student's own code, never against the
        reference: for a network whose design (layer sizes, names) is the student's to choose."""
        return bool(self.params.get("self_check", False))

    @property
    def source_file(self) -> str:
        """The file the item's code lives in, relative to the submission ('' for notebook kinds)."""
        return source_file(self.notebook or self.module) if self.qualname else ""

    @property
    def slug(self) -> str:
        """A file-name-safe form of the id."""
        return self.id.replace(":", "__").replace("[", ".").replace("]", "")

    def probe(self) -> str:
        """The child's probe for this item's cases ('kind:probe')."""
        return kinds.get(self.kind).probe(self)


@dataclass(frozen=True)
class Rubric:
    name: str
    title: str
    student_packages: tuple[str, ...]
    provided: tuple[str, ...]
    instructor_only: tuple[str, ...]
    submission_timeout_s: float
    hidden_cases: int
    items: tuple[Item, ...]
    sha256: str
    datasets: tuple[str, ...] = ("default",)
    cell_timeout_s: float = 60.0  # a notebook cell's limit where no `notebook` item sets one
    notebook_timeout_s: float = 600.0  # a notebook's whole run's, likewise
    dataset_env: str = ""
    data_dir_env: str = ""
    # The fixtures' copy, written by grade-build: its variants carry no edits of the reference
    # (`grader.authoring.public`), so it can grade in student mode only.
    public: bool = False

    @property
    def code_items(self) -> tuple[Item, ...]:
        """Items whose cases run through a probe, in a child or a notebook's kernel."""
        return tuple(i for i in self.items if kinds.get(i.kind).scored_from == "cases")

    @property
    def notebook_items(self) -> tuple[Item, ...]:
        """Items scored from a notebook's run as a whole."""
        return tuple(i for i in self.items if kinds.get(i.kind).scored_from == "notebook_run")

    @property
    def notebooks(self) -> tuple[str, ...]:
        """Every notebook the rubric names, in order of first mention."""
        return tuple(dict.fromkeys(i.notebook for i in self.items if i.notebook))

    @property
    def module_items(self) -> tuple[Item, ...]:
        """Code items about module files, run in a plain child process."""
        return tuple(i for i in self.code_items if not i.notebook)

    @property
    def max_total(self) -> float:
        return sum(i.points for i in self.items)

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)


def _check_keys(table: Mapping[str, Any], allowed: Collection[str], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise RubricError(unknown_key(unknown[0], allowed, where))


def _seconds(table: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise RubricError(f"{where}: {key} must be a positive number of seconds, not {value!r}")
    return float(value)


def _require(table: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise RubricError(f"{where}: missing required key {key!r}")
    return table[key]


def _kind_params(raw: Mapping[str, Any], kind: kinds.Kind, where: str) -> dict[str, Any]:
    """The kind's own keys as written, then as its kind reads them (validated, defaulted)."""
    params: dict[str, Any] = {k: raw[k] for k in kind.keys | {NOTEBOOK_KEY} if k in raw}
    try:
        params.update(kind.parse(raw, where))
    except kinds.KindError as exc:
        raise RubricError(str(exc)) from exc
    return params


def _notebook_item(raw: Mapping[str, Any], default_timeout: float, item_id: str, kind: kinds.Kind) -> Item:
    where = f"item {item_id!r}"
    _require(raw, NOTEBOOK_KEY, where)
    for key in ("variant", "hint"):
        if key in raw:
            raise RubricError(f"{where}: a {kind.name} item cannot have a {key}; its checks say what went wrong")
    params = _kind_params(raw, kind, where)
    points = _require(raw, "points", where)
    return Item(
        id=item_id,
        title=str(raw.get("title", item_id)),
        points=float(points),
        kind=kind.name,
        module="",
        qualname="",
        cases=(),
        tolerance={},
        dims={},
        hidden_dims={},
        timeout_s=float(raw.get("timeout_s", default_timeout)),
        params=params,
        depends=tuple(raw.get("depends", ())),
    )


def _case_self_check(case: Mapping[str, Any], parts: list[str], where: str) -> tuple[str, ...]:
    value = case.get("self_check", [])
    if not isinstance(value, list) or any(p not in parts for p in value):
        raise RubricError(f"{where}: self_check must be a list of the item's parts ({', '.join(parts)})")
    return tuple(value)


def _case_about(case: Mapping[str, Any], where: str) -> str:
    value = case.get("about", "")
    if not isinstance(value, str) or "\n" in value or len(value) > 120:
        raise RubricError(f"{where}: about must be one line of text (at most 120 characters)")
    return value


def _item(raw: Mapping[str, Any], default_timeout: float, public: bool) -> Item:
    where = f"item {raw.get('id', '?')!r}"
    item_id = _require(raw, "id", "an item")
    try:
        kind = kinds.get(_require(raw, "kind", where))
    except kinds.KindError as exc:
        raise RubricError(f"{where}: {exc}") from exc
    _check_keys(raw, {*COMMON_ITEM_KEYS, *kind.keys}, where)
    if kind.scored_from == "notebook_run":
        return _notebook_item(raw, default_timeout, item_id, kind)
    if ":" not in item_id:
        raise RubricError(f"{where}: the id must be '<dotted module>:<qualname>' or '<notebook>:<qualname>'")
    # "module:qualname", or "module:qualname[variant]" when several items grade one function
    # under different conditions (a network with sigmoid, then with ReLU).
    module, qualname = item_id.split(":", 1)
    qualname = qualname.split("[", 1)[0]
    if NOTEBOOK_KEY in raw:  # an object the notebook defines, graded in the notebook's kernel
        if module != (notebook := raw[NOTEBOOK_KEY]):
            raise RubricError(f"{where}: the id of a notebook object must start with its notebook, {notebook!r}")
        module = ""
    written = tuple(_require(raw, "case", where))
    if not written:
        raise RubricError(f"{where}: needs at least one [[item.case]]")
    params = _kind_params(raw, kind, where)
    if "params" in params:  # a function's cases: each key one of its parameters, or about the case
        for number, case in enumerate(written, start=1):
            _check_keys(case, {*params["params"], *CASE_KEYS}, f"{where}, case {number}")
    cases = tuple({k: v for k, v in case.items() if k not in CASE_KEYS} for case in written)
    own = tuple(_case_self_check(case, params["parts"], f"{where}, case {i + 1}") for i, case in enumerate(written))
    about = tuple(_case_about(case, f"{where}, case {i + 1}") for i, case in enumerate(written))
    if "adapter" in raw:
        # Course code that maps a class-based API (layers with .forward/.backward, optimizers
        # with .step()) onto the probe's function contract; called with the student's module.
        if not isinstance(raw["adapter"], str) or raw["adapter"].count(":") != 1:
            raise RubricError(f"{where}: adapter must be 'package.module:function', got {raw['adapter']!r}")
        params["adapter"] = raw["adapter"]
    tol = raw.get("tolerance", 1e-8)
    tolerance = dict(tol) if isinstance(tol, dict) else {p: float(tol) for p in params["parts"]}
    for part, fixed in kind.fixed_tolerance.items():
        tolerance.setdefault(part, fixed)
    missing = [p for p in params["parts"] if p not in tolerance]
    if missing:
        raise RubricError(f"{where}: no tolerance for {missing[0]!r}")
    points = _require(raw, "points", where)
    if not isinstance(points, (int, float)) or points < 0:
        raise RubricError(f"{where}: points must be a non-negative number")
    try:
        variants = read_variants(raw.get("variant"), where, public)
    except VariantError as exc:
        raise RubricError(str(exc)) from exc
    if variants and not module:
        raise RubricError(f"{where}: variants are for module code; a notebook's objects cannot have them yet")
    try:
        hints = read_hints(raw.get("hint"), where, tuple(params["parts"]), len(cases))
    except HintError as exc:
        raise RubricError(str(exc)) from exc
    return Item(
        id=item_id,
        title=str(raw.get("title", qualname)),
        points=float(points),
        kind=kind.name,
        module=module,
        qualname=qualname,
        cases=cases,
        tolerance=tolerance,
        dims=dict(raw.get("dims", {})),
        hidden_dims=dict(raw.get("hidden_dims", {})),
        timeout_s=float(raw.get("timeout_s", default_timeout)),
        params=params,
        modifies=tuple(raw.get("modifies", ())),
        hints=hints,
        case_self_check=own if any(own) else (),
        case_about=about if any(about) else (),
        depends=tuple(raw.get("depends", ())),
        variants=variants,
    )


def _called_through(items: tuple[Item, ...]) -> tuple[Item, ...]:
    """Each item's `depends` followed by what those items depend on, and so on: a network's loss that
    calls `batchnorm_forward` through a helper the rubric names is fed by it as much as by the helper,
    and a bug there is not charged to the loss again (the helper may well pass its own cases)."""
    by_id = {i.id: i for i in items}
    out = []
    for item in items:
        found = list(item.depends)
        for dep in found:  # grows as it goes: breadth first, the item's own list first
            found += [d for d in by_id[dep].depends if d not in found and d != item.id]
        out.append(replace(item, depends=tuple(found)) if len(found) > len(item.depends) else item)
    return tuple(out)


def load(path: Path) -> Rubric:
    """Read and validate a rubric file."""
    data = path.read_bytes()
    try:
        raw = tomllib.loads(data.decode())
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{path}: not valid TOML: {exc}") from exc
    _check_keys(raw, {"assignment", "item"}, str(path))
    head = _require(raw, "assignment", str(path))
    _check_keys(head, ASSIGNMENT_KEYS, f"{path} [assignment]")
    default_timeout = float(head.get("timeout_s", 10))
    public = head.get("public", False)
    if not isinstance(public, bool):
        raise RubricError(f"{path} [assignment]: public must be true or false")
    items = tuple(_item(r, default_timeout, public) for r in _require(raw, "item", str(path)))
    ids = [i.id for i in items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise RubricError(f"{path}: item id {dupes[0]!r} appears twice")
    for item in items:
        unknown = [d for d in item.depends if d not in ids]
        if unknown:
            raise RubricError(f"item {item.id!r}: depends on unknown item {unknown[0]!r}")
    items = _called_through(items)
    return Rubric(
        name=_require(head, "name", f"{path} [assignment]"),
        title=str(head.get("title", head["name"])),
        student_packages=tuple(head.get("student_packages", ())),
        provided=tuple(head.get("provided", ())),
        instructor_only=tuple(head.get("instructor_only", ())),
        submission_timeout_s=float(head.get("submission_timeout_s", 300)),
        hidden_cases=int(head.get("hidden_cases", 2)),
        items=items,
        sha256=hashlib.sha256(data).hexdigest(),
        datasets=tuple(head.get("datasets", ("default",))),
        cell_timeout_s=_seconds(head, "cell_timeout_s", 60.0, f"{path} [assignment]"),
        notebook_timeout_s=_seconds(head, "notebook_timeout_s", 600.0, f"{path} [assignment]"),
        dataset_env=str(head.get("dataset_env", "")),
        data_dir_env=str(head.get("data_dir_env", "")),
        public=public,
    )
