"""
Layers of a multi-layer perceptron, as classes.

Every layer keeps its parameters in `self.params` and the gradients of the loss
with respect to them in `self.grads`, both dicts keyed by parameter name
('<layer name>_w', '<layer name>_b'). `forward(feat)` returns the output and keeps
what the backward pass needs in `self.meta`; `backward(dprev)` takes the gradient
of the loss with respect to the output, stores the parameters' gradients in
`self.grads` and returns the gradient with respect to the input. A backward pass
never writes into `dprev`: the caller still owns it.
"""

from __future__ import print_function

import numpy as np


class sequential(object):
    def __init__(self, *args):
        """
        Sequential Object to serialize the NN layers
        Please read this code block and understand how it works
        """
        self.params = {}
        self.grads = {}
        self.layers = []
        self.paramName2Indices = {}
        self.layer_names = {}

        # process the parameters layer by layer
        for layer_cnt, layer in enumerate(args):
            for n, v in layer.params.items():
                self.params[n] = v
                self.paramName2Indices[n] = layer_cnt
            for n, v in layer.grads.items():
                self.grads[n] = v
            if layer.name in self.layer_names:
                raise ValueError("Existing name {}!".format(layer.name))
            self.layer_names[layer.name] = True
            self.layers.append(layer)

    def assign(self, name, val):
        # load the given values to the layer by name
        layer_cnt = self.paramName2Indices[name]
        self.layers[layer_cnt].params[name] = val

    def assign_grads(self, name, val):
        # load the given values to the layer by name
        layer_cnt = self.paramName2Indices[name]
        self.layers[layer_cnt].grads[name] = val

    def get_params(self, name):
        # return the parameters by name
        return self.params[name]

    def get_grads(self, name):
        # return the gradients by name
        return self.grads[name]

    def gather_params(self):
        """
        Collect the parameters of every submodules
        """
        for layer in self.layers:
            for n, v in layer.params.items():
                self.params[n] = v

    def gather_grads(self):
        """
        Collect the gradients of every submodules
        """
        for layer in self.layers:
            for n, v in layer.grads.items():
                self.grads[n] = v

    def load(self, pretrained):
        """
        Load a pretrained model by names
        """
        for layer in self.layers:
            if not hasattr(layer, "params"):
                continue
            for n, v in layer.params.items():
                if n in pretrained.keys():
                    layer.params[n] = pretrained[n].copy()
                    print("Loading Params: {} Shape: {}".format(n, layer.params[n].shape))


class flatten(object):
    def __init__(self, name="flatten"):
        """
        - name: the name of current layer
        - meta: to store the forward pass activations for computing backpropagation
        Note: params and grads should be just empty dicts here, do not update them
        """
        self.name = name
        self.params = {}
        self.grads = {}
        self.meta = None

    def forward(self, feat):
        """Flatten every example: (N, d_1, ..., d_k) -> (N, d_1 * ... * d_k)."""
        output = None
        #############################################################################
        # TODO: Implement the forward pass of a flatten layer.                      #
        # You need to reshape (flatten) the input features.                         #
        # Store the results in the variable self.meta provided above.               #
        #############################################################################
        # BEGIN SOLUTION
        output = feat.reshape(feat.shape[0], -1)
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
        self.meta = feat
        return output

    def backward(self, dprev):
        """The gradient with respect to the input: dprev reshaped to the input's shape."""
        feat = self.meta
        if feat is None:
            raise ValueError("No forward function called before for this module!")
        dfeat = None
        #############################################################################
        # TODO: Implement the backward pass of a flatten layer.                     #
        # You need to reshape (flatten) the input gradients and return.             #
        # Store the results in the variable dfeat provided above.                   #
        #############################################################################
        # BEGIN SOLUTION
        dfeat = dprev.reshape(feat.shape)
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
        self.meta = None
        return dfeat


