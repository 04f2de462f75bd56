"""The rubric format's documentation is written from the keys' own definitions and cannot drift from
them; its example is a rubric the grader reads; a misspelt key is named with the one meant."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import toy_rubric
from conftest import ROOT

from grader import kinds, rubric
from grader.authoring import rubric_docs

DOCS = ROOT / "docs" / "rubric.md"


def test_docs_rubric_md_is_what_the_definitions_write() -> None:
    assert DOCS.read_text(encoding="utf-8") == rubric_docs.render(), (
        "docs/rubric.md is stale: run `python -m grader.authoring.rubric_docs docs/rubric.md`"
    )


def test_every_key_a_rubric_may_hold_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, re.MULTILINE))
    every = {*rubric.ASSIGNMENT_KEYS, *rubric.COMMON_ITEM_KEYS, *rubric.CASE_KEYS}
    for name in kinds.names():
        every |= kinds.get(name).keys
    assert every <= documented
    for name in kinds.names():
        assert f"### `{name}`" in text


def test_the_docs_example_is_a_rubric_the_grader_reads(tmp_path: Path) -> None:
    example = re.search(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert example is not None
    (tmp_path / "rubric.toml").write_text(example.group(1))
    loaded = rubric.load(tmp_path / "rubric.toml")
    assert [(i.id, i.kind, i.parts) for i in loaded.items] == [("nndl.layers:affine_forward", "compare", ("out",))]


def test_a_kind_key_without_a_description_cannot_be_documented() -> None:
    class Bare(kinds.Kind):
        name = "bare"

        class Spec(kinds.base.Keys):
            size: int = 1

    with pytest.raises(ValueError, match="kind 'bare': key 'size' has no Annotated description"):
        rubric_docs.kind_keys(Bare())


@pytest.mark.parametrize(
    "keys, cases, message",
    [
        ("tolerence = 1e-9", ("x = {randn = [2]}",), "unknown key 'tolerence'; did you mean 'tolerance'?"),
        ("retruns = []", ("x = {randn = [2]}",), "unknown key 'retruns'; did you mean 'returns'?"),
        ('hint = [{txt = "a"}]', ("x = {randn = [2]}",), "hint 1: unknown key 'txt'; did you mean 'text'?"),
        ("", ('x = {randn = [2]}\nabout = "a"\nself_chek = []',), "unknown key 'self_chek'"),
    ],
)
def test_a_misspelt_key_is_named_with_the_closest_known_one(
    tmp_path: Path, keys: str, cases: tuple[str, ...], message: str
) -> None:
    path = toy_rubric.write(tmp_path, keys=keys, cases=cases)
    with pytest.raises(rubric.RubricError, match=re.escape(message)):
        rubric.load(path)


def test_a_misspelt_assignment_key_is_named_with_the_closest_known_one(tmp_path: Path) -> None:
    path = toy_rubric.write(tmp_path)
    path.write_text(path.read_text().replace('name = "toy"', 'name = "toy"\nsubmission_timeout = 60'))
    with pytest.raises(rubric.RubricError, match=re.escape("did you mean 'submission_timeout_s'?")):
        rubric.load(path)
