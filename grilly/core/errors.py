"""grilly's exception types. Each message names the op, what it received and what it expected."""


class GrillyError(Exception):
    """Base class of grilly's own errors."""


class ShapeError(GrillyError, ValueError):
    """Operands whose shapes do not fit the op."""


class DTypeError(GrillyError, TypeError):
    """Operands whose dtypes do not fit the op."""


class ConcretizationError(GrillyError, TypeError):
    """A traced value was used where Python needs a concrete one (``if``, ``int()``, a shape ...)."""


class TransformError(GrillyError):
    """A transform was applied where it has no rule (e.g. reverse-mode through ``while_loop``)."""


class BackendError(GrillyError, RuntimeError):
    """A backend cannot run an op (no kernel for it, or an unsupported dtype)."""


class OutOfMemoryError(GrillyError, MemoryError):
    """The device ran out of memory; the process stays usable and the failed op had no effect."""