class fc(object):
    def __init__(self, input_dim, output_dim, init_scale=0.002, name="fc"):
        """
        In forward pass, please use self.params for the weights and biases for this layer
        In backward pass, store the computed gradients to self.grads
        - name: the name of current layer
        - input_dim: input dimension
        - output_dim: output dimension
        - meta: to store the forward pass activations for computing backpropagation
        """
        self.name = name
        self.w_name = name + "_w"
        self.b_name = name + "_b"
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.params = {}
        self.grads = {}
        self.params[self.w_name] = init_scale * np.random.randn(input_dim, output_dim)
        self.params[self.b_name] = np.zeros(output_dim)
        self.grads[self.w_name] = None
        self.grads[self.b_name] = None
        self.meta = None

    def forward(self, feat):
        """feat (N, input_dim) -> feat W + b, of shape (N, output_dim); W (input_dim, output_dim)."""
        output = None
        #############################################################################
        # TODO: Implement the forward pass of a single fully connected layer.       #
        # Store the results in the variable output provided above.                  #
        #############################################################################
        # BEGIN SOLUTION
        output = feat.reshape(feat.shape[0], -1).dot(self.params[self.w_name]) + self.params[self.b_name]
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
        self.meta = feat
        return output

    def backward(self, dprev):
        """
        dprev (N, output_dim) -> the gradient with respect to feat, of feat's shape.
        Stores the gradient of W, of shape (input_dim, output_dim), in
        self.grads[self.w_name], and that of b, of shape (output_dim,), in
        self.grads[self.b_name].
        """
        feat = self.meta
        if feat is None:
            raise ValueError("No forward function called before for this module!")
        dfeat, self.grads[self.w_name], self.grads[self.b_name] = None, None, None
        #############################################################################
        # TODO: Implement the backward pass of a single fully connected layer.      #
        # You should update self.grads[self.w_name] and self.grads[self.b_name].    #
        # Store the results in the variable dfeat provided above.                   #
        #############################################################################
        # BEGIN SOLUTION
        flat = feat.reshape(feat.shape[0], -1)
        self.grads[self.w_name] = flat.T.dot(dprev)
        self.grads[self.b_name] = dprev.sum(axis=0)
        dfeat = dprev.dot(self.params[self.w_name].T).reshape(feat.shape)
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
        self.meta = None
        return dfeat


class relu(object):
    def __init__(self, name="relu"):
        """
        - name: the name of current layer
        - meta: to store the forward pass activations for computing backpropagation
        Note: params and grads should be just empty dicts here, do not update them
        """
        self.name = name
        self.params = {}
        self.grads = {}
        self.meta = None

    def forward(self, feat):
        """ Some comments """
        output = None
        #############################################################################
        # TODO: Implement the forward pass of a rectified linear unit               #
        # Store the results in the variable output provided above.                  #
        #############################################################################
        # BEGIN SOLUTION
        output = np.maximum(0, feat)
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
        self.meta = feat
        return output

    def backward(self, dprev):
        """ Some comments """
        feat = self.meta
        if feat is None:
            raise ValueError("No forward function called before for this module!")
        dfeat = None
        #############################################################################
        # TODO: Implement the backward pass of a rectified linear unit              #
        # Store the results in the variable dfeat provided above.                   #
        #############################################################################
        # BEGIN SOLUTION
        dfeat = dprev * (feat > 0)
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
        self.meta = None
        return dfeat


