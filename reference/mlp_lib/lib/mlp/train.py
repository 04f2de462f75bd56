"""Training a network with minibatch gradient descent, and measuring its accuracy."""

from __future__ import print_function

import numpy as np

from lib.mlp.layer_utils import softmax


def compute_acc(model, data, labels, num_samples=None, batch_size=100):
    """
    Compute the accuracy of given data and labels

    Arguments:
    - data: Array of input data, of shape (batch_size, d_1, ..., d_k)
    - labels: Array of labels, of shape (batch_size,)
    - num_samples: If not None, subsample the data and only test the model
      on these sampled datapoints.
    - batch_size: Split data into batches of size batch_size

    Returns:
    - accuracy: Scalar indicating fraction of inputs that were correctly
      classified by the model.
    """
    N = data.shape[0]
    if num_samples is not None and N > num_samples:
        indices = np.random.choice(N, num_samples)
        N = num_samples
        data = data[indices]
        labels = labels[indices]

    num_batches = N // batch_size
    if N % batch_size != 0:
        num_batches += 1
    preds = []
    for i in range(num_batches):
        start = i * batch_size
        end = (i + 1) * batch_size
        output = model.forward(data[start:end], False)
        scores = softmax(output)
        pred = np.argmax(scores, axis=1)
        preds.append(pred)
    preds = np.hstack(preds)
    accuracy = np.mean(preds == labels)
    return accuracy


def train_net(data, model, loss_func, optimizer, batch_size, max_epochs,
              lr_decay=1.0, lr_decay_every=1000, show_every=10, verbose=False):
    """
    Train a network with this function, parameters of the network are updated
    using stochastic gradient descent methods defined in optim.py.

    The parameters which achive the best performance after training for given epochs
    will be returned as a param dict. The training history and the validation history
    is returned for post analysis.

    Arguments:
    - data: Data instance should look like the followings:
    - data_dict = {
        "data_train": (# Training data,   # Training GT Labels),
        "data_val":   (# Validation data, # Validation GT Labels),
        "data_test":  (# Testing data,    # Testing GT Labels),
      }
    - model: An instance defined in the fully_conn.py, with a sequential object as attribute
    - loss_func: An instance defined in the layer_utils.py, we only introduce cross-entropy
      classification loss for this part of assignment
    - batch_size: Batch size of the input data
    - max_epochs: The total number of epochs to train the model
    - lr_decay: The amount to decay the learning rate
    - lr_decay_every: Decay the learning rate every given epochs
    - show_every: Show the training information every given iterations
    - verbose: To show the information or not

    Returns:
    - opt_params: optimal parameters
    - loss_hist: Loss recorded during training, one per iteration
    - train_acc_hist: Training accuracy recorded during training, one per epoch
    - val_acc_hist: Validation accuracy recorded during training, one per epoch
    """
    # Initialize the variables
    data_train, labels_train = data["data_train"]
    data_val, labels_val = data["data_val"]
    N = len(data_train)
    iterations_per_epoch = int(max(N / batch_size, 1))
    num_iters = int(iterations_per_epoch * max_epochs)
    opt_val_acc = 0.0
    opt_params = None
    loss_hist = []
    train_acc_hist = []
    val_acc_hist = []

    # Compute the maximum iterations and iterations per epoch
    iterations_per_epoch = max(int(N / batch_size), 1)
    num_iters = int(max_epochs * iterations_per_epoch)

    # Start training
    for epoch in range(max_epochs):
        # Compute the starting iteration and ending iteration for current epoch
        iter_start = epoch * iterations_per_epoch
        iter_end = (epoch + 1) * iterations_per_epoch

        # Decay the learning rate every specified epochs
        if epoch % lr_decay_every == 0 and epoch > 0:
            optimizer.lr = optimizer.lr * lr_decay
            print("Decaying learning rate of the optimizer to {}".format(optimizer.lr))

        # Main training loop
        for iter in range(iter_start, iter_end):
            data_batch = None
            labels_batch = None
            #############################################################################
            # TODO: Update the parameters by a forward pass for the network, a backward #
            # pass to the network, and make a step for the optimizer.                   #
            # Sample batch_size examples with np.random.choice(N, batch_size), then     #
            # compute the loss with loss_func, backpropagate its gradient through the   #
            # model, and call optimizer.step(). Keep the loss in the variable loss.     #
            #############################################################################
            # BEGIN SOLUTION
            batch_mask = np.random.choice(N, batch_size)
            data_batch = data_train[batch_mask]
            labels_batch = labels_train[batch_mask]
            output = model.forward(data_batch, True)
            loss = loss_func.forward(output, labels_batch)
            dLoss = loss_func.backward()
            model.backward(dLoss)
            optimizer.step()
            # END SOLUTION
            #############################################################################
            #                             END OF YOUR CODE                              #
            #############################################################################
            loss_hist.append(loss)

            # Show the training loss
            if verbose and iter % show_every == 0:
                print("(Iteration {} / {}) loss: {}".format(iter + 1, num_iters, loss_hist[-1]))

        # End of epoch, compute the accuracies
        train_acc = 0
        val_acc = 0
        #############################################################################
        # TODO: Compute the training accuracy and validation accuracy, store the    #
        # results to train_acc_hist, and val_acc_hist respectively                  #
        #############################################################################
        # BEGIN SOLUTION
        train_acc = compute_acc(model, data_train, labels_train, num_samples=1000)
        val_acc = compute_acc(model, data_val, labels_val)
        # END SOLUTION
        #############################################################################
        #                             END OF YOUR CODE                              #
        #############################################################################
        train_acc_hist.append(train_acc)
        val_acc_hist.append(val_acc)

        # Save the best params for the model
        if val_acc > opt_val_acc:
            #############################################################################
            # TODO: Save the optimal parameters to opt_params variable by name          #
            #############################################################################
            # BEGIN SOLUTION
            opt_val_acc = val_acc
            opt_params = {}
            for layer in model.net.layers:
                for n, v in layer.params.items():
                    opt_params[n] = v.copy()
            # END SOLUTION
            #############################################################################
            #                             END OF YOUR CODE                              #
            #############################################################################

        # Show the training accuracies
        if verbose:
            print("(Epoch {} / {}) Training Accuracy: {}, Validation Accuracy: {}".format(
                epoch + 1, max_epochs, train_acc, val_acc))

    return opt_params, loss_hist, train_acc_hist, val_acc_hist
