"""The classic stateful optimizers: ``optim.Adam(model.parameters(), lr=1e-3)``, ``step()``, ``zero_grad()``.

Each wraps a ``GradientTransformation`` and keeps its state. ``step(grads)`` takes gradients explicitly (a
list matching the parameters, or a pytree shaped like the model); ``step()`` with no argument reads the
gradients that ``loss.backward()`` recorded for the model (see ``grilly.nn.compute_loss``). When the
parameters came from ``model.parameters()``, the new values are written back into the model.

>>> import grilly, grilly.optim as optim, grilly.numpy as gnp
>>> params = [gnp.asarray([1.0, -2.0])]
>>> opt = optim.SGD(params, lr=0.5)
>>> opt.step([gnp.asarray([1.0, 1.0])])
>>> params[0].tolist()
[0.5, -2.5]
"""

from __future__ import annotations

from grilly import tree
from grilly.optim import aliases
from grilly.optim import transforms as T
from grilly.optim.base import GradientTransformation, apply_updates, chain


class Optimizer:
    """Holds parameters, a ``GradientTransformation`` and its state."""

    def __init__(self, params, transform: GradientTransformation):
        from grilly.nn.classic import Parameters
        from grilly.nn.module import Module

        if isinstance(params, Module):
            params = params.parameters()
        self.module = params.module if isinstance(params, Parameters) else None
        self._user_list = params if isinstance(params, list) else None
        self.params = list(params) if isinstance(params, list | tuple) else params
        self.transform = transform
        self.state = transform.init(self.params)

    def _grads(self, grads):
        if grads is None:
            if self.module is None:
                raise ValueError("step() without gradients needs an optimizer built from model.parameters() and "
                                 "a preceding loss.backward(); otherwise pass step(grads)")
            from grilly.nn.classic import grads_of

            grads = grads_of(self.module).grads
            if grads is None:
                raise ValueError("no gradients recorded: call loss.backward() before optimizer.step()")
        if isinstance(self.params, list) and not isinstance(grads, list | tuple):
            grads = tree.leaves(grads)  # a model-shaped gradient for a list of parameters
        if isinstance(self.params, list):
            grads = list(grads)
            if len(grads) != len(self.params):
                raise ValueError(f"step: got {len(grads)} gradients for {len(self.params)} parameters")
        return grads

    def step(self, grads=None) -> None:
        """Apply one update. The new parameters are in ``self.params``, in the list passed to the constructor,
        and in the model when the parameters came from ``model.parameters()``."""
        grads = self._grads(grads)
        updates, self.state = self.transform.update(grads, self.state, self.params)
        self.params = apply_updates(self.params, updates)
        if self._user_list is not None:
            self._user_list[:] = self.params  # the caller's list sees the new arrays, as in-place updates would
        if self.module is not None:
            self._write_back()

    def _write_back(self) -> None:
        from grilly.nn.classic import assign_inplace
        from grilly.nn.filters import combine, is_inexact_array, partition

        trainable, rest = partition(self.module, is_inexact_array)
        new = combine(tree.unflatten(tree.structure(trainable), list(self.params)), rest)
        assign_inplace(self.module, new)

    def zero_grad(self) -> None:
        """Forget the gradients recorded by ``loss.backward()``."""
        if self.module is not None:
            from grilly.nn.classic import grads_of

            grads_of(self.module).clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transform!r})"


def _with_l2(weight_decay: float, inner: GradientTransformation) -> GradientTransformation:
    """PyTorch's coupled ``weight_decay`` (L2 added to the gradient) in front of ``inner``."""
    return chain(T.add_decayed_weights(weight_decay), inner) if weight_decay else inner


class SGD(Optimizer):
    """``optim.SGD(params, lr=0.01, momentum=0.9)``: PyTorch's SGD (dampening 0)."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        opt = aliases.sgd(lr, momentum or None, nesterov)
        super().__init__(params, _with_l2(weight_decay, opt))


class Adam(Optimizer):
    """``optim.Adam(params, lr=1e-3, betas=(0.9, 0.999))``: PyTorch's Adam (``weight_decay`` is L2)."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, _with_l2(weight_decay, aliases.adam(lr, betas[0], betas[1], eps)))


class AdamW(Optimizer):
    """PyTorch's AdamW (decoupled weight decay, default 0.01)."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, aliases.adamw(lr, betas[0], betas[1], eps, weight_decay))


class RMSprop(Optimizer):
    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0):
        super().__init__(params, aliases.rmsprop(lr, alpha, eps, momentum or None))


class Adagrad(Optimizer):
    def __init__(self, params, lr: float = 0.01, initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(params, aliases.adagrad(lr, initial_accumulator_value, eps))


class NLMS(Optimizer):
    """``optim.NLMS(params, step_size=0.01)``: see ``grilly.optim.nlms`` (``lr`` is accepted as an alias)."""

    def __init__(self, params, step_size: float | None = None, eps: float = 1e-6, *, lr: float | None = None):
        mu = step_size if step_size is not None else (lr if lr is not None else 0.01)
        super().__init__(params, T.nlms(mu, eps))


class NaturalGradient(Optimizer):
    """``optim.NaturalGradient(params, lr=1e-3)``: see ``grilly.optim.natural_gradient``."""

    def __init__(self, params, lr: float = 1e-3, fisher_momentum: float = 0.9, damping: float = 1e-8):
        super().__init__(params, T.natural_gradient(lr, fisher_momentum, damping))