class dropout(object):
    def __init__(self, keep_prob, seed=None, name="dropout"):
        """
        - name: the name of current layer
        - keep_prob: probability that each element is kept.
        - meta: to store the forward pass activations for computing backpropagation
        - kept: the mask for dropping out the neurons
        - is_training: dropout behaves differently during training and testing, use
                       this to indicate which phase is the current one
        - rng: numpy random number generator using the given seed
        Note: params and grads should be just empty dicts here, do not update them
        """
        self.name = name
        self.params = {}
        self.grads = {}
        self.keep_prob = keep_prob
        self.meta = None
        self.kept = None
        self.is_training = False
        self.rng = np.random.RandomState(seed)
        assert keep_prob >= 0 and keep_prob <= 1, "Keep Prob = {} is not within [0, 1]".format(keep_prob)

    def forward(self, feat, is_training=True, seed=None):
        """
        Inverted dropout. In training (and when keep_prob > 0) keep each element with
        probability keep_prob and scale the kept ones by 1 / keep_prob; draw the mask
        as `self.rng.uniform(size=feat.shape) < self.keep_prob`. keep_prob = 0 means
        no dropout, and at test time dropout is the identity. Store the mask (with its
        scaling) in `kept`.
        """
        if seed is not None:
            self.rng = np.random.RandomState(seed)
        kept = None
        output = None
        #############################################################################
        # TODO: Implement the forward pass of Dropout.                              #
        # Remember if the keep_prob = 0, there is no dropout.                       #
        # Use self.rng to generate random numbers, as the docstring says.           #
        # Store the mask in kept.                                                   #
        #############################################################################
        # BEGIN SOLUTION
        if is_training and self.keep_prob > 0:
            kept = (self.rng.uniform(size=feat.shape) < self.keep_prob) / self.keep_prob
            output = feat * kept
        else:
            kept = np.ones_like(feat)
            output = feat
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
        self.kept = kept
        self.is_training = is_training
        self.meta = feat
        return output

    def backward(self, dprev):
        feat = self.meta
        dfeat = None
        if feat is None:
            raise ValueError("No forward function called before for this module!")
        #############################################################################
        # TODO: Implement the backward pass of Dropout                              #
        # Select gradients only from selected activations.                          #
        # Store the results in the variable dfeat provided above.                   #
        #############################################################################
        # BEGIN SOLUTION
        if self.is_training and self.keep_prob > 0:
            dfeat = dprev * self.kept
        else:
            dfeat = dprev
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
        self.is_training = False
        self.meta = None
        return dfeat


class cross_entropy(object):
    def __init__(self, size_average=True):
        """
        - size_average: if dividing by the batch size or not
        - logit: intermediate variables to store the scores
        - label: Ground truth label for classification task
        """
        self.size_average = size_average
        self.logit = None
        self.label = None

    def forward(self, feat, label):
        """The mean (size_average) or summed cross-entropy of softmax(feat) (N, C) against label (N,)."""
        logit = softmax(feat)
        loss = None
        #############################################################################
        # TODO: Implement the forward pass of an CE Loss                            #
        # Store the loss in the variable loss provided above.                       #
        #############################################################################
        # BEGIN SOLUTION
        N = feat.shape[0]
        loss = -np.sum(np.log(np.maximum(logit[np.arange(N), label], 1e-300)))
        if self.size_average:
            loss /= N
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
        self.logit = logit
        self.label = label
        return loss

    def backward(self):
        """The gradient of the loss with respect to feat, of shape (N, C)."""
        logit = self.logit
        label = self.label
        if logit is None:
            raise ValueError("No forward function called before for this module!")
        dlogit = None
        #############################################################################
        # TODO: Implement the backward pass of an CE Loss                           #
        # Store the output gradients in the variable dlogit provided above.         #
        #############################################################################
        # BEGIN SOLUTION
        N = logit.shape[0]
        dlogit = logit.copy()
        dlogit[np.arange(N), label] -= 1
        if self.size_average:
            dlogit /= N
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
        self.logit = None
        self.label = None
        return dlogit


def softmax(feat):
    """Row-wise softmax of scores feat (N, C); subtract each row's maximum first, or large scores overflow."""
    scores = None
    #############################################################################
    # TODO: Implement the forward pass of a softmax function                    #
    # Return softmax values over the last dimension of feat.                    #
    #############################################################################
    # BEGIN SOLUTION
    shifted = feat - np.max(feat, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    scores = exp / np.sum(exp, axis=-1, keepdims=True)
    # END SOLUTION
    #############################################################################
    #                             END OF YOUR CODE                              #
    #############################################################################
    return scores
