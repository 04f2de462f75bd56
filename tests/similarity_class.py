"""A class of cs260 submissions written independently, and one planted copy, for the similarity tests.

Each student fills the template's solution regions with code drawn from the ways students write
these functions: every statement has its own alternatives (loops or vectorized, `.dot`, `@` or
`np.dot`, an intermediate or not, the order of independent lines), drawn afresh per student, so
two independent students share the common idioms but not whole functions. The copy takes one
student's code, renames every local name, rewrites the comments and puts the functions of each
file in another order: what a student does to hide a copy.
"""

from __future__ import annotations

import ast
import random
import re
import shutil
from pathlib import Path

from conftest import ROOT

TEMPLATE = ROOT / "student_template" / "cs260"
START = "# *****START OF YOUR CODE"
# A statement of a region: one string, or a tuple of alternatives (each may span lines, or be empty).
Line = str | tuple[str, ...]

REGIONS: dict[str, list[list[Line]]] = {
    "cs260/layers.py": [
        [  # affine_forward
            (
                "out = x.reshape(x.shape[0], -1).dot(w) + b",
                "N = x.shape[0]\nx_rows = x.reshape(N, -1)\nout = x_rows @ w + b",
                "x2d = np.reshape(x, (x.shape[0], np.prod(x.shape[1:])))\nout = np.dot(x2d, w) + b",
                "flat = x.reshape(len(x), -1)\nout = np.matmul(flat, w)\nout += b[np.newaxis, :]",
            ),
        ],
        [  # affine_backward
            (
                "N = x.shape[0]\nx_flat = x.reshape(N, -1)",
                "x_flat = np.reshape(x, (x.shape[0], -1))",
                "x_flat = x.reshape(len(x), np.prod(x.shape[1:]))",
            ),
            (
                "dx = dout.dot(w.T).reshape(x.shape)",
                "dx = np.reshape(dout @ w.T, x.shape)",
                "dx_flat = np.dot(dout, w.transpose())\ndx = dx_flat.reshape(*x.shape)",
            ),
            ("dw = x_flat.T.dot(dout)", "dw = x_flat.T @ dout", "dw = np.dot(x_flat.transpose(), dout)"),
            ("db = dout.sum(axis=0)", "db = np.sum(dout, axis=0)", "db = np.sum(dout, 0)"),
        ],
        [  # relu_forward
            ("out = np.maximum(0, x)", "out = x * (x > 0)", "out = np.where(x > 0, x, 0)", "out = x.clip(min=0)"),
        ],
        [  # relu_backward
            (
                "dx = dout * (x > 0)",
                "dx = np.where(x > 0, dout, 0)",
                "mask = x > 0\ndx = dout * mask",
                "dx = dout.copy()\ndx[x <= 0] = 0",
            ),
        ],
        [  # softmax_loss
            ("N = x.shape[0]", "N = len(y)", "num = x.shape[0]\nN = num"),
            (
                "shifted = x - np.max(x, axis=1, keepdims=True)",
                "shifted = x - x.max(axis=1)[:, None]",
                "shifted = x - np.amax(x, axis=1).reshape(-1, 1)",
            ),
            (
                "exps = np.exp(shifted)\nprobs = exps / np.sum(exps, axis=1, keepdims=True)",
                "probs = np.exp(shifted)\nprobs /= probs.sum(axis=1, keepdims=True)",
                (
                    "log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))\n"
                    "probs = np.exp(log_probs)"
                ),
            ),
            (
                "loss = -np.sum(np.log(probs[np.arange(N), y])) / N",
                "correct = probs[range(N), y]\nloss = -np.mean(np.log(correct))",
                "loss = 0.0\nfor i in range(N):\n    loss -= np.log(probs[i, y[i]])\nloss /= N",
            ),
            (
                "dx = probs.copy()\ndx[np.arange(N), y] -= 1\ndx /= N",
                "onehot = np.zeros_like(probs)\nonehot[np.arange(N), y] = 1\ndx = (probs - onehot) / N",
                "dx = probs\ndx[range(N), y] = dx[range(N), y] - 1\ndx = dx / N",
            ),
        ],
    ],
    "cs260/classifiers/softmax.py": [
        [  # softmax_loss_naive
            ("num_train = X.shape[0]", "num_train = len(X)", "N = X.shape[0]\nnum_train = N"),
            ("num_classes = W.shape[1]", "C = W.shape[1]\nnum_classes = C", "num_classes = dW.shape[1]"),
            (
                (
                    "for i in range(num_train):\n"
                    "    scores = X[i].dot(W)\n"
                    "    scores -= np.max(scores)\n"
                    "    exp_scores = np.exp(scores)\n"
                    "    total = np.sum(exp_scores)\n"
                    "    loss += np.log(total) - scores[y[i]]\n"
                    "    for j in range(num_classes):\n"
                    "        dW[:, j] += (exp_scores[j] / total - (j == y[i])) * X[i]"
                ),
                (
                    "for i in range(num_train):\n"
                    "    f = X[i] @ W\n"
                    "    f = f - f.max()\n"
                    "    p = np.exp(f) / np.exp(f).sum()\n"
                    "    loss -= np.log(p[y[i]])\n"
                    "    p[y[i]] -= 1\n"
                    "    for j in range(num_classes):\n"
                    "        dW[:, j] = dW[:, j] + p[j] * X[i]"
                ),
                (
                    "for i in range(num_train):\n"
                    "    row = np.dot(X[i], W)\n"
                    "    row -= row.max()\n"
                    "    denom = 0.0\n"
                    "    for j in range(num_classes):\n"
                    "        denom += np.exp(row[j])\n"
                    "    loss += -row[y[i]] + np.log(denom)\n"
                    "    for j in range(num_classes):\n"
                    "        prob = np.exp(row[j]) / denom\n"
                    "        if j == y[i]:\n"
                    "            dW[:, j] += (prob - 1) * X[i]\n"
                    "        else:\n"
                    "            dW[:, j] += prob * X[i]"
                ),
            ),
            (
                "loss = loss / num_train + reg * np.sum(W * W)",
                "loss /= num_train\nloss += reg * np.sum(W ** 2)",
                "loss = loss / num_train\nloss = loss + reg * (W * W).sum()",
            ),
            (
                "dW = dW / num_train + 2 * reg * W",
                "dW /= num_train\ndW += 2 * reg * W",
                "dW = dW / num_train + reg * 2 * W",
            ),
        ],
        [  # softmax_loss_vectorized
            ("num_train = X.shape[0]", "N = len(y)\nnum_train = N", "num_train = y.shape[0]"),
            ("scores = X.dot(W)", "scores = X @ W", "scores = np.dot(X, W)"),
            (
                "scores -= np.max(scores, axis=1, keepdims=True)",
                "scores = scores - scores.max(axis=1)[:, np.newaxis]",
                "scores -= scores.max(1, keepdims=True)",
            ),
            (
                "probs = np.exp(scores)\nprobs /= np.sum(probs, axis=1, keepdims=True)",
                "exp = np.exp(scores)\nprobs = exp / exp.sum(axis=1).reshape(-1, 1)",
                "log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))\nprobs = np.exp(log_probs)",
            ),
            (
                "loss = -np.log(probs[np.arange(num_train), y]).sum() / num_train",
                "loss = np.mean(-np.log(probs[range(num_train), y]))",
                "correct = -np.log(probs[np.arange(num_train), y])\nloss = np.sum(correct) / num_train",
            ),
            ("loss += reg * np.sum(W * W)", "loss = loss + reg * np.sum(np.square(W))", "loss += reg * (W ** 2).sum()"),
            (
                "dscores = probs.copy()\ndscores[np.arange(num_train), y] -= 1",
                "probs[range(num_train), y] -= 1\ndscores = probs",
                "y_onehot = np.eye(W.shape[1])[y]\ndscores = probs - y_onehot",
            ),
            (
                "dW = X.T.dot(dscores) / num_train + 2 * reg * W",
                "dW = X.T @ dscores\ndW /= num_train\ndW += 2 * reg * W",
                "dW = np.dot(X.T, dscores) / num_train\ndW = dW + reg * 2 * W",
            ),
        ],
    ],
    "cs260/classifiers/linear_classifier.py": [
        [  # train: the minibatch
            (
                "indices = np.random.choice(num_train, batch_size)\nX_batch = X[indices]\ny_batch = y[indices]",
                "idx = np.random.choice(num_train, batch_size, replace=True)\nX_batch, y_batch = X[idx], y[idx]",
                "batch = np.random.randint(0, num_train, size=batch_size)\nX_batch = X[batch, :]\ny_batch = y[batch]",
            ),
        ],
        [  # train: the update
            (
                "self.W -= learning_rate * grad",
                "self.W = self.W - learning_rate * grad",
                "self.W += -learning_rate * grad",
            ),
        ],
        [  # predict
            (
                "y_pred = np.argmax(X.dot(self.W), axis=1)",
                "scores = X @ self.W\ny_pred = scores.argmax(axis=1)",
                "y_pred = np.argmax(np.dot(X, self.W), 1)",
            ),
        ],
    ],
    "cs260/classifiers/fc_net.py": [
        [  # __init__
            (
                (
                    "self.params['W1'] = weight_scale * np.random.randn(input_dim, hidden_dim)\n"
                    "self.params['b1'] = np.zeros(hidden_dim)\n"
                    "self.params['W2'] = weight_scale * np.random.randn(hidden_dim, num_classes)\n"
                    "self.params['b2'] = np.zeros(num_classes)"
                ),
                (
                    "self.params['W1'] = np.random.normal(0, weight_scale, (input_dim, hidden_dim))\n"
                    "self.params['W2'] = np.random.normal(0, weight_scale, (hidden_dim, num_classes))\n"
                    "self.params['b1'] = np.zeros((hidden_dim,))\n"
                    "self.params['b2'] = np.zeros((num_classes,))"
                ),
                (
                    "dims = [input_dim, hidden_dim, num_classes]\n"
                    "for i in range(2):\n"
                    "    self.params['W%d' % (i + 1)] = np.random.randn(dims[i], dims[i + 1]) * weight_scale\n"
                    "    self.params['b%d' % (i + 1)] = np.zeros(dims[i + 1])"
                ),
            ),
        ],
        [  # loss: the forward pass
            (
                (
                    "hidden, hidden_cache = affine_relu_forward(X, self.params['W1'], self.params['b1'])\n"
                    "scores, scores_cache = affine_forward(hidden, self.params['W2'], self.params['b2'])"
                ),
                (
                    "W1, b1 = self.params['W1'], self.params['b1']\n"
                    "W2, b2 = self.params['W2'], self.params['b2']\n"
                    "h, hidden_cache = affine_relu_forward(X, W1, b1)\n"
                    "scores, scores_cache = affine_forward(h, W2, b2)"
                ),
                (
                    "a1, fc_cache = affine_forward(X, self.params['W1'], self.params['b1'])\n"
                    "h1, relu_cache = relu_forward(a1)\n"
                    "hidden_cache = (fc_cache, relu_cache)\n"
                    "scores, scores_cache = affine_forward(h1, self.params['W2'], self.params['b2'])"
                ),
            ),
        ],
        [  # loss: the backward pass
            (
                (
                    "loss, dscores = softmax_loss(scores, y)\n"
                    "loss += 0.5 * self.reg * (np.sum(self.params['W1'] ** 2) + np.sum(self.params['W2'] ** 2))"
                ),
                (
                    "data_loss, dscores = softmax_loss(scores, y)\n"
                    "reg_loss = 0.5 * self.reg * np.sum(self.params['W1'] * self.params['W1'])\n"
                    "reg_loss += 0.5 * self.reg * np.sum(self.params['W2'] * self.params['W2'])\n"
                    "loss = data_loss + reg_loss"
                ),
                (
                    "loss, dscores = softmax_loss(scores, y)\n"
                    "for name in ('W1', 'W2'):\n"
                    "    loss += 0.5 * self.reg * np.sum(np.square(self.params[name]))"
                ),
            ),
            (
                (
                    "dh, grads['W2'], grads['b2'] = affine_backward(dscores, scores_cache)\n"
                    "_, grads['W1'], grads['b1'] = affine_relu_backward(dh, hidden_cache)"
                ),
                (
                    "dh, dW2, db2 = affine_backward(dscores, scores_cache)\n"
                    "dx, dW1, db1 = affine_relu_backward(dh, hidden_cache)\n"
                    "grads.update(W1=dW1, b1=db1, W2=dW2, b2=db2)"
                ),
            ),
            (
                "grads['W1'] += self.reg * self.params['W1']\ngrads['W2'] += self.reg * self.params['W2']",
                "for name in ('W1', 'W2'):\n    grads[name] = grads[name] + self.reg * self.params[name]",
            ),
        ],
    ],
}


