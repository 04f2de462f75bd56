"""
Networks built from the layers of lib/mlp/layer_utils.py.

Each network keeps its layers in `self.net` (a `sequential`); `forward(feat,
is_training=True, seed=None)` runs them in order and `backward(dprev)` in reverse.
Where a TODO asks you to design a network, choose the layers (and their names)
inside `sequential(...)`; the forward and backward passes are given.
"""

from __future__ import print_function

import numpy as np

from lib.mlp.layer_utils import *


class _Network(object):
    """The forward and backward passes every network here shares (provided)."""

    def forward(self, feat, is_training=True, seed=None):
        output = feat
        for layer in self.net.layers:
            if isinstance(layer, dropout):
                output = layer.forward(output, is_training, seed)
            else:
                output = layer.forward(output)
        self.net.gather_params()
        return output

    def backward(self, dprev):
        for layer in self.net.layers[::-1]:
            dprev = layer.backward(dprev)
        self.net.gather_grads()
        return dprev


class TestFCReLU(_Network):
    """
    An example of a simple fully connected network with ReLU activations:
    Flatten -> FC -> ReLU, for inputs of shape (N, 4, 5) (20 features) and 10 outputs.
    """

    def __init__(self, dtype=np.float32, seed=None):
        self.net = None
        ########## TODO: ##########
        self.net = sequential()
        ########### END ###########


class SmallFullyConnectedNetwork(_Network):
    """
    FC -> ReLU -> FC -> ReLU, for inputs of 4 features and 7 outputs with 30 hidden
    units; initialize the weights with a scale (standard deviation) of 0.02.
    """

    def __init__(self, dtype=np.float32, seed=None):
        self.net = None
        ########## TODO: ##########
        self.net = sequential()
        ########### END ###########


class DropoutNet(_Network):
    """
    A fully connected network regularized with dropout (provided): for inputs of 15
    features, Flatten -> FC(20) -> ReLU -> Dropout -> FC(30) -> ReLU -> Dropout -> FC(10).
    """

    def __init__(self, keep_prob=0, dtype=np.float32, seed=None):
        self.dropout = dropout
        self.seed = seed
        self.net = sequential(
            flatten(name="flat"),
            fc(15, 20, 5e-2, name="fc1"),
            relu(name="relu1"),
            dropout(keep_prob, seed=seed, name="dropout1"),
            fc(20, 30, 5e-2, name="fc2"),
            relu(name="relu2"),
            dropout(keep_prob, seed=seed, name="dropout2"),
            fc(30, 10, 5e-2, name="fc3"),
        )


class TinyNet(_Network):
    """
    The network you train: Flatten -> FC -> ReLU -> FC, for inputs of input_dim
    features (3072 for CIFAR-10, 64 for the digits) and num_classes outputs. Choose
    the number of hidden units and the weights' initial scale.
    """

    def __init__(self, input_dim=3 * 32 * 32, num_classes=10, dtype=np.float32, seed=None):
        self.net = None
        ########## TODO: ##########
        self.net = sequential()
        ########### END ###########


class DropoutNetTest(_Network):
    """The network of the dropout experiment (provided): three hidden layers of 500 with dropout."""

    def __init__(self, keep_prob=0, input_dim=3 * 32 * 32, num_classes=10, dtype=np.float32, seed=None):
        self.dropout = dropout
        self.seed = seed
        self.net = sequential(
            flatten(name="flat"),
            fc(input_dim, 500, 1e-2, name="fc1"),
            dropout(keep_prob, seed=seed, name="dropout1"),
            relu(name="relu1"),
            fc(500, 500, 1e-2, name="fc2"),
            dropout(keep_prob, seed=seed, name="dropout2"),
            relu(name="relu2"),
            fc(500, num_classes, 1e-2, name="fc3"),
        )


class FullyConnectedNetwork(_Network):
    """The network of the optimizer comparisons (provided): five hidden layers of 100."""

    def __init__(self, input_dim=3 * 32 * 32, num_classes=10, dtype=np.float32, seed=None):
        self.net = sequential(
            flatten(name="flat"),
            fc(input_dim, 100, 5e-2, name="fc1"),
            relu(name="relu1"),
            fc(100, 100, 5e-2, name="fc2"),
            relu(name="relu2"),
            fc(100, 100, 5e-2, name="fc3"),
            relu(name="relu3"),
            fc(100, 100, 5e-2, name="fc4"),
            relu(name="relu4"),
            fc(100, 100, 5e-2, name="fc5"),
            relu(name="relu5"),
            fc(100, num_classes, 5e-2, name="fc6"),
        )
