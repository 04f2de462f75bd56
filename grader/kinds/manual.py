"""`manual`: a written answer, left for a person. The answer goes into the report; the points stay
empty until a TA's grades are merged (`--manual-grades`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from grader.kinds.base import Keys, Kind, item_result

if TYPE_CHECKING:
    from grader.kinds.context import NotebookContext
    from grader.results import ItemResult
    from grader.rubric import Item


def answer_text(notebook_source: str | None, tag: str) -> str | None:
    """The student's answer in the markdown cell tagged `tag`; None when absent or left as the placeholder."""
    if notebook_source is None:
        return None
    import nbformat  # the parent's only, as below: a child imports this module but never calls it

    from grader.answer_cells import ANSWER_PLACEHOLDER, answer_tag

    try:
        nb = nbformat.reads(notebook_source, as_version=4)
    except Exception:  # noqa: BLE001 - a corrupt notebook has no answers to read
        return None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and answer_tag(cell) == tag:
            text = str(cell.source).strip()
            if not text or text == ANSWER_PLACEHOLDER:
                return None
            return text
    return None


def score_manual(item: Item, answer: str | None) -> ItemResult:
    from grader.manual import ANSWER_INTRO  # the parent's only, as above

    if answer is None:
        return item_result(item, 0.0, "manual", "unanswered")
    return item_result(item, 0.0, "manual", f"{ANSWER_INTRO}{answer[:4000]}")


class ManualKeys(Keys):
    cell: Annotated[str, 'the tag of the markdown cell that holds the answer (`"answer:q1"`)']


class Manual(Kind):
    name = "manual"
    Spec = ManualKeys
    scored_from = "notebook_run"
    needs_kernel = False  # the answer is read from the file, run or not

    def score_notebook(self, items: Sequence[Item], context: NotebookContext) -> list[ItemResult]:
        from grader.notebooks import MAX_NOTEBOOK_BYTES
        from grader.untrusted import read_file

        results = []
        for item in items:
            try:
                source = read_file(context.original / item.notebook, MAX_NOTEBOOK_BYTES)
                text: str | None = source.decode("utf-8", errors="replace")
            except OSError:
                text = None
            results.append(score_manual(item, answer_text(text, item.params["cell"])))
        return results


KIND = Manual()
