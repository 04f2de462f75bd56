"""
Data for the notebooks: an embedded default, and CIFAR-10 when you have it.

Provided course code: students use it; they do not edit it.

- `get_data()` is what the notebooks call. By default it returns the handwritten
  digits that ship inside scikit-learn (1797 images of 8x8 pixels, 10 classes), split
  deterministically, so everything runs offline on a fresh machine. Set the
  environment variable NNDL_DATASET=cifar10 (and CIFAR10_DIR to the folder
  `cifar-10-batches-py`) to use CIFAR-10 instead.
- The CIFAR-10 batches are the official download's python pickle files, read with
  pickle because that is the format they come in; only open batches you downloaded.
"""

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
    """Load one batch: X of shape (10000, 32, 32, 3) float64, Y of shape (10000,)."""
    with open(filename, 'rb') as f:
        datadict = pickle.load(f, encoding='latin1')
        X = datadict['data']
        Y = datadict['labels']
        X = X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype('float')
        Y = np.array(Y)
        return X, Y


def load_CIFAR10(ROOT):
    """Load all of CIFAR-10: (Xtr (50000, 32, 32, 3), Ytr, Xte (10000, 32, 32, 3), Yte)."""
    xs = []
    ys = []
    for b in range(1, 6):
        f = os.path.join(ROOT, 'data_batch_%d' % (b, ))
        X, Y = load_CIFAR_batch(f)
        xs.append(X)
        ys.append(Y)
    Xtr = np.concatenate(xs)
    Ytr = np.concatenate(ys)
    Xte, Yte = load_CIFAR_batch(os.path.join(ROOT, 'test_batch'))
    return Xtr, Ytr, Xte, Yte


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000,
                     cifar10_dir='cifar-10-batches-py'):
    """
    Load CIFAR-10 and preprocess it for the classifiers: subtract the mean image
    and transpose to channels first. Returns a dict with X_train
    (num_training, 3, 32, 32), y_train, X_val, y_val, X_test, y_test.
    """
    X_train, y_train, X_test, y_test = load_CIFAR10(cifar10_dir)

    # Subsample the data
    mask = range(num_training, num_training + num_validation)
    X_val = X_train[mask]
    y_val = y_train[mask]
    mask = range(num_training)
    X_train = X_train[mask]
    y_train = y_train[mask]
    mask = range(num_test)
    X_test = X_test[mask]
    y_test = y_test[mask]

    # Normalize the data: subtract the mean image
    mean_image = np.mean(X_train, axis=0)
    X_train -= mean_image
    X_val -= mean_image
    X_test -= mean_image

    # Transpose so that channels come first
    X_train = X_train.transpose(0, 3, 1, 2).copy()
    X_val = X_val.transpose(0, 3, 1, 2).copy()
    X_test = X_test.transpose(0, 3, 1, 2).copy()

    return {
        'X_train': X_train, 'y_train': y_train,
        'X_val': X_val, 'y_val': y_val,
        'X_test': X_test, 'y_test': y_test,
    }


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


def get_digits_data():
    """
    The embedded default data set, preprocessed like get_CIFAR10_data: pixel values
    from 0 to 16 as they come, the training mean image subtracted, shape (N, 1, 8, 8).

    Returns a dict with X_train (1000, 1, 8, 8), y_train (1000,), X_val (250, ...),
    y_val, X_test (250, ...), y_test.
    """
    X, y = _digits_arrays()
    order = digits_order()
    X = X[order]
    y = y[order]
    data, start = {}, 0
    for part, size in DIGITS_SPLIT.items():
        data['X_' + part] = X[start:start + size]
        data['y_' + part] = y[start:start + size]
        start += size
    mean_image = data['X_train'].mean(axis=0)
    for part in DIGITS_SPLIT:
        data['X_' + part] = (data['X_' + part] - mean_image).reshape(-1, 1, 8, 8)
    return data


def dataset_name():
    """'digits' (the default) or 'cifar10', from the NNDL_DATASET environment variable."""
    name = os.environ.get('NNDL_DATASET', 'digits').lower()
    if name not in ('digits', 'cifar10'):
        raise ValueError('NNDL_DATASET must be digits or cifar10, not %r' % name)
    return name


def get_data():
    """The data set the notebooks use: see the module docstring."""
    if dataset_name() == 'cifar10':
        return get_CIFAR10_data(cifar10_dir=os.environ.get('CIFAR10_DIR', 'cifar-10-batches-py'))
    return get_digits_data()
