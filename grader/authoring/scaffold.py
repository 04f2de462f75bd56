"""`grade-build new NAME`: a new assignment that builds and grades at once, to edit into the course's own.

It writes `reference/NAME/` (the course's files with solution regions, one item of every check kind in
a commented `rubric.toml`, a notebook whose locked cells train and save a model, held-out data
under `instructor/`) and one test submission with a known bug (`tests/submissions/NAME_fails_relu_backward/`).
The files are data, here, with `$name` for the assignment's name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template

# The package students write in is the assignment's name; it must be importable.
NAME_RULE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

GRADE_TOML = """\
# Marks this folder as a submission of one assignment, so that `grade .` knows
# which rubric and fixtures to use. Keep this file in your submission.
assignment = "$name"
"""

RUBRIC = """\
# Rubric of $name: what is graded, for how many points and how. Every key is in docs/rubric.md
# of the grader. One item of each check kind; replace them with the course's own. Inputs are
# specifications, never numbers typed by hand: grade-build draws the public cases from them and keeps
# the reference's outputs as fixtures; instructor mode draws more, of other sizes, from the hidden seed.

[assignment]
name = "$name"
title = "A new assignment: layers, an optimizer, a classifier and its training"
student_packages = ["$name"]
# The course's own code: restored before grading, so students cannot change how they are graded.
provided = ["$name/data.py", "$name/grading.py"]
# Never copied to the template or the fixtures.
instructor_only = ["rubric.toml", "instructor"]
timeout_s = 10

# compare: call a function on each case's inputs and compare what it returns with the reference.
[[item]]
id = "$name.layers:relu_forward"
title = "ReLU forward pass"
points = 1
kind = "compare"
params = ["x"]
returns = ["out", "cache"]
compare = ["out"]
tolerance = 1e-9
dims = {N = 4, D = 5}
[[item.case]]
about = "values on both sides of zero"
x = {linspace = [-1.0, 1.0], shape = ["N", "D"]}

# gradient: a backward pass, against the reference and the numerical gradient of the student's own
# forward pass (which tells a wrong backward from a wrong forward).
[[item]]
id = "$name.layers:relu_backward"
title = "ReLU backward pass"
points = 2
kind = "gradient"
forward = "relu_forward"
params = ["x"]
wrt = ["x"]
grads = ["dx"]
tolerance = 1e-8
dims = {N = 4, D = 5}
[[item.case]]
x = {randn = ["N", "D"]}

# optimizer: update steps; the new weights and the state the rule keeps, each credited apart.
[[item]]
id = "$name.layers:sgd_momentum"
title = "SGD with momentum"
points = 2
kind = "optimizer"
state = ["velocity"]
modifies = ["w"]
tolerance = 1e-8
dims = {N = 3, D = 4}
[[item.case]]
about = "three steps from a fresh config: the velocity starts at zero and carries over"
steps = 3
w = {randn = ["N", "D"]}
dw = {randn = ["N", "D"]}
config = {learning_rate = 0.1}

# speedup: a vectorized function against the loop it replaces: the same answers, and faster.
[[item]]
id = "$name.layers:squared_norms"
title = "Squared row norms without a loop"
points = 1
kind = "speedup"
baseline = "squared_norms_loop"
params = ["x"]
returns = ["norms"]
compare = ["norms"]
min_speedup = 3
tolerance = 1e-9
dims = {N = 2000, D = 8}
hidden_dims = {N = [2000, 3000], D = [8, 8]}
[[item.case]]
x = {randn = ["N", "D"]}

# model: one property of a model class; here its loss and gradients (scores at test time too).
[[item]]
id = "$name.net:LinearSoftmax.loss"
title = "Softmax classifier: scores, loss and gradients"
points = 3
kind = "model"
probe = "loss"
tolerance = {scores = 1e-8, loss = 1e-8, grads = 1e-7}
dims = {N = 6, D = 4, C = 3}
[[item.case]]
init = {input_size = {dim = "D"}, num_classes = {dim = "C"}}
params = {W = {randn = ["D", "C"], scale = 0.1}, b = {randn = ["C"], scale = 0.1}}
X = {randn = ["N", "D"]}
y = {randint = "C", shape = ["N"]}
loss_kwargs = {reg = 0.1}

# notebook: the notebook runs top to bottom; its item sets the run's limits.
[[item]]
id = "notebook:train.ipynb:runs"
title = "train.ipynb runs top to bottom"
kind = "notebook"
notebook = "train.ipynb"
points = 1
cell_timeout_s = 60
timeout_s = 300

# The notebook's cells tagged "locked" (its imports and training run) are restored before it runs, as
# the course wrote them; the report flags a submission that changed them.

