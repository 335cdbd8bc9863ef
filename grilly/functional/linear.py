"""Linear maps, embeddings and one-hot encoding (PyTorch weight layouts).

>>> import grilly.functional as F, numpy as np
>>> F.linear(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)).shape
(2, 4)
"""

from __future__ import annotations

import grilly.numpy as gnp
from grilly.core import dtypes
from grilly.core.errors import ShapeError
from grilly.functional._util import asarray, promote
from grilly.lax.linalg import dot_general


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` with ``weight`` of shape (out_features, in_features), as torch.nn.functional.

    The contraction runs on ``weight`` as stored (no transposed copy).

    >>> import grilly.functional as F, numpy as np
    >>> F.linear(np.array([[1.0, 2.0]]), np.array([[1.0, 1.0]]), np.array([0.5])).tolist()
    [[3.5]]
    """
    x, weight = asarray(x), asarray(weight)
    if weight.ndim != 2:
        raise ShapeError(f"linear: weight must be (out_features, in_features), got shape {weight.shape}")
    if x.shape[-1:] != weight.shape[1:]:
        raise ShapeError(f"linear: input {x.shape} has {x.shape[-1] if x.ndim else 0} features but weight "
                         f"{weight.shape} expects {weight.shape[1]}")
    dt = dtypes.result_type(x.dtype, weight.dtype)
    x, weight = gnp.astype(x, dt), gnp.astype(weight, dt)
    y = dot_general(x, weight, (((x.ndim - 1,), (1,)), ((), ())))
    if bias is not None:
        y = y + gnp.astype(asarray(bias), dt)
    return y


def matmul(a, b):
    """Matrix product with NumPy broadcasting rules (``a @ b``).

    >>> import grilly.functional as F, numpy as np
    >>> F.matmul(np.eye(2), np.array([[1.0], [2.0]])).tolist()
    [[1.0], [2.0]]
    """
    return gnp.matmul(a, b)


def embedding(ids, weight):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by integer ``ids`` of any shape.

    >>> import grilly.functional as F, numpy as np
    >>> F.embedding(np.array([2, 0]), np.arange(6.0).reshape(3, 2)).tolist()
    [[4.0, 5.0], [0.0, 1.0]]
    """
    ids = asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding: ids must be integers, got {ids.dtype}")
    return gnp.take(asarray(weight), ids, axis=0)


def one_hot(labels, num_classes: int, dtype=None):
    """A float array with ``labels.shape + (num_classes,)``: 1 at each label, 0 elsewhere (out-of-range: all 0).

    >>> import grilly.functional as F
    >>> F.one_hot([1, 0], 3).tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """
    labels = asarray(labels)
    classes = gnp.arange(int(num_classes), dtype=labels.dtype)
    (hit,) = promote(gnp.expand_dims(labels, -1) == classes)
    return gnp.astype(hit, dtype or dtypes.default_float())
