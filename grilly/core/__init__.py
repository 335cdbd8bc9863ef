"""The core: arrays, dtypes, primitives, the trace stack and programs."""
