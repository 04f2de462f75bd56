"""
Provided course code for problem set 3: data, gradient checks, plots, and handing
trained networks to the grader. Students use it; they do not edit it.

Data: `get_MNIST_data()` returns, by default, the handwritten digits that ship inside
scikit-learn (1797 images of 8x8 pixels, 10 classes), split deterministically, so the
notebook runs offline. Set the environment variable MLP_DATASET=mnist to use MNIST
(fetched by scikit-learn into MNIST_DIR, or its default cache folder).
"""

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np

# The digits are shuffled once with this seed and cut into these parts. The images
# after the last part are kept back for grading and never returned here.
DIGITS_SEED = 0
DIGITS_SPLIT = {'train': 1000, 'val': 250, 'test': 250}
OUTPUT_DIR = 'grading_outputs'


def eval_numerical_gradient(f, x, verbose=True, h=0.00001):
    """
    A naive implementation of the numerical gradient of f at x.

    - f: a function that takes a single argument and returns a scalar
    - x: the point (numpy array of any shape) to evaluate the gradient at;
      it is perturbed in place and restored
    Returns an array of the shape of x.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=['multi_index'], op_flags=['readwrite'])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h
        fxph = f(x)
        x[ix] = oldval - h
        fxmh = f(x)
        x[ix] = oldval
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def visualize_grid(Xs, ubound=255.0, padding=1):
    """
    Lay a 3-d array of images (N, H, W) out on a grid, rescaled to [0, ubound].
    """
    N, H, W = Xs.shape
    grid_size = int(np.ceil(np.sqrt(N)))
    grid_height = H * grid_size + padding * (grid_size - 1)
    grid_width = W * grid_size + padding * (grid_size - 1)
    grid = np.zeros((grid_height, grid_width))
    next_idx = 0
    y0, y1 = 0, H
    for _ in range(grid_size):
        x0, x1 = 0, W
        for _ in range(grid_size):
            if next_idx < N:
                img = Xs[next_idx]
                low, high = np.min(img), np.max(img)
                grid[y0:y1, x0:x1] = ubound * (img - low) / max(high - low, 1e-12)
                next_idx += 1
            x0 += W + padding
            x1 += W + padding
        y0 += H + padding
        y1 += H + padding
    return grid


def _digits_arrays():
    """All 1797 digits as X (1797, 64) float64 in [0, 16] and y (1797,) int, read from scikit-learn's copy."""
    spec = importlib.util.find_spec('sklearn')  # locates the package without importing it (slow)
    if spec is None or spec.origin is None:
        raise ImportError('the embedded data set needs scikit-learn: pip install scikit-learn')
    path = Path(spec.origin).parent / 'datasets' / 'data' / 'digits.csv.gz'
    with gzip.open(path, 'rt') as f:
        data = np.loadtxt(f, delimiter=',')
    return data[:, :-1], data[:, -1].astype(np.int64)


def digits_order():
    """The fixed shuffled order of the 1797 digits."""
    return np.random.default_rng(DIGITS_SEED).permutation(1797)


def dataset_name():
    """'digits' (the default) or 'mnist', from the MLP_DATASET environment variable."""
    name = os.environ.get('MLP_DATASET', 'digits').lower()
    if name not in ('digits', 'mnist'):
        raise ValueError('MLP_DATASET must be digits or mnist, not %r' % name)
    return name


def get_MNIST_data():
    """
    (X_train, y_train, X_val, y_val, X_test, y_test): flattened images with pixel
    values scaled to [0, 1], labels as integers.

    Digits (the default): 1000 / 250 / 250 images of 64 pixels. MNIST: 50000 / 10000 /
    10000 images of 784 pixels.
    """
    if dataset_name() == 'mnist':
        from sklearn.datasets import fetch_openml  # only for MNIST, which it downloads once
        mnist = fetch_openml('mnist_784', version=1, as_frame=False, data_home=os.environ.get('MNIST_DIR'))
        X = mnist.data.astype(np.float64) / 255.0
        y = mnist.target.astype(np.int64)
        return X[:50000], y[:50000], X[50000:60000], y[50000:60000], X[60000:], y[60000:]
    X, y = _digits_arrays()
    order = digits_order()
    X, y = X[order] / 16.0, y[order]
    parts, start = [], 0
    for size in DIGITS_SPLIT.values():
        parts += [X[start:start + size], y[start:start + size]]
        start += size
    return tuple(parts)


def save_for_grading(name, net):
    """
    Save a network's parameters as grading_outputs/<name>.npz for the grader, which
    measures its accuracy itself on data of its own (printed accuracies are not used).

    - name: the name the notebook asks for, e.g. 'relu_net'
    - net: a TwoLayerMLP (or its params dict)
    """
    params = net if isinstance(net, dict) else net.params
    os.makedirs(OUTPUT_DIR, exist_ok=True)
    np.savez(os.path.join(OUTPUT_DIR, name + '.npz'), **{k: np.asarray(v) for k, v in params.items()})


def _two_layer_scores(params, X, hidden_fn):
    hidden = hidden_fn(X.reshape(X.shape[0], -1).dot(params['W1']) + params['b1'])
    return hidden.dot(params['W2']) + params['b2']


def sigmoid_mlp_scores(params, X):
    """Scores of a TwoLayerMLP with sigmoid hidden units: W1 (D, H), W2 (H, C)."""
    return _two_layer_scores(params, X, lambda z: 1.0 / (1.0 + np.exp(-z)))


def relu_mlp_scores(params, X):
    """Scores of a TwoLayerMLP with ReLU hidden units: W1 (D, H), W2 (H, C)."""
    return _two_layer_scores(params, X, lambda z: np.maximum(0, z))


def public_test_split():
    """(X, y): the test split of get_MNIST_data(), which student mode measures on."""
    data = get_MNIST_data()
    return data[4], data[5]


def check(*items):
    """
    Grade the named functions of your files as saved, as `grade --only` does, and show
    the result: check('affine_forward'), check('affine_forward', 'relu_forward'),
    check('*_backward'), or check() for all of them. Save the files you changed first.
    Needs the grader installed, as `grade` does; while the grader runs the notebook,
    it does nothing.
    """
    from grader.notebook_check import check as grade_items
    return grade_items(*items)
