"""
First-order update rules for training neural networks.

This code was originally written for CS 231n at Stanford University
(cs231n.stanford.edu) and modified for the UCLA ECE 239AS / C147 classes.

Each update rule has the same interface:

    def update(w, dw, config=None):

Inputs:
  - w: A numpy array giving the current weights.
  - dw: A numpy array of the same shape as w giving the gradient of the
    loss with respect to w.
  - config: A dictionary containing hyperparameter values such as learning rate,
    momentum, etc. If the update rule requires caching values over many
    iterations, then config will also hold these cached values.

Returns:
  - next_w: The next point after the update, of the same shape as w.
  - config: The config dictionary to be passed to the next iteration of the
    update rule, holding the updated state.

NOTE: For most update rules, the default learning rate will probably not perform
well; however the default values of the other hyperparameters should work well
for a variety of different problems.

For efficiency, update rules may perform in-place updates, mutating w and
setting next_w equal to w. Do not write into dw.
"""

import numpy as np


def sgd(w, dw, config=None):
    """
    Performs vanilla stochastic gradient descent: next_w = w - learning_rate * dw.

    config format:
    - learning_rate: Scalar learning rate.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)

    next_w = None
    # ================================================================ #
    # YOUR CODE HERE:
    #   Implement the vanilla SGD update.  Store the result in next_w.
    # ================================================================ #
    w -= config['learning_rate'] * dw
    next_w = w
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return next_w, config


def sgd_momentum(w, dw, config=None):
    """
    Performs stochastic gradient descent with momentum:

        v = momentum * v - learning_rate * dw
        next_w = w + v

    config format:
    - learning_rate: Scalar learning rate.
    - momentum: Scalar between 0 and 1 giving the momentum value.
      Setting momentum = 0 reduces to sgd.
    - velocity: A numpy array of the same shape as w and dw used to store a moving
      average of the gradients.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)  # set momentum to 0.9 if it wasn't there
    v = config.get('velocity', np.zeros_like(w))  # gets velocity, else sets it to zero.

    next_w = None
    # ================================================================ #
    # YOUR CODE HERE:
    #   Implement the momentum update formula.  Return the updated weights
    #   as next_w, and the updated velocity as v.
    # ================================================================ #
    v = (config['momentum'] * v) - (config['learning_rate'] * dw)
    next_w = w + v
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    config['velocity'] = v

    return next_w, config


def sgd_nesterov_momentum(w, dw, config=None):
    """
    Performs stochastic gradient descent with Nesterov momentum, in the form
    that keeps w (not the look-ahead point) as the parameter:

        v_new = momentum * v - learning_rate * dw
        next_w = w + v_new + momentum * (v_new - v)

    config format:
    - learning_rate: Scalar learning rate.
    - momentum: Scalar between 0 and 1 giving the momentum value.
      Setting momentum = 0 reduces to sgd.
    - velocity: A numpy array of the same shape as w and dw used to store a moving
      average of the gradients.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)  # set momentum to 0.9 if it wasn't there
    v = config.get('velocity', np.zeros_like(w))  # gets velocity, else sets it to zero.

    next_w = None
    # ================================================================ #
    # YOUR CODE HERE:
    #   Implement the Nesterov momentum update formula.  Return the updated
    #   weights as next_w, and the updated velocity as v.
    # ================================================================ #
    v_old = v
    v = config['momentum'] * v_old - config['learning_rate'] * dw
    next_w = w + v + config['momentum'] * (v - v_old)
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    config['velocity'] = v

    return next_w, config


def rmsprop(w, dw, config=None):
    """
    Uses the RMSProp update rule, which uses a moving average of squared gradient
    values to set adaptive per-parameter learning rates:

        a = decay_rate * a + (1 - decay_rate) * dw**2
        next_w = w - learning_rate * dw / sqrt(a + epsilon)

    Note that epsilon sits inside the square root.

    config format:
    - learning_rate: Scalar learning rate.
    - decay_rate: Scalar between 0 and 1 giving the decay rate for the squared
      gradient cache.
    - epsilon: Small scalar used for smoothing to avoid dividing by zero.
    - a: Moving average of second moments of gradients.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('decay_rate', 0.99)
    config.setdefault('epsilon', 1e-8)
    config.setdefault('a', np.zeros_like(w))

    next_w = None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Implement RMSProp.  Store the next value of w as next_w.  You need
    #   to also store in config['a'] the moving average of the second
    #   moment gradients, so they can be used for future gradients. Concretely,
    #   config['a'] corresponds to "a" in the lecture notes.
    # ================================================================ #
    config['a'] = config['decay_rate'] * config['a'] + (1-config['decay_rate']) * np.multiply(dw, dw)
    next_w = w - np.multiply(config['learning_rate'] / (np.sqrt(config['a'] + config['epsilon'])), dw)
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return next_w, config


def adam(w, dw, config=None):
    """
    Uses the Adam update rule, which incorporates moving averages of both the
    gradient and its square and a bias correction term:

        t = t + 1                       (increment t first)
        v = beta1 * v + (1 - beta1) * dw
        a = beta2 * a + (1 - beta2) * dw**2
        v_hat = v / (1 - beta1**t);  a_hat = a / (1 - beta2**t)
        next_w = w - learning_rate * v_hat / (sqrt(a_hat) + epsilon)

    Note that epsilon sits outside the square root here.

    config format:
    - learning_rate: Scalar learning rate.
    - beta1: Decay rate for moving average of first moment of gradient.
    - beta2: Decay rate for moving average of second moment of gradient.
    - epsilon: Small scalar used for smoothing to avoid dividing by zero.
    - v: Moving average of the gradient (first moment).
    - a: Moving average of the squared gradient (second moment).
    - t: Iteration number, incremented before the bias correction.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-3)
    config.setdefault('beta1', 0.9)
    config.setdefault('beta2', 0.999)
    config.setdefault('epsilon', 1e-8)
    config.setdefault('v', np.zeros_like(w))
    config.setdefault('a', np.zeros_like(w))
    config.setdefault('t', 0)

    next_w = None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Implement Adam.  Store the next value of w as next_w.  You need
    #   to also store in config['a'] the moving average of the second
    #   moment gradients, and in config['v'] the moving average of the
    #   first moments.  Finally, store in config['t'] the increasing time.
    # ================================================================ #
    pass
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return next_w, config
