"""
Update rules for the Solver. Provided course code: read it, do not edit it.

Each rule takes the current weights, their gradient and a config dict of
hyperparameters (and state), and returns (next_w, config).
"""

import numpy as np


def sgd(w, dw, config=None):
    """
    Performs vanilla stochastic gradient descent.

    config format:
    - learning_rate: Scalar learning rate.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)

    w -= config['learning_rate'] * dw
    return w, config
