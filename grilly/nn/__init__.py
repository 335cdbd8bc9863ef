"""grilly.nn: modules as immutable pytrees (``import grilly.nn as nn``).

A ``Module`` is a frozen dataclass whose array fields are pytree leaves and whose ``static`` fields are
configuration, so a model goes straight through ``grilly.grad``, ``jit``, ``vmap``, optimizers and
checkpoints. Layers take an explicit ``key=`` for initialization (``None`` draws from a default sequence).

>>> import grilly, grilly.nn as nn, grilly.functional as F, numpy as np
>>> model = nn.MLP(4, 3, hidden_features=8, key=nn.default_key(0))
>>> x, y = np.ones((2, 4), np.float32), np.array([0, 2])
>>> grads = grilly.grad(lambda m: F.cross_entropy(m(x), y))(model)
>>> grads.layers[0].weight.shape
(8, 4)
"""

from grilly.nn.attention import Attention, MultiHeadAttention, TransformerEncoderLayer
from grilly.nn.classic import Loss, Parameters, compute_loss, grads_of
from grilly.nn.containers import MLP, Sequential
from grilly.nn.conv import AvgPool1d, AvgPool2d, Conv1d, Conv2d, MaxPool1d, MaxPool2d
from grilly.nn.filters import combine, filter, is_array_leaf, is_inexact_array, partition, tree_at
from grilly.nn.init import default_key, manual_seed
from grilly.nn.layers import (
    GELU,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    Lambda,
    LayerNorm,
    LeakyReLU,
    Linear,
    ReLU,
    RMSNorm,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from grilly.nn.module import Module, field, map_modules, set_training, static
from grilly.nn.training import make_train_step

__all__ = [
    "GELU", "MLP", "Attention", "AvgPool1d", "AvgPool2d", "Conv1d", "Conv2d", "Dropout", "Embedding", "Flatten",
    "Identity", "Lambda", "LayerNorm", "LeakyReLU", "Linear", "Loss", "MaxPool1d", "MaxPool2d", "Module",
    "MultiHeadAttention", "Parameters", "RMSNorm", "ReLU", "Sequential", "SiLU", "Sigmoid", "Softmax", "Tanh",
    "TransformerEncoderLayer", "combine", "compute_loss", "default_key", "field", "filter", "grads_of",
    "is_array_leaf", "is_inexact_array", "make_train_step", "manual_seed", "map_modules", "partition",
    "set_training", "static", "tree_at",
]
