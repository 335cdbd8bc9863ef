"""The jit package's own kernels: the fused-elementwise interpreter and the table copy that binds arguments.

Their SPIR-V is committed beside the sources (``spv/``); ``python -m grilly.core.backend.vulkan.jit.kernels``
rebuilds it with glslc. Modules are loaded into the runtime's pipeline table under their own names.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from grilly.core.backend.vulkan.kernels.common import WG, pack, size
from grilly.core.fusion import compile_vm

HERE = Path(__file__).resolve().parent
SHADERS = ("fused_vm", "copy_table")


def ensure_modules(rt) -> None:
    """Load this package's shader modules into ``rt.pipelines`` (once per runtime)."""
    pipes = rt.pipelines
    for name in SHADERS:
        key = f"jit_{name}"
        if key in pipes.modules:
            continue
        pipes.add_module(key, (HERE / "spv" / f"{key}.spv").read_bytes())


def _code_buffer(program, rt):
    """The interpreter code of a fused group, uploaded once per device and kept on the sub-program."""
    per_device = program.__dict__.setdefault("_vm_code", {})
    hit = per_device.get(id(rt))
    if hit is None:
        code = compile_vm(program)
        hit = per_device[id(rt)] = (rt.upload(code), len(code))
    return hit


def fused_impl_vk(rt, bufs, out_avals, *, program):
    """One dispatch of the interpreter over the output's elements (descriptor-mode devices, whose kernels get
    no device addresses, run the group's equations one by one instead)."""
    if not getattr(rt, "bda", True):
        from grilly.core.array import Array
        from grilly.core.backend import get_backend
        from grilly.core.program import eval_program

        backend = get_backend("vulkan")
        outs = eval_program(program, *[Array(b, v.aval, backend) for b, v in zip(bufs, program.in_vars)])
        return [o._buf for o in outs]
    ensure_modules(rt)
    code, ncode = _code_buffer(program, getattr(rt, "rt", rt))  # a recorder wraps the real runtime
    outs = [rt.empty(a) for a in out_avals]
    n = size(out_avals[0])
    addrs = [b.addr for b in bufs] + [o.addr for o in outs]
    addrs += [0] * (12 - len(addrs))
    pc = pack("Q12QII", code.addr, *addrs, n, ncode)
    if n:
        rt.dispatch("jit_fused_vm", (WG,), rt.grid((n + WG - 1) // WG), pc, (*bufs, code), tuple(outs))
    return outs


def build() -> None:
    """Compile the shaders with glslc (developers only; users get the committed SPIR-V)."""
    include = HERE.parents[3] / "shaders" / "include"
    tool = shutil.which("glslc") or "glslc"
    for name in SHADERS:
        out = HERE / "spv" / f"jit_{name}.spv"
        subprocess.run([tool, "--target-env=vulkan1.2", "-fshader-stage=compute", "-O", f"-I{include}",
                        str(HERE / "shaders" / f"{name}.comp"), "-o", str(out)], check=True)
        sys.stdout.write(f"{out}\n")


if __name__ == "__main__":
    build()
