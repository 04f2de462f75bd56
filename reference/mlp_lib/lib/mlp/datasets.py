"""
Data for the notebook: an embedded default, and CIFAR-10 when you have it.

Provided course code: students use it; they do not edit it.

`CIFAR10_data()` returns, by default, the handwritten digits that ship inside
scikit-learn (1797 images of 8x8 pixels, 10 classes), split deterministically, so
everything runs offline. Set the environment variable MLP_LIB_DATASET=cifar10 (and
CIFAR10_DIR to the folder `cifar-10-batches-py`) to use CIFAR-10. The CIFAR-10
batches are the official download's python pickle files, read with pickle because
that is the format they come in; only open batches you downloaded.
"""

from __future__ import print_function

import gzip
import importlib.util
import os
import pickle
from pathlib import Path

import numpy as np

# The digits are shuffled once with this seed and cut into these parts. The images
# after the last part are kept back for grading and never returned here.
DIGITS_SEED = 0
DIGITS_SPLIT = {'train': 1000, 'val': 250, 'test': 250}


def load_CIFAR_batch(filename):
    """ load single batch of cifar: X (10000, 3, 32, 32), Y (10000,) """
    with open(filename, 'rb') as f:
        datadict = pickle.load(f, encoding='latin1')
        X = datadict['data'].reshape(10000, 3, 32, 32).astype("float")
        Y = np.array(datadict['labels'])
        return X, Y


def load_CIFAR10(ROOT):
    """ load all of cifar """
    xs, ys = [], []
    for b in range(1, 6):
        X, Y = load_CIFAR_batch(os.path.join(ROOT, 'data_batch_%d' % (b, )))
        xs.append(X)
        ys.append(Y)
    Xte, Yte = load_CIFAR_batch(os.path.join(ROOT, 'test_batch'))
    return np.concatenate(xs), np.concatenate(ys), Xte, Yte


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
    """'digits' (the default) or 'cifar10', from the MLP_LIB_DATASET environment variable."""
    name = os.environ.get('MLP_LIB_DATASET', 'digits').lower()
    if name not in ('digits', 'cifar10'):
        raise ValueError('MLP_LIB_DATASET must be digits or cifar10, not %r' % name)
    return name


def _digits_images(X):
    """Digits scaled to [0, 1] as images (N, 1, 8, 8), with the training split's mean image subtracted."""
    train = digits_order()[:DIGITS_SPLIT['train']]
    X_all, _ = _digits_arrays()
    mean_image = (X_all[train] / 16.0).mean(axis=0)
    return (X / 16.0 - mean_image).reshape(-1, 1, 8, 8)


def CIFAR10_data(num_training=49000, num_val=1000, num_test=1000):
    """
    A dict with data_train (N, C, H, W), labels_train (N,), data_val, labels_val,
    data_test and labels_test: CIFAR-10 (49000 / 1000 / 1000 images of 3x32x32), or by
    default the digits (1000 / 250 / 250 images of 1x8x8). The training mean image is
    subtracted.
    """
    if dataset_name() == 'cifar10':
        X_train, y_train, X_test, y_test = load_CIFAR10(os.environ.get('CIFAR10_DIR', 'cifar-10-batches-py'))
        X_val, y_val = X_train[num_training:num_training + num_val], y_train[num_training:num_training + num_val]
        X_train, y_train = X_train[:num_training], y_train[:num_training]
        X_test, y_test = X_test[:num_test], y_test[:num_test]
        mean_image = np.mean(X_train, axis=0)
        X_train, X_val, X_test = X_train - mean_image, X_val - mean_image, X_test - mean_image
    else:
        X, y = _digits_arrays()
        order = digits_order()
        parts, start = [], 0
        for size in DIGITS_SPLIT.values():
            rows = order[start:start + size]
            parts += [_digits_images(X[rows]), y[rows]]
            start += size
        X_train, y_train, X_val, y_val, X_test, y_test = parts
    return {
        "data_train": X_train, "labels_train": y_train,
        "data_val": X_val, "labels_val": y_val,
        "data_test": X_test, "labels_test": y_test,
    }
