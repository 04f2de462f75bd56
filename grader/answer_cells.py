"""Inline questions in notebooks: the markdown cell tagged `answer:<name>` holds a student's answer.

The template puts `ANSWER_PLACEHOLDER` in each such cell; the grader reads the cell back and
treats the placeholder as unanswered.
"""

from __future__ import annotations

from typing import Any

ANSWER_TAG_PREFIX = "answer:"
ANSWER_PLACEHOLDER = "**Answer:** _Write your answer here._"


def answer_tag(cell: dict[str, Any]) -> str | None:
    """The `answer:<name>` tag of a markdown cell, if it has one."""
    for tag in cell.get("metadata", {}).get("tags", []):
        if isinstance(tag, str) and tag.startswith(ANSWER_TAG_PREFIX):
            return tag
    return None
