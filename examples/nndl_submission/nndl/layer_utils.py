"""
Convenience "sandwich" layers built from the layers in nndl/layers.py.

Each follows the same contract as a single layer: forward returns (out, cache),
backward takes (dout, cache) and returns one gradient per input.
"""

from .layers import *  # noqa: F403 - the course's own import style; student code relies on it


def affine_relu_forward(x, w, b):
    """
    Convenience layer that performs an affine transform followed by a ReLU.

    Inputs:
    - x: Input to the affine layer, of shape (N, d_1, ..., d_k)
    - w, b: Weights (D, M) and biases (M,) for the affine layer

    Returns a tuple of:
    - out: Output from the ReLU, of shape (N, M)
    - cache: Object to give to the backward pass
    """
    out, cache = None, None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Chain affine_forward and relu_forward.
    # ================================================================ #
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    cache = (fc_cache, relu_cache)
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return out, cache


def affine_relu_backward(dout, cache):
    """
    Backward pass for the affine-relu convenience layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, M)
    - cache: The cache affine_relu_forward returned

    Returns a tuple of:
    - dx: of shape (N, d_1, ..., d_k); dw: of shape (D, M); db: of shape (M,)
    """
    dx, dw, db = None, None, None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Chain relu_backward and affine_backward.
    # ================================================================ #
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return dx, dw, db


def affine_batchnorm_relu_forward(x, w, b, gamma, beta, bn_param):
    """
    Convenience layer: affine transform, batch normalization, then ReLU.

    Inputs:
    - x: Input to the affine layer, of shape (N, d_1, ..., d_k)
    - w, b: Weights (D, M) and biases (M,) for the affine layer
    - gamma, beta: Scale and shift of shape (M,) for the batchnorm layer
    - bn_param: Dictionary of batchnorm parameters (see batchnorm_forward);
      its running averages are updated in place.

    Returns a tuple of:
    - out: Output from the ReLU, of shape (N, M)
    - cache: Object to give to the backward pass
    """
    out, cache = None, None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Chain affine_forward, batchnorm_forward and relu_forward.
    # ================================================================ #
    a, fc_cache = affine_forward(x, w, b)
    a_bn, bn_cache = batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(a_bn)
    cache = (fc_cache, bn_cache, relu_cache)
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return out, cache


def affine_batchnorm_relu_backward(dout, cache):
    """
    Backward pass for the affine-batchnorm-relu convenience layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, M)
    - cache: The cache affine_batchnorm_relu_forward returned

    Returns a tuple of:
    - dx: (N, d_1, ..., d_k); dw: (D, M); db: (M,); dgamma: (M,); dbeta: (M,)
    """
    dx, dw, db, dgamma, dbeta = None, None, None, None, None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Chain relu_backward, batchnorm_backward and affine_backward.
    # ================================================================ #
    fc_cache, bn_cache, relu_cache = cache
    da_bn = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = batchnorm_backward(da_bn, bn_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return dx, dw, db, dgamma, dbeta
