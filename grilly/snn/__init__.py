"""Spiking neural networks: neurons with explicit state, surrogate gradients, the fused multi-step LIF
primitive (one Vulkan dispatch forward, one backward), encoders/decoders, plasticity rules and SNN modules.

>>> import grilly.numpy as gnp
>>> from grilly import snn
>>> spikes, v = snn.lif_scan(gnp.full((4, 3), 0.9), tau=2.0)
>>> spikes.shape, v.shape
((4, 3), (4, 3))
"""

from grilly.snn import lif_vulkan as _lif_vulkan  # noqa: F401  (registers the fused Vulkan kernels)
from grilly.snn import surrogate
from grilly.snn.lif import decay_factor, if_scan, if_step, lif_scan, lif_step
from grilly.snn.lif_primitive import lif_scan_bwd_p, lif_scan_p

__all__ = ["decay_factor", "if_scan", "if_step", "lif_scan", "lif_scan_bwd_p", "lif_scan_p", "lif_step",
           "surrogate"]
