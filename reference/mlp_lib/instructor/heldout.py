"""
Data the grader measures trained networks on, which the students' copy does not return.

Instructor-only: this folder never reaches the student template.
"""

from lib.mlp.datasets import DIGITS_SPLIT, CIFAR10_data, _digits_arrays, _digits_images, dataset_name, digits_order


def heldout():
    """(X, y) the students never had: the digits after the public splits (297 images),
    prepared like CIFAR10_data(); with CIFAR-10, its test split."""
    if dataset_name() == 'cifar10':
        data = CIFAR10_data()
        return data['data_test'], data['labels_test']
    X, y = _digits_arrays()
    rows = digits_order()[sum(DIGITS_SPLIT.values()):]
    return _digits_images(X[rows]), y[rows]