def _region(statements: list[Line], rng: random.Random) -> str:
    return "\n".join(s if isinstance(s, str) else rng.choice(s) for s in statements)


def _fill(text: str, bodies: list[str]) -> str:
    """The template's file with its solution regions' `pass` replaced by the bodies, in order."""
    lines = text.split("\n")
    out: list[str] = []
    regions = iter(bodies)
    filling = False
    for line in lines:
        if START in line:
            filling = True
            out.append(line)
            continue
        if filling and line.strip() == "pass":
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + b if b else b for b in next(regions).split("\n"))
            filling = False
            continue
        out.append(line)
    return "\n".join(out)


def write_student(folder: Path, rng: random.Random) -> None:
    """One independent student: the template, each region drawn on its own."""
    shutil.copytree(TEMPLATE, folder)
    for rel, regions in REGIONS.items():
        bodies = [_region(r, rng) for r in regions]
        path = folder / rel
        path.write_text(_fill(path.read_text(), bodies))


def write_class(root: Path, students: int, seed: int) -> list[str]:
    """`students` independent submissions student01..; their names."""
    rng = random.Random(seed)
    names = [f"student{i:03d}" if students > 99 else f"student{i:02d}" for i in range(1, students + 1)]
    for name in names:
        write_student(root / name, rng)
    return names