# threshold: the model the notebook saved, scored on the accuracy the grader measures itself, with
# trusted code, on held-out data (instructor mode) or the public test split (student mode).
[[item]]
id = "threshold:trained"
title = "Trained classifier: accuracy measured by the grader"
kind = "threshold"
notebook = "train.ipynb"
saved = "trained"
scores = "$name.grading:scores"
data = "instructor.heldout:heldout"
public_data = "$name.data:public_test"
points = 2
curve.default = {kind = "linear", zero = 0.5, full = 0.9}

# notebook_value: a number the notebook computes, as the course's own test cell checks it, read in the
# grader's own run right after the locked cell that assigns it. The student's code computes it: prefer
# a threshold where the points matter.
[[item]]
id = "notebook_value:train.ipynb:accuracy"
title = "The notebook's own check: test accuracy at least 0.8"
kind = "notebook_value"
notebook = "train.ipynb"
variable = "accuracy"
at_least = 0.8
points = 1

# manual: a written answer, for a person to grade (merged with --manual-grades).
[[item]]
id = "manual:why_subtract_max"
title = "Inline question: why the scores' maximum is subtracted"
kind = "manual"
notebook = "train.ipynb"
cell = "answer:why_subtract_max"
points = 1
"""

INIT = '"""$name: the code students write."""\n'

LAYERS = '''\
"""Layers and an optimizer. Write your code between the YOUR CODE HERE banners."""

import numpy as np


def relu_forward(x):
    """ReLU on an array of any shape: returns (out, cache)."""
    out = None
    # YOUR CODE HERE
    # BEGIN SOLUTION
    out = np.maximum(x, 0.0)
    # END SOLUTION
    return out, x


def relu_backward(dout, cache):
    """The gradient of relu_forward: dx, of the shape of dout."""
    x = cache
    dx = None
    # YOUR CODE HERE
    # BEGIN SOLUTION
    dx = dout * (x > 0)
    # END SOLUTION
    return dx


def sgd_momentum(w, dw, config=None):
    """One step of SGD with momentum: returns (next_w, config).

    config: learning_rate, momentum (default 0.9), velocity (default zeros like w).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    next_w = None
    # YOUR CODE HERE
    # BEGIN SOLUTION
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    # END SOLUTION
    config["velocity"] = v
    return next_w, config


def squared_norms_loop(x):
    """The squared norm of each row of x (N, D), one row at a time."""
    norms = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            norms[i] += x[i, j] ** 2
    return norms


def squared_norms(x):
    """What squared_norms_loop returns, without a Python loop."""
    norms = None
    # YOUR CODE HERE
    # BEGIN SOLUTION
    norms = np.sum(x * x, axis=1)
    # END SOLUTION
    return norms
'''

NET = '''\
"""A softmax classifier. Write your code between the YOUR CODE HERE banners."""

import numpy as np


class LinearSoftmax:
    """Scores X @ W + b; a softmax loss with L2 regularization on W."""

    def __init__(self, input_size, num_classes, std=1e-2):
        self.params = {"W": std * np.random.randn(input_size, num_classes), "b": np.zeros(num_classes)}

    def loss(self, X, y=None, reg=0.0):
        """Scores (N, C) when y is None; otherwise (loss, grads) with grads a dict like params."""
        W, b = self.params["W"], self.params["b"]
        scores = X.dot(W) + b
        if y is None:
            return scores
        loss, grads = None, {}
        # YOUR CODE HERE
        # BEGIN SOLUTION
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        n = X.shape[0]
        loss = -np.log(probs[np.arange(n), y]).mean() + reg * np.sum(W * W)
        dscores = probs.copy()
        dscores[np.arange(n), y] -= 1
        dscores /= n
        grads = {"W": X.T.dot(dscores) + 2 * reg * W, "b": dscores.sum(axis=0)}
        # END SOLUTION
        return loss, grads
'''

DATA = '''\
"""The assignment's data: three classes of points in four dimensions. Provided: do not edit."""

import numpy as np

