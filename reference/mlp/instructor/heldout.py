"""
Data the grader measures trained networks on, which the students' copy does not return.

Instructor-only: this folder never reaches the student template.
"""

from utils import DIGITS_SPLIT, _digits_arrays, dataset_name, digits_order, get_MNIST_data


def heldout():
    """(X, y) the students never had: the digits after the public splits (297 images),
    scaled like get_MNIST_data(); with MNIST, its test split."""
    if dataset_name() == 'mnist':
        data = get_MNIST_data()
        return data[4], data[5]
    X, y = _digits_arrays()
    order = digits_order()[sum(DIGITS_SPLIT.values()):]
    return X[order] / 16.0, y[order]
