"""The descriptor paths (devices without bufferDeviceAddress): pushed descriptors and descriptor sets from pools,
forced with GRILLY_VK_DESCRIPTORS=1 / =pool in a child process that runs a selection of the kernel tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("mode", ["push", "pool"])
def test_kernels_with_descriptors(mode):
    env = dict(os.environ, GRILLY_VK_DESCRIPTORS="1" if mode == "push" else "pool", ALLOW_CPU_VULKAN="1",
               GRILLY_VK_VALIDATION=os.environ.get("GRILLY_VK_VALIDATION", "1"))
    sel = ["test_structural.py", "test_reductions.py::test_float", "test_linalg.py",
           "test_elementwise.py::test_select_n", "test_elementwise.py::test_binary_float",
           "test_indexing_sort_random.py", "test_runtime.py::test_roundtrip",
           "test_runtime.py::test_long_command_stream"]
    probe = ("from grilly.core.backend import get_backend; rt = get_backend('vulkan').rt; "
             f"assert rt.desc_mode == {mode!r}, rt.desc_mode")
    r = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        *[str(HERE / s) for s in sel]], env=env, capture_output=True, text=True, timeout=900,
                       cwd=str(HERE.parents[1]))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
