"""The public form of a rubric: what the fixtures (and so every student) may read.

A reference rubric is instructor-only: its variants are edits of the reference (`old` is a line of
the solution). The fixtures get the same rubric marked `public = true`, with each variant's `old`
and `new` left out: student mode needs only the variants' names and what they say (their outputs on
the public cases are in the fixtures), and instructor mode reads the edits from the reference.
The rubric's comments are dropped too: an instructor's note is not for students.
"""

from __future__ import annotations

import tomllib
from typing import Any

import tomli_w

HEADER = (
    "# Written by grade-build from the reference's rubric.toml: its public form (the variants' edits\n"
    "# are left out). Edit the reference's rubric and rebuild; this copy is overwritten.\n\n"
)
SECRET_VARIANT_KEYS = ("old", "new")


def public_rubric(data: bytes) -> bytes:
    """The public form of the rubric file `data` (TOML bytes)."""
    raw: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    raw["assignment"] = {**raw.get("assignment", {}), "public": True}
    for item in raw.get("item", []):
        for variant in item.get("variant", []):
            for key in SECRET_VARIANT_KEYS:
                variant.pop(key, None)
    text = HEADER + tomli_w.dumps(raw, multiline_strings=True)
    if tomllib.loads(text) != raw:  # tomli_w's promise, checked: a rubric that reads back otherwise is not written
        raise ValueError("the public rubric does not read back as written")
    return text.encode("utf-8")
