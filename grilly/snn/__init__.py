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
from grilly.snn.coding import (
    delta_encode,
    first_spike_time,
    latency_encode,
    leaky_integrate,
    membrane_readout,
    poisson_encode,
    rate_decode,
    rate_encode,
    spike_count,
)
from grilly.snn.lif import decay_factor, if_scan, if_step, lif_scan, lif_step
from grilly.snn.lif_primitive import lif_scan_bwd_p, lif_scan_p
from grilly.snn.neurons import (
    alif_scan,
    alif_step,
    cuba_lif_scan,
    cuba_lif_step,
    izhikevich_scan,
    izhikevich_step,
    lif_refrac_scan,
    lif_refrac_step,
)
from grilly.snn.plasticity import (
    STDPTraces,
    as_gradient,
    hebbian_step,
    oja_step,
    stdp_init,
    stdp_scan,
    stdp_step,
    trace_update,
)


def __getattr__(name):  # modules need grilly.nn: import them on first use
    import importlib

    modules = importlib.import_module("grilly.snn.modules")
    if name in modules.__all__:
        return getattr(modules, name)
    raise AttributeError(f"module 'grilly.snn' has no attribute {name!r}")


__all__ = [
    "ALIF", "IF", "LIF", "LeakyReadout", "RecurrentLIF", "STDPTraces", "SpikingConv2d", "SpikingLinear",
    "alif_scan", "alif_step", "as_gradient", "cuba_lif_scan", "cuba_lif_step", "decay_factor", "delta_encode",
    "first_spike_time", "hebbian_step", "if_scan", "if_step", "izhikevich_scan", "izhikevich_step",
    "latency_encode", "leaky_integrate", "lif_refrac_scan", "lif_refrac_step", "lif_scan", "lif_scan_bwd_p",
    "lif_scan_p", "lif_step", "membrane_readout", "oja_step", "poisson_encode", "rate_decode", "rate_encode",
    "spike_count", "stdp_init", "stdp_scan", "stdp_step", "surrogate", "trace_update",
]
