"""Shared helpers for grilly.functional: inputs may be grilly arrays, tracers or NumPy arrays."""

from __future__ import annotations

from grilly.numpy._base import asarray, is_array, promote

__all__ = ["as_float", "asarray", "is_array", "promote", "reduce_loss"]


def as_float(x):
    """``x`` as a grilly array of a float dtype (integers become the default float)."""
    (x,) = promote(x, to_float=True, op="functional")
    return x


def reduce_loss(per_element, reduction: str):
    """Apply a PyTorch-style ``reduction``: "mean", "sum" or "none"."""
    import grilly.numpy as gnp

    if reduction == "mean":
        return gnp.mean(per_element)
    if reduction == "sum":
        return gnp.sum(per_element)
    if reduction == "none":
        return per_element
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
