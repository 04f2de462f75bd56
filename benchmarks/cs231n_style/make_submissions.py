"""Writes the 20 student notebooks of the CS231n-style assignment: what a class hands in.

    python benchmarks/cs231n_style/make_submissions.py OUT

Each student is the reference notebook with the solution markers gone (what a student who wrote the
code hands in), changed by the edits below: correct work written another way, the course's common
mistakes, a half-finished notebook, an untouched one, an infinite loop and a cell that does not parse.
Each student's `points` is the score a careful TA gives out of 10 in instructor mode, and why; the
benchmark prints the grader's and nbgrader's scores beside it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference" / "twolayer" / "two_layer.ipynb"
NOTEBOOK = "two_layer.ipynb"
AFFINE = "    out = x.reshape(x.shape[0], -1).dot(w) + b\n"
RELU = "    out = np.maximum(0, x)\n"
SHIFT = "    shifted = x - np.max(x, axis=1, keepdims=True)\n"
AVERAGE = "    dx /= N\n"
REG_LOSS = "        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))\n"
REG_W2 = '        grads["W2"] = hidden.T.dot(dscores) + self.reg * W2\n'
STEP = "            model.params[name] -= learning_rate * grads[name]\n"
TEST = "assert rel_error(out, correct_out) < 1e-7"

LOOP = (
    "    rows = x.reshape(x.shape[0], -1)\n    out = np.zeros((x.shape[0], w.shape[1]))\n"
    "    for i in range(x.shape[0]):\n        out[i] = rows[i].dot(w) + b\n"
)
NO_BIAS = "    out = x.reshape(x.shape[0], -1).dot(w)\n"
LOGSUMEXP = "    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))\n"


@dataclass(frozen=True)
class Student:
    """What a student changed (cell id -> [(old, new)], once each), and the points a careful TA gives
    out of 10 in instructor mode, with why."""

    edits: dict[str, list[tuple[str, str]]]
    points: float
    why: str
    added_cell: str = ""  # a cell of the student's own, at the end


CORRECT = Student({}, 10, "the reference's code")
STUDENTS = {
    "s01_correct": CORRECT,
    "s02_matmul": Student(
        {
            "affine-forward": [(AFFINE, "    out = x.reshape(len(x), -1) @ w + b\n")],
            "relu-forward": [(RELU, "    out = x * (x > 0)\n")],
        },
        10,
        "correct, written another way",
    ),
    "s03_loops": Student({"affine-forward": [(AFFINE, LOOP)]}, 10, "correct, with a loop over the examples"),
    "s04_logsumexp": Student(
        {"softmax-loss": [(LOGSUMEXP, "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1))[:, None]\n")]},
        10,
        "correct, written another way",
    ),
    "s05_correct": CORRECT,
    "s06_correct": CORRECT,
    "s07_correct": CORRECT,
    "s08_correct": CORRECT,
    "s09_affine_without_bias": Student(
        {"affine-forward": [(AFFINE, NO_BIAS)]},
        6,
        "affine_forward (2), and the training (2): without biases the network cannot fit the spiral; the "
        "network's loss is right for its own affine_forward",
    ),
    "s10_softmax_without_shift": Student(
        {"softmax-loss": [(SHIFT, "    shifted = x\n")]}, 8, "softmax_loss: scores near 1000 overflow"
    ),
    "s11_gradient_not_averaged": Student(
        {"softmax-loss": [(AVERAGE, "")]},
        7,
        "softmax_loss's gradient (1 of its 2 points), and the training, whose steps are N times too long; "
        "the network's gradients are right for its own softmax_loss",
    ),
    "s12_reg_without_half": Student(
        {"two-layer-net": [(REG_LOSS, REG_LOSS.replace("0.5 * ", ""))]}, 9, "the network's regularized loss"
    ),
    "s13_reg_missing_on_w2": Student(
        {"two-layer-net": [(REG_W2, REG_W2.replace(" + self.reg * W2", ""))]},
        9,
        "the network's gradients (W2 without its regularization)",
    ),
    "s14_train_never_steps": Student(
        {"train": [(STEP, "            pass\n")], "test-train": [("assert train_acc >= 0.85", "train_acc = 0.99")]},
        8,
        "the training: the accuracy written into the locked cell, and again in a cell after it, is not what "
        "the grader reads (the cell is put back, and flagged)",
        added_cell="train_acc = 1.0",
    ),
    "s15_train_climbs": Student({"train": [(STEP, STEP.replace("-=", "+="))]}, 8, "the training"),
    "s16_untouched": Student({}, 0, "the template, handed in as it was"),
    "s17_half_done": Student({}, 3, "affine_forward and relu_forward written, the rest left as the template's"),
    "s18_infinite_loop": Student(
        {"relu-forward": [(RELU, "    while True:\n        pass\n")]},
        4,
        "relu_forward never returns (its cells are interrupted), so neither does the network that calls it",
    ),
    "s19_syntax_error": Student(
        {"softmax-loss": [(SHIFT, "    shifted = x - np.max(x, axis=1, keepdims=True\n")]},
        3,
        "softmax_loss's cell does not parse, so the network that calls it cannot run",
    ),
    "s20_edits_a_locked_test": Student(
        {"affine-forward": [(AFFINE, NO_BIAS)], "test-affine-forward": [(TEST, "assert True")]},
        6,
        "as s09; the edited test cell is put back, and flagged",
    ),
}


def _without_markers(source: str) -> str:
    return "".join(line for line in source.splitlines(keepends=True) if "### BEGIN SOLUTION" not in line
                   and "### END SOLUTION" not in line)  # fmt: skip


def _stubbed(source: str) -> str:
    """A solution cell as the template has it: each region replaced by nbgrader's stub."""
    out, inside = [], False
    for line in source.splitlines(keepends=True):
        if "### BEGIN SOLUTION" in line:
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE\n", f"{indent}raise NotImplementedError()\n"]
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif not inside:
            out.append(line)
    return "".join(out)


def notebook(name: str) -> dict[str, object]:
    nb = json.loads(REFERENCE.read_text(encoding="utf-8"))
    edits = STUDENTS[name].edits
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        solution = cell["metadata"].get("nbgrader", {}).get("solution", False)
        if solution and (name == "s16_untouched" or (name == "s17_half_done" and cell["id"] not in
                                                     ("affine-forward", "relu-forward"))):  # fmt: skip
            source = _stubbed(source)
        source = _without_markers(source)
        for old, new in edits.get(cell["id"], []):
            if source.count(old) != 1:
                raise SystemExit(f"{name}: {old!r} is not once in cell {cell['id']}")
            source = source.replace(old, new)
        cell["source"] = source.splitlines(keepends=True)
    if STUDENTS[name].added_cell:
        added = {"cell_type": "code", "execution_count": None, "id": "own-cell", "metadata": {}, "outputs": []}
        nb["cells"].append({**added, "source": STUDENTS[name].added_cell.splitlines(keepends=True)})
    return nb


def write(out: Path) -> list[Path]:
    """Every student's folder under `out`: the notebook, and grade.toml naming the assignment."""
    folders = []
    for name in STUDENTS:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / NOTEBOOK).write_text(json.dumps(notebook(name), indent=1) + "\n", encoding="utf-8")
        (folder / "grade.toml").write_text('assignment = "twolayer"\n', encoding="utf-8")
        folders.append(folder)
    return folders


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(f"{len(write(Path(sys.argv[1])))} submissions written to {sys.argv[1]}")
