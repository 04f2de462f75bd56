"""
Optimizers. Each holds the network (a `sequential`) and updates every parameter
of every layer in place when `step()` is called, from the gradients the last
backward pass stored in each layer's `grads`.
"""

from __future__ import print_function

import numpy as np


class Optimizer(object):
    def __init__(self, net, lr=1e-4):
        self.net = net  # the model
        self.lr = lr  # learning rate

    def step(self):
        """ Make a single gradient update. """
        for layer in self.net.layers:
            for n, v in list(layer.params.items()):
                dv = layer.grads[n]
                layer.params[n] -= self.lr * dv


class SGD(Optimizer):
    """ Some comments """

    def __init__(self, net, lr=1e-4):
        self.net = net
        self.lr = lr

    def step(self):
        for layer in self.net.layers:
            for n, v in list(layer.params.items()):
                dv = layer.grads[n]
                layer.params[n] -= self.lr * dv


class SGDM(Optimizer):
    """
    SGD with momentum: v = momentum * v - lr * dw; w = w + v. The velocity of each
    parameter is kept in self.velocity[name], zero before the first step.
    """

    def __init__(self, net, lr=1e-4, momentum=0.0):
        self.net = net
        self.lr = lr
        self.momentum = momentum
        self.velocity = {}  # last update of the velocity

    def step(self):
        #############################################################################
        # TODO: Implement the SGD + Momentum                                        #
        #############################################################################
        # BEGIN SOLUTION
        for layer in self.net.layers:
            for n, v in list(layer.params.items()):
                dv = layer.grads[n]
                velocity = self.velocity.get(n, np.zeros_like(v))
                self.velocity[n] = self.momentum * velocity - self.lr * dv
                layer.params[n] = v + self.velocity[n]
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################


class RMSProp(Optimizer):
    """
    RMSProp: cache = decay * cache + (1 - decay) * dw**2; w = w - lr * dw / sqrt(cache + eps).
    The cache of each parameter is kept in self.cache[name], zero before the first step.
    """

    def __init__(self, net, lr=1e-2, decay=0.99, eps=1e-8):
        self.net = net
        self.lr = lr
        self.decay = decay
        self.eps = eps
        self.cache = {}  # decaying average of past squared gradients

    def step(self):
        #############################################################################
        # TODO: Implement the RMSProp                                               #
        #############################################################################
        # BEGIN SOLUTION
        for layer in self.net.layers:
            for n, v in list(layer.params.items()):
                dv = layer.grads[n]
                cache = self.cache.get(n, np.zeros_like(v))
                self.cache[n] = self.decay * cache + (1 - self.decay) * dv ** 2
                layer.params[n] = v - self.lr * dv / np.sqrt(self.cache[n] + self.eps)
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################


class Adam(Optimizer):
    """
    Adam: t = t + 1 (once per step, before the update); mt = beta1 * mt + (1 - beta1) * dw;
    vt = beta2 * vt + (1 - beta2) * dw**2; w = w - lr * mt_hat / (sqrt(vt_hat) + eps) with
    mt_hat = mt / (1 - beta1**t), vt_hat = vt / (1 - beta2**t). The moments of each
    parameter are kept in self.mt[name] and self.vt[name], zero before the first step.
    """

    def __init__(self, net, lr=1e-3, beta1=0.9, beta2=0.999, t=0, eps=1e-8):
        self.net = net
        self.lr = lr
        self.beta1, self.beta2 = beta1, beta2
        self.eps = eps
        self.mt = {}
        self.vt = {}
        self.t = t

    def step(self):
        #############################################################################
        # TODO: Implement the Adam                                                  #
        #############################################################################
        # BEGIN SOLUTION
        self.t += 1
        for layer in self.net.layers:
            for n, v in list(layer.params.items()):
                dv = layer.grads[n]
                self.mt[n] = self.beta1 * self.mt.get(n, np.zeros_like(v)) + (1 - self.beta1) * dv
                self.vt[n] = self.beta2 * self.vt.get(n, np.zeros_like(v)) + (1 - self.beta2) * dv ** 2
                mt_hat = self.mt[n] / (1 - self.beta1 ** self.t)
                vt_hat = self.vt[n] / (1 - self.beta2 ** self.t)
                layer.params[n] = v - self.lr * mt_hat / (np.sqrt(vt_hat) + self.eps)
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
