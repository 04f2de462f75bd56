"""
Data the grader measures trained models on, which the students' copy does not return.

Instructor-only: this folder never reaches the student template.
"""

import numpy as np

from cs260.data_utils import (DIGITS_SPLIT, _digits_arrays, dataset_name, digits_order, load_dataset,
                              rows_with_bias, split_sizes)


def _heldout_images():
    """(X (N, H, W, C), y) never returned to students, and the training images' mean."""
    num_training = split_sizes()[0]
    X_train = load_dataset()[0][:num_training]
    if dataset_name() == 'cifar10':
        _, _, X_test, y_test = load_dataset()
        return X_test, y_test, X_train
    X, y = _digits_arrays()
    order = digits_order()[sum(DIGITS_SPLIT.values()):]
    return X[order].reshape(-1, 8, 8, 1), y[order], X_train


def heldout_rows():
    """The held-out images as the softmax exercise prepares its data: rows, mean removed, bias column."""
    X, y, X_train = _heldout_images()
    return rows_with_bias(X, np.mean(np.reshape(X_train, (X_train.shape[0], -1)), axis=0)), y


def heldout_images():
    """The held-out images as get_CIFAR10_data prepares its data: mean removed, channels first."""
    X, y, X_train = _heldout_images()
    return (X - np.mean(X_train, axis=0)).transpose(0, 3, 1, 2).copy(), y
