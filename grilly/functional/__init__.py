"""grilly.functional: pure functions for neural networks (``import grilly.functional as F``).

Every function takes grilly arrays or NumPy arrays, returns grilly arrays, and works under ``grad``,
``vmap`` and ``jit``. Weight layouts follow PyTorch (linear: (out, in); conv: (out, in / groups, *kernel)).

>>> import grilly.functional as F, numpy as np
>>> x = np.array([[-1.0, 2.0]], np.float32)
>>> F.relu(F.linear(x, np.eye(2, dtype=np.float32))).tolist()
[[0.0, 2.0]]
"""

from grilly.functional.activations import (
    elu,
    gelu,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    relu,
    relu6,
    sigmoid,
    silu,
    softmax,
    softplus,
    swish,
    tanh,
)
from grilly.functional.attention import (
    attention_scores,
    flash_attention2,
    merge_heads,
    multi_head_attention,
    scaled_dot_product_attention,
    split_heads,
)
from grilly.functional.conv import avg_pool1d, avg_pool2d, conv1d, conv2d, max_pool1d, max_pool2d
from grilly.functional.linear import embedding, linear, matmul, one_hot
from grilly.functional.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)
from grilly.functional.normalization import dropout, layer_norm, rms_norm

__all__ = [
    "attention_scores", "avg_pool1d", "avg_pool2d", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "conv1d", "conv2d", "cross_entropy", "dropout", "elu", "embedding", "flash_attention2", "gelu", "l1_loss",
    "layer_norm", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "matmul", "max_pool1d", "max_pool2d",
    "merge_heads", "mse_loss", "multi_head_attention", "nll_loss", "one_hot", "relu", "relu6", "rms_norm",
    "scaled_dot_product_attention", "sigmoid", "silu", "softmax", "softplus", "split_heads", "swish", "tanh",
]
