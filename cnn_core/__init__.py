"""cnn_core: a small, verified numpy kernel for the mathematics of convolutional networks.

Layout NCHW, float64 by default (float32 stays float32), every random draw from an explicit
``numpy.random.Generator``. Naive loop references live in :mod:`cnn_core.naive`.
"""

from . import data, naive
from .activations import (leaky_relu, leaky_relu_derivative, log_softmax, relu, relu_derivative,
                          sigmoid, sigmoid_derivative, softmax, softmax_backward, softmax_jacobian,
                          tanh, tanh_derivative)
from .checks import assert_close, check_implementation
from .combination import (LENET5_C3_TABLE, MapCombination, connection_table, entropy_penalty,
                          l1_penalty_on_alpha, l1_penalty_on_relu_weights)
from .conv import col2im, conv2d, conv2d_backward, conv_transpose2d, im2col
from .global_pool import GlobalAvgPool2D, global_avg_pool2d, global_avg_pool2d_backward
from .gradcheck import GradientReport, check_layer_gradients, numerical_gradient, rel_error
from .init import he_normal, xavier_uniform
from .layers import (AvgPool2D, Conv2D, Dense, Flatten, Layer, LeakyReLU, MaxPool2D, ReLU,
                     Sequential, Sigmoid, Subsample2D, Tanh)
from .losses import (binary_cross_entropy_with_logits, cross_entropy, mae_loss, mape_loss,
                     mse_loss, msle_loss)
from .normalization import BatchNorm2D, batch_norm2d, batch_norm2d_backward
from .optim import SGD, Adam
from .pooling import (avg_pool2d, avg_pool2d_backward, lp_pool2d, lp_pool2d_backward, max_pool2d,
                      max_pool2d_argmax, max_pool2d_backward, max_pool2d_mask)
from .regularization import Dropout, dropout
from .residual import Residual
from .shapes import conv_output_size, conv_transpose_output_size, resolve_padding
from .signal2d import convolve2d, correlate2d, down, rot180, up
from .train import History, evaluate, fit, predict

# The public API: every function and class above (the modules data and naive are reached as
# cnn_core.data and cnn_core.naive, the exercise checkers as cnn_core.exercises).
__all__ = [
           "leaky_relu", "leaky_relu_derivative", "log_softmax", "relu", "relu_derivative",
           "sigmoid", "sigmoid_derivative", "softmax", "softmax_backward", "softmax_jacobian",
           "tanh", "tanh_derivative", "assert_close", "check_implementation", "LENET5_C3_TABLE",
           "MapCombination", "connection_table", "entropy_penalty", "l1_penalty_on_alpha",
           "l1_penalty_on_relu_weights", "col2im", "conv2d", "conv2d_backward",
           "conv_transpose2d", "im2col", "GlobalAvgPool2D", "global_avg_pool2d",
           "global_avg_pool2d_backward", "GradientReport", "check_layer_gradients",
           "numerical_gradient", "rel_error", "he_normal", "xavier_uniform", "AvgPool2D",
           "Conv2D", "Dense", "Flatten", "Layer", "LeakyReLU", "MaxPool2D", "ReLU",
           "Sequential", "Sigmoid", "Subsample2D", "Tanh", "binary_cross_entropy_with_logits",
           "cross_entropy", "mae_loss", "mape_loss", "mse_loss", "msle_loss", "BatchNorm2D",
           "batch_norm2d", "batch_norm2d_backward", "SGD", "Adam", "avg_pool2d",
           "avg_pool2d_backward", "lp_pool2d", "lp_pool2d_backward", "max_pool2d",
           "max_pool2d_argmax", "max_pool2d_backward", "max_pool2d_mask", "Dropout", "dropout",
           "Residual", "conv_output_size", "conv_transpose_output_size", "resolve_padding",
           "convolve2d", "correlate2d", "down", "rot180", "up", "History", "evaluate", "fit",
           "predict"]

__version__ = "0.1.0"
