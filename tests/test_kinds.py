"""Check kinds have one home each: no kind is named outside its module and the registry, and a kind
written in a test file grades a submission end to end without a change to `grader/`."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from conftest import ROOT

from grader import kinds
from grader.authoring import cli
from grader.compare import Mismatch
from grader.engine import grade, load_assignment
from grader.kinds.base import Kind, KindError
from grader.options import GradeOptions
from grader.project import Layout
from grader.rubric import Item, RubricError, load

GRADER = ROOT / "grader"


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _compared_attribute(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str | None:
    """The attribute a constant is compared with (`x.status == "manual"` -> "status"), if any."""
    parent = parents.get(node)
    if isinstance(parent, (ast.Tuple, ast.List, ast.Set)):
        parent = parents.get(parent)
    if isinstance(parent, ast.Compare):
        for side in (parent.left, *parent.comparators):
            if isinstance(side, ast.Attribute):
                return side.attr
            if isinstance(side, ast.Subscript) and isinstance(side.slice, ast.Constant):
                return str(side.slice.value)
    return None


def _is_item_kind(node: ast.AST) -> bool:
    """`item.kind`, not a numpy `dtype.kind` ("f", "iu")."""
    if not (isinstance(node, ast.Attribute) and node.attr == "kind"):
        return False
    owner = node.value
    return not (isinstance(owner, ast.Attribute) and owner.attr == "dtype") and not (
        isinstance(owner, ast.Name) and owner.id == "dtype"
    )


def kind_names_outside_kinds() -> Iterator[str]:
    """Every place outside grader/kinds/ that names a kind, except the two words that also name
    something else: the rubric key `notebook` (defined once, in rubric.py) and the status `manual`
    (defined in results.Status, compared with an item's status)."""
    names = set(kinds.names())
    for path in sorted(GRADER.rglob("*.py")):
        if "kinds" in path.relative_to(GRADER).parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        parents = _parents(tree)
        rel = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(_is_item_kind(side) for side in (node.left, *node.comparators)):
                yield f"{rel}:{node.lineno}: compares an item's kind"
            if not (isinstance(node, ast.Constant) and node.value in names):
                continue
            parent = parents.get(node)
            if node.value == "notebook" and isinstance(parent, ast.Assign) and rel == Path("grader/rubric.py"):
                continue  # NOTEBOOK_KEY, the key naming an item's notebook
            if node.value == "manual" and (
                rel == Path("grader/results.py") or _compared_attribute(node, parents) == "status"
            ):
                continue
            yield f"{rel}:{node.lineno}: names the kind {node.value!r}"


def test_no_kind_is_named_outside_its_module_and_the_registry() -> None:
    assert list(kind_names_outside_kinds()) == []


def test_the_scan_finds_a_kind_named_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a branch on a kind, written where it used to be, is found."""
    fake = tmp_path / "grader"
    (fake / "kinds").mkdir(parents=True)
    (fake / "scoring.py").write_text('def f(item):\n    if item.kind == "speedup":\n        return 1\n')
    monkeypatch.setattr(sys.modules[__name__], "GRADER", fake)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert list(kind_names_outside_kinds()) == [
        "grader/scoring.py:2: compares an item's kind",
        "grader/scoring.py:2: names the kind 'speedup'",
    ]


class WithinPercent(Kind):
    """A toy kind: a function's output is right when within `within_percent` of the reference's,
    judged entry by entry; it reuses the `compare` kind's probe (call the function)."""

    name = "within_percent"
    keys: ClassVar[frozenset[str]] = frozenset({"params", "returns", "within_percent"})

    def parse(self, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        percent = raw.get("within_percent")
        if not isinstance(percent, (int, float)) or percent <= 0:
            raise KindError(f"{where}: within_percent must be a positive number")
        returns = list(raw.get("returns", ["out"]))
        return {"returns": returns, "compare": returns, "parts": returns}

    def probe(self, item: Item) -> str:
        return "compare:call"

    def compare_part(self, item: Item, part: str, got: Any, want: Any) -> Mismatch | None:
        if got is None or np.shape(got) != np.shape(want):
            return Mismatch("shape", f"{part} has shape {np.shape(got)}; expected {np.shape(want)}")
        off = float(np.max(np.abs(np.asarray(got) - want) / np.maximum(np.abs(want), 1e-12)))
        limit = float(item.params["within_percent"]) / 100
        if off > limit:
            return Mismatch("value", f"{part} is {off:.0%} away from the expected value (at most {limit:.0%})")
        return None


TOY_RUBRIC = """
[assignment]
name = "toy"
student_packages = ["toy"]
instructor_only = ["rubric.toml"]
hidden_cases = 2

[[item]]
id = "toy.ops:softplus"
points = 3
kind = "within_percent"
within_percent = 10
params = ["x"]
dims = {N = 3, D = 4}
hidden_dims = {N = [2, 6], D = [3, 7]}
[[item.case]]
x = {randn = ["N", "D"]}
"""

TOY_REFERENCE = '''import numpy as np


def softplus(x):
    """log(1 + exp(x)), entry by entry."""
    # BEGIN SOLUTION
    return np.logaddexp(0, x)
    # END SOLUTION
'''


@pytest.fixture
def toy_kind() -> Iterator[None]:
    kinds.register(WithinPercent())
    yield
    kinds.unregister(WithinPercent.name)


@pytest.fixture
def toy_project(tmp_path: Path, toy_kind: None) -> Layout:
    layout = Layout(tmp_path / "course", "toy")
    (layout.reference / "toy").mkdir(parents=True)
    (layout.reference / "rubric.toml").write_text(TOY_RUBRIC)
    (layout.reference / "toy" / "__init__.py").write_text("")
    (layout.reference / "toy" / "ops.py").write_text(TOY_REFERENCE)
    template_files, fixture_files = cli.build(layout)
    cli.write_tree(layout.template, template_files)
    cli.write_tree(layout.fixtures, fixture_files)
    return layout


def _submission(root: Path, name: str, body: str) -> Path:
    folder = root / "submissions" / name
    (folder / "toy").mkdir(parents=True)
    (folder / "toy" / "__init__.py").write_text("")
    (folder / "toy" / "ops.py").write_text(f"import numpy as np\n\n\ndef softplus(x):\n    {body}\n")
    return folder


@pytest.mark.parametrize("mode", ["student", "instructor"])
def test_a_kind_from_a_test_file_grades_end_to_end(toy_project: Layout, tmp_path: Path, mode: str) -> None:
    reference = toy_project.reference if mode == "instructor" else None
    assignment = load_assignment(toy_project.fixtures, reference)
    seed = "toy-seed" if mode == "instructor" else None

    def points(folder: Path) -> tuple[float, str, str]:
        item = grade(folder, assignment, GradeOptions(hidden_seed=seed)).items[0]
        return item.points, item.status, item.message

    assert points(toy_project.reference) == (3.0, "pass", "")
    assert points(toy_project.template)[1] == "not_attempted"
    # A different formula for the same function: within the kind's 10 %, so full marks.
    assert points(_submission(tmp_path, "series", "return np.log1p(np.exp(x)) * 1.05"))[:2] == (3.0, "pass")
    got, status, message = points(_submission(tmp_path, "relu", "return np.maximum(x, 0) * 0.5 + 0.1"))
    assert (got, status) == (0.0, "fail")
    assert message.startswith("public case 1: out is ") and "from the expected value (at most 10%)" in message


def test_a_kind_checks_its_own_keys(tmp_path: Path, toy_kind: None) -> None:
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(TOY_RUBRIC.replace("within_percent = 10", "within_percent = -1"))
    wrong = re.escape("item 'toy.ops:softplus': within_percent must be a positive number")
    with pytest.raises(RubricError, match=wrong):
        load(rubric)
    rubric.write_text(TOY_RUBRIC.replace("within_percent = 10", "within_percnt = 10"))
    with pytest.raises(RubricError, match="unknown key 'within_percnt'"):
        load(rubric)
    kinds.unregister(WithinPercent.name)
    rubric.write_text(TOY_RUBRIC)
    with pytest.raises(RubricError, match="kind 'within_percent' is not one of compare, gradient"):
        load(rubric)
    kinds.register(WithinPercent())


def test_the_registry_refuses_a_second_kind_of_one_name() -> None:
    with pytest.raises(KindError, match="kind 'gradient' exists already"):
        kinds.register(type("Again", (Kind,), {"name": "gradient"})())


def test_a_child_imports_probes_of_built_in_kinds_only() -> None:
    assert kinds.probe("compare:call").__name__ == "call"
    with pytest.raises(KindError, match="no built-in kind 'os' has probes"):
        kinds.probe("os:system")
    with pytest.raises(KindError, match="kind 'model' has no probe 'fit'"):
        kinds.probe("model:fit")


def test_every_built_in_kind_keeps_its_rubric_keys_to_itself() -> None:
    """A key common to every item is never also a kind's own key (one meaning per key)."""
    from grader.rubric import COMMON_ITEM_KEYS

    for name in kinds.names():
        assert not kinds.get(name).keys & set(COMMON_ITEM_KEYS), name


def test_the_registry_knows_which_built_in_kinds_have_probes() -> None:
    """A child imports the kinds with probes only; a kind whose probes it missed could not be run."""
    import importlib

    from grader.kinds import _BUILT_IN, _WITH_PROBES

    for name in _BUILT_IN:
        module = importlib.import_module(f"grader.kinds.{name}")
        assert (name in _WITH_PROBES) == hasattr(module, "PROBES"), name


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("min_speedup", '"fast"', "min_speedup must be a number, got 'fast'"),
        ("repeats", "2.5", "repeats must be a whole number, got 2.5"),
        ("compare", '"loss"', "compare must be a list of strings, got 'loss'"),
        ("baseline", "3", "baseline must be a string, got 3"),
    ],
)
def test_a_kinds_keys_are_read_as_their_types(tmp_path: Path, key: str, value: str, says: str) -> None:
    """Each built-in kind declares its keys as a typed dataclass; a value of the wrong type is refused
    when the rubric is loaded, naming the item, the key and the value."""
    keys = {
        "params": '["X", "y"]',
        "returns": '["loss"]',
        "compare": '["loss"]',
        "baseline": '"loss_naive"',
        "min_speedup": "5",
        "repeats": "3",
    }
    keys[key] = value
    body = "\n".join(f"{k} = {v}" for k, v in keys.items())
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(
        '[assignment]\nname = "t"\n\n[[item]]\nid = "m:loss_fast"\npoints = 1\nkind = "speedup"\n'
        f"{body}\n[[item.case]]\nX = {{randn = [2, 3]}}\n"
    )
    with pytest.raises(RubricError, match=re.escape(f"item 'm:loss_fast': {says}")):
        load(rubric)
    keys[key] = {"min_speedup": "5", "repeats": "3", "compare": '["loss"]', "baseline": '"loss_naive"'}[key]
    rubric.write_text(rubric.read_text().replace(f"{key} = {value}", f"{key} = {keys[key]}"))
    assert load(rubric).items[0].params["spec"].min_speedup == 5.0


def test_a_required_key_left_out_is_named(tmp_path: Path) -> None:
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(
        '[assignment]\nname = "t"\n\n[[item]]\nid = "m:f_backward"\npoints = 1\nkind = "gradient"\n'
        'params = ["x"]\nwrt = ["x"]\ngrads = ["dx"]\n[[item.case]]\nx = {randn = [2]}\n'
    )
    with pytest.raises(RubricError, match=re.escape("item 'm:f_backward': missing required key 'forward'")):
        load(rubric)
