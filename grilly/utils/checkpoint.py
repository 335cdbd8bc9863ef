"""Checkpoints: ``save(path, pytree)`` / ``load(path, like=None)`` for any pytree of arrays (modules,
optimizer states, dicts). Leaves are stored by their pytree path ("layers.0.weight"), in safetensors format
when the ``safetensors`` package is installed and as a NumPy ``.npz`` otherwise; the file's own bytes
decide the format on load. A ``.safetensors`` or ``.npz`` suffix forces that format.

>>> import os, tempfile, grilly.nn as nn
>>> from grilly.utils import checkpoint
>>> model = nn.Linear(3, 2, key=nn.default_key(0))
>>> path = os.path.join(tempfile.mkdtemp(), "model.ckpt")
>>> checkpoint.save(path, model)
>>> restored = checkpoint.load(path, like=nn.Linear(3, 2, key=nn.default_key(1)))
>>> restored.weight.tolist() == model.weight.tolist()
True
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from grilly import tree
from grilly.core import dtypes

_META_KEY = "__grilly_checkpoint__"


def _key(path) -> str:
    return ".".join(str(p) for p in path)


def _flat(t) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    arrays, kinds = {}, {}
    for path, leaf in tree.flatten_with_path(t)[0]:
        name = _key(path)
        a = np.array(np.asarray(leaf), order="C", copy=None)  # (ascontiguousarray would make 0-d arrays 1-d)
        if a.dtype == dtypes.bfloat16:  # stored as its bits; the dtype name is kept in the metadata
            a = a.view(np.uint16)
            kinds[name] = "bfloat16"
        arrays[name] = a
    return arrays, kinds


def _use_safetensors(path: str) -> bool:
    if path.endswith(".npz"):
        return False
    try:
        import safetensors.numpy  # noqa: F401
    except ImportError:
        if path.endswith(".safetensors"):
            raise ImportError("saving a .safetensors checkpoint needs the safetensors package") from None
        return False
    return True


def save(path: str | os.PathLike, pytree: Any) -> None:
    """Write every array leaf of ``pytree`` to ``path`` (exactly that path; no suffix is added)."""
    path = os.fspath(path)
    arrays, kinds = _flat(pytree)
    meta = json.dumps({"format": "grilly", "bfloat16": sorted(kinds)})
    if _use_safetensors(path):
        from safetensors.numpy import save as st_save

        data = st_save(arrays, metadata={_META_KEY: meta})
        with open(path, "wb") as f:
            f.write(data)
        return
    with open(path, "wb") as f:  # a file object: np.savez would otherwise append ".npz" to the name
        np.savez(f, **arrays, **{_META_KEY: np.asarray(meta)})


def _read(path: str) -> tuple[dict[str, np.ndarray], list[str]]:
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"PK":  # a zip archive: .npz
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop(_META_KEY, np.asarray("{}"))))
    else:
        from safetensors import safe_open

        with safe_open(path, framework="numpy") as f:
            arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
            meta = json.loads((f.metadata() or {}).get(_META_KEY, "{}"))
    bf16 = meta.get("bfloat16", [])
    for k in bf16:
        arrays[k] = arrays[k].view(dtypes.bfloat16)
    return arrays, bf16


def load(path: str | os.PathLike, like: Any = None) -> Any:
    """Read a checkpoint. With ``like`` (a pytree of the same structure, e.g. a freshly built model) the
    arrays are put back into that structure; without it, a flat ``{path: array}`` dict is returned."""
    from grilly.numpy._base import asarray

    arrays, _ = _read(os.fspath(path))
    if like is None:
        return {k: asarray(v) for k, v in arrays.items()}
    pairs, treedef = tree.flatten_with_path(like)
    names = [_key(p) for p, _ in pairs]
    missing = [n for n in names if n not in arrays]
    extra = sorted(set(arrays) - set(names))
    if missing or extra:
        raise KeyError(f"checkpoint {os.fspath(path)!r} does not match the structure of `like`: "
                       f"missing {missing[:5]}, unexpected {extra[:5]}")
    leaves = []
    for name, (_, ref) in zip(names, pairs):
        a = arrays[name]
        if np.shape(ref) != a.shape:
            raise ValueError(f"checkpoint entry {name!r} has shape {a.shape}, expected {np.shape(ref)}")
        if isinstance(ref, bool | int | float) and not isinstance(ref, np.generic):
            leaves.append(type(ref)(a.item()))
        else:
            leaves.append(asarray(a))
    return tree.unflatten(treedef, leaves)
