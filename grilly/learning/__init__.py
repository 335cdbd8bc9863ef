"""grilly.learning: continual- and online-learning rules: EWC, NLMS, whitening, natural gradient.

>>> import grilly.numpy as gnp, grilly.learning as gl
>>> float(gl.ewc_penalty(gnp.asarray([1.0]), gnp.asarray([0.0]), gnp.asarray([4.0]), strength=1.0))
2.0
"""

from grilly.learning.ewc import EWCState, ewc_penalty, fisher_diagonal, fisher_from_gradients
from grilly.learning.natural_gradient import conjugate_gradient, empirical_fisher, natural_gradient
from grilly.learning.nlms import nlms_filter, nlms_update
from grilly.learning.whitening import covariance, symmetric_eigh, whiten, whitening_matrix

__all__ = [
    "EWCState", "conjugate_gradient", "covariance", "empirical_fisher", "ewc_penalty", "fisher_diagonal",
    "fisher_from_gradients", "natural_gradient", "nlms_filter", "nlms_update", "symmetric_eigh", "whiten",
    "whitening_matrix",
]
