"""Timing helpers shared by the benchmark suites: warm-ups, synchronization, medians."""

from __future__ import annotations

import os
import statistics
import time

# Every framework shares one GPU in these runs: JAX must not reserve 75% of its memory up front.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def median_ms(fn, sync, warmup: int = 3, reps: int = 10) -> float:
    """Median wall time of ``fn()`` in ms, each call followed by ``sync(result)`` so the device work counts."""
    for _ in range(warmup):
        sync(fn())
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        sync(fn())
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def grilly_sync(out):
    import grilly

    grilly.block_until_ready(out)


def torch_sync(_out=None):
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def jax_sync(out):
    import jax

    jax.block_until_ready(out)


def row(name: str, ms: float | None, ref: float | None = None, extra: str = "") -> str:
    if ms is None:
        return f"  {name:<44} {'unavailable':>12}  {extra}"
    ratio = f"  x{ms / ref:6.2f} of grilly" if ref else ""
    return f"  {name:<44} {ms:10.3f} ms{ratio}  {extra}"


def attempt(label, fn):
    """Run one peer's measurement; a missing package or failure prints why instead of stopping the suite."""
    try:
        return fn()
    except Exception as e:  # a peer that cannot run is reported, not fatal
        print(f"  {label}: not run ({type(e).__name__}: {str(e)[:160]})")
        return None
    finally:
        _release_cached_memory()


def _release_cached_memory() -> None:
    """Hand the memory that torch and grilly keep cached back to the device, so that the next measurement (maybe
    another framework's) starts from an empty GPU."""
    import gc
    import sys

    gc.collect()
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        sys.modules["torch"].cuda.empty_cache()
    if "grilly" in sys.modules:
        try:
            from grilly.core.backend.vulkan import get_runtime

            get_runtime().reclaim(wait=True)
        except Exception:  # no Vulkan runtime: nothing cached on a device
            pass