CENTRES = np.array([[3.0, 0.0, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])


def points(n, seed):
    """(X (n, 4), y (n,)): points around the three centres, drawn from the seed."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(CENTRES), n)
    return CENTRES[y] + rng.standard_normal((n, 4)), y


def public_train():
    return points(300, 1)


def public_test():
    return points(200, 2)
'''

GRADING = '''\
"""Handing the trained model to the grader. Provided: do not edit.

The grader never believes an accuracy the notebook prints: it loads what is saved here and measures
the accuracy itself, with `scores`.
"""

import os

import numpy as np

OUTPUT_DIR = "grading_outputs"


def save_for_grading(name, model):
    """Save a model's parameters as grading_outputs/<name>.npz."""
    os.makedirs(OUTPUT_DIR, exist_ok=True)
    np.savez(os.path.join(OUTPUT_DIR, name + ".npz"), **{k: np.asarray(v) for k, v in model.params.items()})


def scores(params, X):
    return X.dot(params["W"]) + params["b"]


def check(*items):
    """Grade the named functions of your files as saved, as `grade --only` does, and show the result:
    check("relu_forward"), or check() for all. Save the files you changed first."""
    from grader.notebook_check import check as grade_items

    return grade_items(*items)
'''

HELDOUT = '''\
"""Data the grader measures trained models on, which students never get. Instructor-only."""

from $name.data import points


def heldout():
    return points(500, 9001)
'''

IMPORTS = """\
import numpy as np

from $name.data import public_test, public_train
from $name.grading import save_for_grading
from $name.net import LinearSoftmax"""

TRAINING = """\
X, y = public_train()
np.random.seed(0)
model = LinearSoftmax(X.shape[1], 3)
for step in range(200):
    loss, grads = model.loss(X, y, reg=1e-3)
    for key in model.params:
        model.params[key] -= 0.5 * grads[key]
X_test, y_test = public_test()
accuracy = np.mean(np.argmax(model.loss(X_test), axis=1) == y_test)
print(f"loss {loss:.3f}, test accuracy {accuracy:.2f}")
save_for_grading("trained", model)"""

CHECK = """\
from $name.grading import check

check()  # grades your $name/*.py as saved, as `grade --only` does; check("relu_forward") for one function"""

ANSWER = "**Answer:** softmax is unchanged by a shift of the scores, and without it `exp` overflows for large scores."

# (cell type, source, tags)
CELLS = [
    ("markdown", "# Train a softmax classifier\n\nImplement `$name/net.py` first.", []),
    # Not locked: the student's own check of the functions being written (nothing when graded).
    ("code", CHECK, []),
    # Locked: the course's training run, which students may read but not change (restored by id).
    ("code", IMPORTS, ["locked"]),
    ("code", TRAINING, ["locked"]),
    ("markdown", "**Question:** why does the loss subtract each row's maximum score first?", []),
    ("markdown", ANSWER, ["answer:why_subtract_max"]),
]

BUG = """\
assignment = "$name"
description = "relu_backward passes the gradient where the input is negative too"
loses = ["$name.layers:relu_backward"]
[[replace]]
file = "$name/layers.py"
old = "    dx = dout * (x > 0)\\n"
new = "    dx = dout * (x >= -1)\\n"
"""


def _notebook(name: str) -> str:
    cells = []
    for kind, source, tags in CELLS:
        cell: dict[str, object] = {
            "cell_type": kind,
            "metadata": {"tags": tags} if tags else {},
            "source": Template(source).substitute(name=name),
        }
        if kind == "code":
            cell |= {"execution_count": None, "outputs": []}
        cells.append(cell)
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for index, cell in enumerate(cells):  # nbformat 4.5 cells carry an id
        cell["id"] = f"cell-{index}"
    return json.dumps(nb, indent=1) + "\n"


def files(name: str) -> dict[str, str]:
    """Every file of the new assignment, relative to the course folder."""
    ref = f"reference/{name}"
    texts = {
        f"{ref}/grade.toml": GRADE_TOML,
        f"{ref}/rubric.toml": RUBRIC,
        f"{ref}/{name}/__init__.py": INIT,
        f"{ref}/{name}/layers.py": LAYERS,
        f"{ref}/{name}/net.py": NET,
        f"{ref}/{name}/data.py": DATA,
        f"{ref}/{name}/grading.py": GRADING,
        f"{ref}/instructor/heldout.py": HELDOUT,
        f"tests/submissions/{name}_fails_relu_backward/bug.toml": BUG,
    }
    out = {path: Template(text).substitute(name=name) for path, text in texts.items()}
    out[f"{ref}/train.ipynb"] = _notebook(name)
    return out


def write(course: Path, name: str) -> list[Path]:
    """Write the new assignment into the course folder; raises ValueError for a name that cannot be a
    package or an assignment that exists, before writing anything."""
    if not NAME_RULE.match(name):
        raise ValueError(
            f"{name!r} cannot name an assignment: it becomes the package students write in, so use lower-case "
            "letters, digits and _ (starting with a letter, at most 40)"
        )
    if (course / "reference" / name).exists():
        raise ValueError(f"{course / 'reference' / name} exists; choose another name or remove it first")
    texts = {course / rel: text for rel, text in files(name).items()}
    for path in texts:
        if path.exists():
            raise ValueError(f"{path} exists; choose another name or remove it first")
    for path, text in texts.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(texts)
