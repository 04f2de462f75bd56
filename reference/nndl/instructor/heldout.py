"""
Data the grader measures trained networks on, which the students' copy does not return.

Instructor-only: this folder never reaches the student template.
"""

from utils.data_utils import DIGITS_SPLIT, _digits_arrays, dataset_name, digits_order, get_data


def heldout():
    """(X, y) the students never had: the digits after the public splits (297 images),
    preprocessed like get_data(); with CIFAR-10, its test split."""
    data = get_data()
    if dataset_name() == 'cifar10':
        return data['X_test'], data['y_test']
    X, y = _digits_arrays()
    order = digits_order()[sum(DIGITS_SPLIT.values()):]
    train_order = digits_order()[:DIGITS_SPLIT['train']]
    mean_image = X[train_order].mean(axis=0)
    return (X[order] - mean_image).reshape(-1, 1, 8, 8), y[order]


def public_test():
    """The test split every student has (what student mode measures on)."""
    data = get_data()
    return data['X_test'], data['y_test']
