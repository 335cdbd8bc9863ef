from grilly.transforms.batching import vmap
from grilly.transforms.custom import custom_jvp, custom_vjp
from grilly.transforms.jit import jit, make_program
from grilly.transforms.jvp import jvp
from grilly.transforms.misc import checkpoint, hessian, jacfwd, jacrev, remat, stop_gradient
from grilly.transforms.tape import grad, value_and_grad, vjp

__all__ = ["vmap", "custom_jvp", "custom_vjp", "jit", "make_program", "jvp", "checkpoint", "hessian", "jacfwd",
           "jacrev", "remat", "stop_gradient", "grad", "value_and_grad", "vjp"]
