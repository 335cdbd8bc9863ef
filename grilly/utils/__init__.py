"""Utilities: device management, NumPy/PyTorch/DLPack conversion, PyTorch-style constructors, and the
HuggingFace bridge. Nothing here imports torch or transformers until a function that needs them is called.

>>> import grilly.utils as utils
>>> device = utils.get_device_manager()
>>> x = utils.to_vulkan([1.0, 2.0, 3.0])
>>> utils.from_vulkan(x * 2).tolist()
[2.0, 4.0, 6.0]
>>> utils.zeros((2, 4)).shape, utils.randn((8,)).shape
((2, 4), (8,))
"""

from __future__ import annotations

import importlib

from grilly.utils import tensor_conversion
from grilly.utils.device_manager import DeviceInfo, DeviceManager, get_device_manager, get_vulkan_backend
from grilly.utils.pytorch_compat import (
    arange,
    cat,
    from_numpy,
    manual_seed,
    ones,
    rand,
    randn,
    stack,
    tensor,
    zeros,
)
from grilly.utils.tensor_conversion import (
    from_vulkan,
    to_numpy,
    to_torch,
    to_vulkan,
    to_vulkan_batch,
    tree_from_vulkan,
    tree_to_vulkan,
)


def get_huggingface_bridge():
    """The bridge that turns HuggingFace transformers models (BERT family, GPT-2) into grilly modules."""
    from grilly.utils.huggingface import get_huggingface_bridge as get

    return get()


def __getattr__(name):
    # submodules with optional dependencies load on first use
    if name in ("huggingface", "checkpoint"):
        return importlib.import_module(f"grilly.utils.{name}")
    if name in ("save_checkpoint", "load_checkpoint"):  # the classic names of checkpoint.save / load
        from grilly.utils import checkpoint

        return checkpoint.save if name == "save_checkpoint" else checkpoint.load
    if name == "HuggingFaceBridge":
        from grilly.utils.huggingface import HuggingFaceBridge

        return HuggingFaceBridge
    raise AttributeError(f"module 'grilly.utils' has no attribute {name!r}")


__all__ = [
    "DeviceInfo", "DeviceManager", "arange", "cat", "from_numpy", "from_vulkan", "get_device_manager",
    "get_huggingface_bridge", "get_vulkan_backend", "load_checkpoint", "manual_seed", "ones", "rand", "randn",
    "save_checkpoint", "stack", "tensor", "tensor_conversion", "to_numpy", "to_torch", "to_vulkan",
    "to_vulkan_batch", "tree_from_vulkan", "tree_to_vulkan", "zeros",
]
