"""`docs/rubric.md`, written from the keys' own definitions so that it cannot drift from them: the
assignment's and every item's keys (`grader.rubric`), each check kind's (its `Spec`), the input forms
(`grader.inputs`), hints, variants and accuracy curves. A test compares the committed file with this.

python -m grader.authoring.rubric_docs docs/rubric.md
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

from grader import hints, inputs, kinds, rubric, variants
from grader.kinds.base import keys_type
from grader.kinds.threshold import CURVE_KEYS
from grader.tables import Key

INTRO = """\
# The rubric format

<!-- Written by `python -m grader.authoring.rubric_docs docs/rubric.md` from the keys' definitions
in `grader/`; a test fails when this file differs from what it writes. Edit the definitions. -->

`reference/<assignment>/rubric.toml` says what is graded, for how many points and how. It is data:
`grade-build` and `grade` read it, an unknown key is an error naming the closest known one, and
nothing in the grader knows an assignment by name. `reference/*/rubric.toml` are full examples.

```toml
[assignment]
name = "nndl"
timeout_s = 10

[[item]]
id = "nndl.layers:affine_forward"
points = 2
kind = "compare"
params = ["x", "w", "b"]
returns = ["out", "cache"]
compare = ["out"]
tolerance = 1e-9
dims = {N = 2, D = 12, M = 3}
[[item.case]]
x = {linspace = [-0.1, 0.5], shape = ["N", "D"]}
w = {linspace = [-0.2, 0.3], shape = ["D", "M"]}
b = {linspace = [-0.3, 0.1], shape = ["M"]}
```
"""


def _toml_type(hint: Any) -> str:
    """A Python annotation of a kind's key as the TOML a rubric writes."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        return _toml_type(args[0])
    if origin is Union or origin is types.UnionType:
        return " or ".join(_toml_type(a) for a in args if a is not type(None))
    if origin is tuple or origin is list:
        return f"array of {_toml_type(args[0])}s"
    if origin is dict or hint is dict:
        return "table"
    return {str: "string", int: "integer", float: "float", bool: "boolean"}.get(hint, "any")


def _default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "[]" if not value else str(list(value))
    return repr(value) if isinstance(value, str) else str(value)


def kind_keys(kind: kinds.Kind) -> dict[str, Key]:
    """A kind's own keys, documented from its Spec: each field's type, default and `Annotated` text
    (a second text, where there is one, is the default as the docs state it)."""
    spec: Any = keys_type(kind.Spec)
    annotated = get_type_hints(spec, include_extras=True)
    found = {}
    for f in fields(spec):
        hint = annotated[f.name]
        extras = get_args(hint)[1:] if get_origin(hint) is Annotated else ()
        if not extras:
            raise ValueError(f"kind {kind.name!r}: key {f.name!r} has no Annotated description")
        default = "required" if f.default is MISSING and f.default_factory is MISSING else _default(f.default)
        # A second text, where the kind fills the key in itself when it is absent, says with what.
        found[f.name] = Key(_toml_type(hint), extras[1] if len(extras) > 1 else default, extras[0])
    return found


def _table(keys: Mapping[str, Key]) -> list[str]:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{name}` | {k.type} | {k.default} | {k.about} |" for name, k in keys.items()]
    return [*rows, ""]


def render() -> str:
    """The whole of docs/rubric.md."""
    out = [INTRO, "## `[assignment]`", "", *_table(rubric.ASSIGNMENT_KEYS)]
    out += ["## `[[item]]`: the keys of every item", "", *_table(rubric.COMMON_ITEM_KEYS)]
    out += ["## Check kinds: each kind's own keys", ""]
    for name in kinds.names():
        kind = kinds.get(name)
        doc = (sys.modules[type(kind).__module__].__doc__ or "").split("\n\n")[0]
        scored = (
            "Its cases run in a child (or, for an object a notebook defines, in the notebook's kernel)."
            if kind.scored_from == "cases"
            else "Scored from a run of the whole notebook."
        )
        out += [f"### `{name}`", "", " ".join(doc.split()), "", scored, ""]
        keys = kind_keys(kind)
        out += _table(keys) if keys else ["No keys of its own.", ""]
    out += [
        "## `[[item.case]]`: a public case",
        "",
        "Each of the function's parameters is a key whose value is an input form below (or a plain value, or a",
        "table of them); hidden cases are drawn from the same forms with other sizes. Besides them:",
        "",
        *_table(rubric.CASE_KEYS),
        "### Input forms",
        "",
        'SHAPE is a list of sizes or dimension names (`dims`), or products of names (`"A*B"`). Besides the keys',
        "its form shows, any array form takes `reshape = SHAPE` and then `transpose = true` (or a list of axes):",
        "a course's own `np.linspace(-0.1, 0.5, num=D*N).reshape(D, N).T` is",
        '`{linspace = [-0.1, 0.5], shape = ["D", "N"], transpose = true}`. Hidden cases draw other sizes, from',
        "`hidden_dims` where the item gives them (by default half to twice the public size, never below 2 for a",
        "size of 2 or more); bound a dimension there when its size matters. A case holding a literal `array`",
        "keeps the public sizes in its hidden draws (the literal fixes them) and draws its other inputs anew.",
        "",
        "| form | gives |",
        "|---|---|",
        *[f"| `{written}` | {gives} |" for written, gives in inputs.FORMS.values()],
        "",
        "## `[[item.hint]]`",
        "",
        'Or `hint = "text"` for a hint shown on any wrong value.',
        "",
        *_table(hints.KEYS),
        "## `[[item.variant]]`",
        "",
        "An accepted alternative or a known mistake, as an edit of the reference that `grade-build` runs.",
        "",
        *_table(variants.KEYS),
        "## Accuracy curves (`curve` of a `threshold` item)",
        "",
        *_table(CURVE_KEYS),
    ]
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m grader.authoring.rubric_docs docs/rubric.md", file=sys.stderr)
        return 2
    Path(args[0]).write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
