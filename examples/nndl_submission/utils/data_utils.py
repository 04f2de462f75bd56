"""
Loading CIFAR-10 from the python pickle batches of `cifar-10-batches-py`.

Provided course code (CS 231n, Stanford). The batches are the official
download's own files, which only the course distributes; they are read with
pickle because that is the format they come in.
"""

import os
import pickle

import numpy as np


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
