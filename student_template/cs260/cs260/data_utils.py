"""
Data for the notebooks: an embedded default, and CIFAR-10 when you have it.

Provided course code: students use it; they do not edit it.

By default the handwritten digits that ship inside scikit-learn (1797 images of 8x8
pixels, 10 classes) stand in for CIFAR-10, split deterministically, so everything
runs offline on a fresh machine. Set the environment variable CS260_DATASET=cifar10
(and CIFAR10_DIR to the folder `cifar-10-batches-py`) to use CIFAR-10 instead. The
CIFAR-10 batches are the official download's python pickle files, read with pickle
because that is the format they come in; only open batches you downloaded.
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
    """ load single batch of cifar """
    with open(filename, 'rb') as f:
        datadict = pickle.load(f, encoding='latin1')
        X = datadict['data']
        Y = datadict['labels']
        X = X.reshape(10000, 3, 32, 32).transpose(0, 2, 3, 1).astype("float")
        Y = np.array(Y)
        return X, Y


def load_CIFAR10(ROOT):
    """ load all of cifar: (Xtr (50000, 32, 32, 3), Ytr, Xte (10000, 32, 32, 3), Yte) """
    xs = []
    ys = []
    for b in range(1, 6):
        X, Y = load_CIFAR_batch(os.path.join(ROOT, 'data_batch_%d' % (b, )))
        xs.append(X)
        ys.append(Y)
    Xtr = np.concatenate(xs)
    Ytr = np.concatenate(ys)
    Xte, Yte = load_CIFAR_batch(os.path.join(ROOT, 'test_batch'))
    return Xtr, Ytr, Xte, Yte


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
    """'digits' (the default) or 'cifar10', from the CS260_DATASET environment variable."""
    name = os.environ.get('CS260_DATASET', 'digits').lower()
    if name not in ('digits', 'cifar10'):
        raise ValueError('CS260_DATASET must be digits or cifar10, not %r' % name)
    return name


def load_dataset():
    """
    The raw images as load_CIFAR10 returns them: (X_train, y_train, X_test, y_test)
    with X of shape (N, H, W, channels), float pixel values.

    Digits: 1250 training images (the first 1000 for training, the last 250 for
    validation) and 250 test images of shape (8, 8, 1). CIFAR-10: 50000 and 10000.
    """
    if dataset_name() == 'cifar10':
        return load_CIFAR10(os.environ.get('CIFAR10_DIR', 'cifar-10-batches-py'))
    X, y = _digits_arrays()
    order = digits_order()
    n_train = DIGITS_SPLIT['train'] + DIGITS_SPLIT['val']
    train, test = order[:n_train], order[n_train:n_train + DIGITS_SPLIT['test']]
    return X[train].reshape(-1, 8, 8, 1), y[train], X[test].reshape(-1, 8, 8, 1), y[test]


def split_sizes():
    """(num_training, num_validation, num_test) of the data set in use."""
    if dataset_name() == 'cifar10':
        return 49000, 1000, 1000
    return DIGITS_SPLIT['train'], DIGITS_SPLIT['val'], DIGITS_SPLIT['test']


def rows_with_bias(X, mean_image):
    """Images (N, H, W, C) -> rows (N, H*W*C + 1): the mean image subtracted, a 1 appended for the bias."""
    X = np.reshape(X, (X.shape[0], -1)) - mean_image
    return np.hstack([X, np.ones((X.shape[0], 1))])


def get_linear_classifier_data(num_dev=500):
    """
    The data of the softmax exercise: rows with the mean image subtracted and a bias
    column appended. Returns X_train, y_train, X_val, y_val, X_test, y_test, X_dev,
    y_dev; X_dev is num_dev training rows drawn at random (with np.random).
    """
    num_training, num_validation, num_test = split_sizes()
    X_train, y_train, X_test, y_test = load_dataset()
    X_val = X_train[num_training:num_training + num_validation]
    y_val = y_train[num_training:num_training + num_validation]
    X_train, y_train = X_train[:num_training], y_train[:num_training]
    X_test, y_test = X_test[:num_test], y_test[:num_test]
    mask = np.random.choice(num_training, num_dev, replace=False)
    mean_image = np.mean(np.reshape(X_train, (X_train.shape[0], -1)), axis=0)
    X_dev, y_dev = X_train[mask], y_train[mask]
    return (rows_with_bias(X_train, mean_image), y_train, rows_with_bias(X_val, mean_image), y_val,
            rows_with_bias(X_test, mean_image), y_test, rows_with_bias(X_dev, mean_image), y_dev)


def get_CIFAR10_data(subtract_mean=True):
    """
    The data of the fully-connected network exercise (CIFAR-10, or the digits by
    default): a dict with X_train, y_train, X_val, y_val, X_test, y_test; images
    channels first, (N, C, H, W), with the training mean image subtracted.
    """
    num_training, num_validation, num_test = split_sizes()
    X_train, y_train, X_test, y_test = load_dataset()
    X_val = X_train[num_training:num_training + num_validation]
    y_val = y_train[num_training:num_training + num_validation]
    X_train, y_train = X_train[:num_training], y_train[:num_training]
    X_test, y_test = X_test[:num_test], y_test[:num_test]
    if subtract_mean:
        mean_image = np.mean(X_train, axis=0)
        X_train = X_train - mean_image
        X_val = X_val - mean_image
        X_test = X_test - mean_image
    return {
        'X_train': X_train.transpose(0, 3, 1, 2).copy(), 'y_train': y_train,
        'X_val': X_val.transpose(0, 3, 1, 2).copy(), 'y_val': y_val,
        'X_test': X_test.transpose(0, 3, 1, 2).copy(), 'y_test': y_test,
    }
