"""grilly.numpy.linalg."""

from grilly.numpy._linalg import norm

__all__ = ["norm"]
