"""
Layers of a modular fully-connected network.

This code was originally written for CS 231n at Stanford University
(cs231n.stanford.edu) and modified for the UCLA ECE 239AS / C147 classes.

Every layer follows one contract:
- `*_forward(inputs..., param) -> (out, cache)`: `cache` holds whatever the
  backward pass needs; it is yours to design.
- `*_backward(dout, cache) -> gradients`: one gradient per input, each of the
  same shape as that input.

A backward pass must never write into `dout`: the caller still owns it (an
upstream layer may read it again). Compute new arrays instead of `dout[...] = 0`.
"""

import numpy as np


def affine_forward(x, w, b):
    """
    Computes the forward pass for an affine (fully-connected) layer.

    The input x has shape (N, d_1, ..., d_k) and contains a minibatch of N
    examples, where each example x[i] has shape (d_1, ..., d_k). We will
    reshape each input into a vector of dimension D = d_1 * ... * d_k, and
    then transform it to an output vector of dimension M.

    Inputs:
    - x: A numpy array containing input data, of shape (N, d_1, ..., d_k)
    - w: A numpy array of weights, of shape (D, M)
    - b: A numpy array of biases, of shape (M,)

    Returns a tuple of:
    - out: output, of shape (N, M)
    - cache: (x, w, b)
    """
    out = None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Calculate the output of the forward pass.  Notice the dimensions
    #   of w are D x M, which is the transpose of what we did in earlier
    #   assignments.
    # ================================================================ #
    N = np.shape(x)[0]
    x_flat = np.reshape(x, (N,-1))
    out = np.dot( x_flat , w ) + b    # N,M = N,D * D,M
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Computes the backward pass for an affine layer.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: Tuple of:
      - x: Input data, of shape (N, d_1, ... d_k)
      - w: Weights, of shape (D, M)
      - b: Biases, of shape (M,)

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)  (not (1, M))
    """
    x, w, b = cache
    dx, dw, db = None, None, None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Calculate the gradients for the backward pass.
    # ================================================================ #
    # dout is N x M
    # dx should be N x d1 x ... x dk; it relates to dout through multiplication
    # with w, which is D x M
    # dw should be D x M; it relates to dout through multiplication with x, which
    # is N x D after reshaping
    # db should be M; it is just the sum over dout examples


    N = np.shape(x)[0]
    shaping = np.shape(x)
    x_flat = np.reshape(x, (N,-1))


    dx = np.reshape(np.dot( dout , np.transpose(w) ),    shaping )
    dw = np.dot(x_flat.T, dout)
    db = np.sum(dout, axis=0, keepdims=True)
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return dx, dw, db


def relu_forward(x):
    """
    Computes the forward pass for a layer of rectified linear units (ReLUs).

    Input:
    - x: Inputs, of any shape

    Returns a tuple of:
    - out: Output, of the same shape as x
    - cache: x
    """
    out = None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Implement the ReLU forward pass.
    # ================================================================ #
    out = np.maximum(0 , x)
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    cache = x
    return out, cache


def relu_backward(dout, cache):
    """
    Computes the backward pass for a layer of rectified linear units (ReLUs).

    Input:
    - dout: Upstream derivatives, of any shape
    - cache: Input x, of same shape as dout

    Returns:
    - dx: Gradient with respect to x, of the same shape as dout.
      Do not modify dout in place.
    """
    x = cache
    dx = None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Implement the ReLU backward pass
    # ================================================================ #
    # ReLU directs linearly to those > 0
    dx = dout
    # print('from inside the relu_back, the input dim is', np.shape(dout), 'and the output dim is', np.shape(dx))
    dx[x <= 0] = 0
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Forward pass for batch normalization.

    During training the sample mean and (uncorrected) sample variance are
    computed from minibatch statistics and used to normalize the incoming data.
    During training we also keep an exponentially decaying running mean of the
    mean and variance of each feature, and these averages are used to normalize
    data at test time.

    At each timestep we update the running averages for mean and variance using
    an exponential decay based on the momentum parameter:

    running_mean = momentum * running_mean + (1 - momentum) * sample_mean
    running_var = momentum * running_var + (1 - momentum) * sample_var

    Input:
    - x: Data of shape (N, D)
    - gamma: Scale parameter of shape (D,)
    - beta: Shift paremeter of shape (D,)
    - bn_param: Dictionary with the following keys:
      - mode: 'train' or 'test'; required
      - eps: Constant for numeric stability (default 1e-5)
      - momentum: Constant for running mean / variance (default 0.9)
      - running_mean: Array of shape (D,) giving running mean of features
        (starts at zeros)
      - running_var: Array of shape (D,) giving running variance of features
        (starts at zeros)

    Returns a tuple of:
    - out: of shape (N, D)
    - cache: A tuple of values needed in the backward pass
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)

    N, D = x.shape
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == 'train':
        # ================================================================ #
        # YOUR CODE HERE:
        #   A few steps here:
        #     (1) Calculate the running mean and variance of the minibatch.
        #     (2) Normalize the activations with the batch mean and variance.
        #     (3) Scale and shift the normalized activations.  Store this
        #         as the variable 'out'
        #     (4) Store any variables you may need for the backward pass in
        #         the 'cache' variable.
        # ================================================================ #
        minibatch_mean = np.mean(x, axis=0)
        minibatch_var = np.var(x, axis=0)
        x_normalize = (x - minibatch_mean) / np.sqrt(minibatch_var + eps)
        out = gamma * x_normalize + beta


        running_mean = momentum * running_mean + (1 - momentum) * minibatch_mean
        running_var = momentum * running_var + (1 - momentum) * minibatch_var
        bn_param['running_mean'] = running_mean
        bn_param['running_var'] = running_var


        cache = {
            'minibatch_var': minibatch_var,
            'x_centralize': (x - minibatch_mean),
            'x_normalize': x_normalize,
            'gamma': gamma,
            'eps': eps
        }
        # ================================================================ #
        # END YOUR CODE HERE
        # ================================================================ #
    elif mode == 'test':
        # ================================================================ #
        # YOUR CODE HERE:
        #   Calculate the testing time normalized activation.  Normalize using
        #   the running mean and variance, and then scale and shift appropriately.
        #   Store the output as 'out'.
        # ================================================================ #
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        # ================================================================ #
        # END YOUR CODE HERE
        # ================================================================ #
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    # Store the updated running means back into bn_param
    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var

    return out, cache


def batchnorm_backward(dout, cache):
    """
    Backward pass for batch normalization.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: Variable of intermediates from batchnorm_forward.

    Returns a tuple of:
    - dx: Gradient with respect to inputs x, of shape (N, D)
    - dgamma: Gradient with respect to scale parameter gamma, of shape (D,)
    - dbeta: Gradient with respect to shift parameter beta, of shape (D,)
    """
    dx, dgamma, dbeta = None, None, None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Implement the batchnorm backward pass, calculating dx, dgamma, and dbeta.
    # ================================================================ #
    N = dout.shape[0]
    minibatch_var = cache.get('minibatch_var')
    x_centralize = cache.get('x_centralize')
    x_normalize = cache.get('x_normalize')
    gamma = cache.get('gamma')
    eps = cache.get('eps')


    # calculate dx
    dxhat = dout * gamma
    dxmu1 = dxhat / np.sqrt(minibatch_var + eps)
    sqrt_var = np.sqrt(minibatch_var + eps)
    dsqrt_var = -np.sum(dxhat * x_centralize, axis=0) / (sqrt_var**2)
    dvar = dsqrt_var * 0.5 / sqrt_var
    dxmu2 = 2 * x_centralize * dvar * np.ones_like(dout) / N
    dx1 = dxmu1 + dxmu2
    dx2 = -np.sum(dx1, axis=0) * np.ones_like(dout) / N
    dx = dx1 + dx2


    # calculate dbeta and dgamma
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_normalize, axis=0)
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Performs the forward pass for (inverted) dropout.

    Inputs:
    - x: Input data, of any shape
    - dropout_param: A dictionary with the following keys:
      - p: Dropout parameter. We keep each neuron output with probability p,
        and scale the kept outputs by 1 / p during training, so that nothing
        needs to change at test time.
      - mode: 'test' or 'train'. If the mode is train, then perform dropout;
        if the mode is test, then just return the input.
      - seed: Seed for the random number generator. Passing seed makes this
        function deterministic, which is needed for gradient checking but not in
        real networks.

    Draw the training mask as np.random.rand(*x.shape) < p (then scale by 1 / p),
    so that a seeded call gives the same mask as ours.

    Outputs:
    - out: Array of the same shape as x.
    - cache: A tuple (dropout_param, mask). In training mode, mask is the dropout
      mask that was used to multiply the input; in test mode, mask is None.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    out = None

    if mode == 'train':
        # ================================================================ #
        # YOUR CODE HERE:
        #   Implement the inverted dropout forward pass during training time.
        #   Store the masked and scaled activations in out, and store the
        #   dropout mask as the variable mask.
        # ================================================================ #
        mask = (np.random.rand(x.shape[0], x.shape[1]) < p) / p
        out = np.multiply(x, mask)
        # ================================================================ #
        # END YOUR CODE HERE
        # ================================================================ #
    elif mode == 'test':
        # ================================================================ #
        # YOUR CODE HERE:
        #   Implement the inverted dropout forward pass during test time.
        # ================================================================ #
        mask = (np.random.random_sample(x.shape) >= p) / (1 - p)
        out = x * mask
        # ================================================================ #
        # END YOUR CODE HERE
        # ================================================================ #

    cache = (dropout_param, mask)
    if out is not None:
        out = out.astype(x.dtype, copy=False)

    return out, cache


def dropout_backward(dout, cache):
    """
    Perform the backward pass for (inverted) dropout.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: (dropout_param, mask) from dropout_forward.

    Returns:
    - dx: Gradient with respect to x, of the same shape as dout.
    """
    dropout_param, mask = cache
    mode = dropout_param['mode']

    dx = None
    if mode == 'train':
        # ================================================================ #
        # YOUR CODE HERE:
        #   Implement the inverted dropout backward pass during training time.
        # ================================================================ #
        dx = dout * mask
        # ================================================================ #
        # END YOUR CODE HERE
        # ================================================================ #
    elif mode == 'test':
        # ================================================================ #
        # YOUR CODE HERE:
        #   Implement the inverted dropout backward pass during test time.
        # ================================================================ #
        dx = dout
        # ================================================================ #
        # END YOUR CODE HERE
        # ================================================================ #
    return dx


def svm_loss(x, y):
    """
    Computes the loss and gradient using for multiclass SVM classification.

    Inputs:
    - x: Input data, of shape (N, C) where x[i, j] is the score for the jth class
      for the ith input.
    - y: Vector of labels, of shape (N,) where y[i] is the label for x[i] and
      0 <= y[i] < C

    Returns a tuple of:
    - loss: Scalar giving the loss
    - dx: Gradient of the loss with respect to x, of shape (N, C)
    """
    loss, dx = None, None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Compute the mean multiclass hinge loss (margin 1) and its gradient.
    # ================================================================ #
    N = x.shape[0]
    correct_class_scores = x[np.arange(N), y]
    margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    dx[np.arange(N), y] -= num_pos
    dx /= N
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return loss, dx


def softmax_loss(x, y):
    """
    Computes the loss and gradient for softmax classification.

    Subtract each row's maximum score before exponentiating: the result is the
    same, and large scores no longer overflow to inf.

    Inputs:
    - x: Input data, of shape (N, C) where x[i, j] is the score for the jth class
      for the ith input.
    - y: Vector of labels, of shape (N,) where y[i] is the label for x[i] and
      0 <= y[i] < C

    Returns a tuple of:
    - loss: Scalar giving the mean cross-entropy loss
    - dx: Gradient of the loss with respect to x, of shape (N, C)
    """
    loss, dx = None, None

    # ================================================================ #
    # YOUR CODE HERE:
    #   Compute the mean cross-entropy loss and its gradient.
    # ================================================================ #
    probs = np.exp(x - np.max(x, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    N = x.shape[0]
    loss = -np.sum(np.log(probs[np.arange(N), y])) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #

    return loss, dx
