"""``scratch.nn.functional``: stateless operations, named as in ``torch.nn.functional``."""
from ..ops.activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from ..ops.attention import layer_norm, scaled_dot_product_attention
from ..ops.conv import adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d
from ..ops.linear import embedding, linear
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                        focal_loss, l1_loss, mse_loss, nll_loss)
from ..ops.normalization import batch_norm
from ..ops.regularization import dropout

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "conv2d", "cross_entropy", "dropout", "embedding", "focal_loss", "gelu", "l1_loss",
           "layer_norm", "leaky_relu", "linear", "log_softmax", "max_pool2d", "mse_loss", "nll_loss", "relu",
           "scaled_dot_product_attention", "sigmoid", "softmax", "tanh"]