class _Renamer(ast.NodeTransformer):
    """Every local variable of a function renamed; its parameters and what it reads from elsewhere
    (np, the functions of the package, builtins) kept, or the copy would not run."""

    def __init__(self, local: set[str]) -> None:
        self.local = local - {"self"}
        self.names: dict[str, str] = {}

    def _new(self, name: str) -> str:
        if name not in self.local:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}_{name[::-1].strip('_')}")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self._new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._new(node.arg)
        return node


def _locals(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The variables a function assigns; its parameters stay, since callers pass them by name."""
    params = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
    stored = {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return stored - params


def disguise(source: str, rng: random.Random) -> str:
    """A module as a copier hands it in, still working: local variables renamed, comments and
    docstrings rewritten, the functions (and the methods of each class) in another order."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _Renamer(_locals(node)).visit(node)
            if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                node.body[0].value.value = "My implementation."
    for holder in [tree, *(n for n in tree.body if isinstance(n, ast.ClassDef))]:
        defs = [n for n in holder.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        rest = [n for n in holder.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        rng.shuffle(defs)
        holder.body = rest + defs
    return "# Homework 2\n" + re.sub(r"\n(?=def |class )", "\n\n", ast.unparse(tree)) + "\n"


def plant_copy(original: Path, copy: Path, seed: int) -> None:
    """`copy` as `original` disguised, every module of the regions."""
    rng = random.Random(seed)
    shutil.copytree(original, copy)
    for rel in REGIONS:
        path = copy / rel
        path.write_text(disguise(path.read_text(), rng))
