"""The classic grilly facade (``grilly.Compute``, ``SNNCompute``, ``Learning``, ``CapsuleTransformer``) on top of the
functional core. Each class takes and returns NumPy arrays as the classic API did; the work runs on grilly's
default backend."""

from grilly.compat.compute import Compute, SNNCompute, VulkanCompute
from grilly.compat.learning import CapsuleTransformer, Learning, VulkanLearning

__all__ = ["Compute", "SNNCompute", "VulkanCompute", "CapsuleTransformer", "Learning", "VulkanLearning"]
