"""Suite 3 (kernels): GEMM, attention, softmax / layer_norm, elementwise and reductions, grilly vs torch.

grilly's time is the GPU's own clock: a timestamp before and after ``reps`` back-to-back calls recorded into the
command stream (no host gaps), divided by ``reps``; torch's is CUDA events around the same number of calls.
Both after warm-ups; the median of several samples. fp32 is strict fp32 (TF32 off in torch; grilly's default
precision). ``--check`` first compares the fast paths (cooperative-matrix GEMM, flash attention) with torch.

usage: python benchmarks/kernels.py [--check] [--quick] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

MIB = 1 << 20


class VkTimer:
    """GPU time of recorded work from two timestamp queries."""

    def __init__(self):
        from grilly.core.backend.vulkan import get_runtime
        from grilly.core.backend.vulkan._vk import check, ffi, lib, vk

        self.rt, self.ffi, self.lib, self.vk = get_runtime(), ffi, lib, vk
        info = ffi.new("VkQueryPoolCreateInfo*", {"sType": vk.VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                                   "queryType": vk.VK_QUERY_TYPE_TIMESTAMP, "queryCount": 2})
        pool = ffi.new("VkQueryPool*")
        check(lib.vkCreateQueryPool(self.rt.device, info, ffi.NULL, pool), "vkCreateQueryPool")
        self.pool = pool[0]
        self.period = self.rt.limits["timestampPeriod"]

    def ms(self, fn, reps: int, samples: int = 5, warmup: int = 2) -> float:
        st, lib, vk = self.rt.stream, self.lib, self.vk
        for _ in range(warmup):
            fn()
        st.finish()
        keep_busy(fn, st.finish)
        out = []
        for _ in range(samples):
            st.finish()
            cmd = st.cmd()
            lib.vkCmdResetQueryPool(cmd, self.pool, 0, 2)
            lib.vkCmdWriteTimestamp(cmd, vk.VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, self.pool, 0)
            keep = [fn() for _ in range(reps)]
            lib.vkCmdWriteTimestamp(st.cmd(), vk.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, self.pool, 1)
            st.finish()
            del keep
            data = self.ffi.new("uint64_t[2]")
            lib.vkGetQueryPoolResults(self.rt.device, self.pool, 0, 2, 16, data, 8,
                                      vk.VK_QUERY_RESULT_64_BIT | vk.VK_QUERY_RESULT_WAIT_BIT)
            out.append((data[1] - data[0]) * self.period / 1e6 / reps)
        return statistics.median(out)


def keep_busy(fn, sync, seconds: float = 0.3) -> None:
    """Runs ``fn`` for a while before it is timed: a GPU that idled while the host made the inputs (1 s of random
    numbers for an 8192^2 matrix) is clocked down, and two warm-up calls did not bring it back (an H100 timed
    the first 8192^3 float16 GEMM after new inputs at 86-155 TFLOP/s against 259-296 warm)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        sync()


def warm_gpu(seconds: float = 1.0) -> None:
    """Keeps the GPU busy for a while so that its clocks are up before short kernels are timed (a GPU fresh from
    idle, e.g. after the check's CPU work, timed a 1024^3 GEMM 2.3x slower)."""
    import grilly
    import grilly.numpy as gnp

    a = gnp.asarray(np.ones((2048, 2048), np.float32))
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        grilly.block_until_ready(gnp.matmul(a, a))


def torch_ms(fn, reps: int, samples: int = 5, warmup: int = 2) -> float:
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    keep_busy(fn, torch.cuda.synchronize)
    out = []
    for _ in range(samples):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(reps):
            fn()
        b.record()
        torch.cuda.synchronize()
        out.append(a.elapsed_time(b) / reps)
    return statistics.median(out)


def report(name: str, g_ms: float | None, t_ms: float | None, flops: float = 0.0, nbytes: float = 0.0) -> None:
    def rate(ms):
        if ms is None:
            return ""
        if flops:
            return f"{flops / ms / 1e9:8.1f} TFLOP/s"
        return f"{nbytes / ms / 1e9:8.2f} TB/s" if nbytes else ""

    g = f"{g_ms:9.3f} ms {rate(g_ms)}" if g_ms is not None else "   not run"
    t = f"{t_ms:9.3f} ms {rate(t_ms)}" if t_ms is not None else "   not run"
    ratio = f"{t_ms / g_ms:6.2f}" if g_ms and t_ms else "     -"
    print(f"{name:<40} grilly {g}   torch {t}   torch/grilly {ratio}", flush=True)


# ---- correctness of the fast paths on this device ----------------------------------------------------------

def check(big: bool = True) -> bool:
    import itertools

    import ml_dtypes
    import torch

    import grilly.lax as lax
    import grilly.numpy as gnp
    from grilly.core.backend.vulkan import get_runtime
    from grilly.core.backend.vulkan.kernels.attention import use_cm2_forward
    from grilly.core.backend.vulkan.kernels.matmul_fast import coop_available, coop_bf16_available

    rt = get_runtime()
    print(f"device: {rt.info.name}; cooperativeMatrix={rt.features.get('cooperativeMatrix')}; "
          f"subgroup={rt.subgroup_size}; coop path={coop_available(rt)}; bf16 coop={coop_bf16_available(rt)}; "
          f"cm2 attention={use_cm2_forward(rt, 'f16', 64)}; maxShared={rt.limits['maxShared']}")
    rng = np.random.default_rng(0)
    ok = True
    dn = {"rr": (((2,), (1,)), ((0,), (0,))), "rc": (((2,), (2,)), ((0,), (0,))),
          "cr": (((1,), (1,)), ((0,), (0,))), "cc": (((1,), (2,)), ((0,), (0,)))}
    # (the last two take 128 x 128 tiles; 1000 x 1560 x 264 leaves partial tiles in every dimension)
    shapes = [(1, 256, 256, 256), (3, 200, 136, 72), (2, 1000, 520, 264), (3, 1000, 1560, 264), (1, 4096, 4096, 4096)]
    for (b, m, n, k) in shapes if big else shapes[1:2]:
        for (dt, dname, tol), (lay, d) in itertools.product(
                ((np.float16, "f16", 2e-3), (ml_dtypes.bfloat16, "bf16", 1e-2)), dn.items()):
            a = rng.standard_normal((b, m, k) if lay[0] == "r" else (b, k, m)).astype(np.float32).astype(dt)
            c = rng.standard_normal((b, k, n) if lay[1] == "r" else (b, n, k)).astype(np.float32).astype(dt)
            ta, tc = torch.from_numpy(a.astype(np.float32)), torch.from_numpy(c.astype(np.float32))
            ta = ta if lay[0] == "r" else ta.transpose(1, 2)
            tc = tc if lay[1] == "r" else tc.transpose(1, 2)
            want = (ta @ tc).numpy()
            for pet in (None, np.float32):
                got = np.asarray(lax.dot_general(gnp.asarray(a), gnp.asarray(c), d, preferred_element_type=pet))
                err = np.abs(got.astype(np.float32) - want).max() / (np.abs(want).max() + 1e-6)
                good = err < (tol if pet is None else 1e-4)
                ok &= bool(good)
                print(f"  coop GEMM {dname} {lay} b{b} {m}x{n}x{k} out={dname if pet is None else 'f32'}: "
                      f"rel err {err:.2e} {'ok' if good else 'FAIL'}")
    a = rng.standard_normal((512, 384)).astype(np.float32)
    c = rng.standard_normal((384, 200)).astype(np.float32)
    for prec in (None, "fastest"):
        got = np.asarray(gnp.matmul(gnp.asarray(a), gnp.asarray(c), precision=prec))
        err = np.abs(got - a @ c).max() / np.abs(a @ c).max()
        good = err < (1e-5 if prec is None else 3e-3)
        ok &= bool(good)
        print(f"  fp32 GEMM precision={prec}: rel err {err:.2e} {'ok' if good else 'FAIL'}")
    for (lay, d), (m, n, k) in itertools.product(dn.items(), ((4096, 2560, 1024), (136, 200, 72))):
        # float32 SIMT GEMM; the large shape transposes operands into A column-major, B row-major first
        a = rng.standard_normal((m, k) if lay[0] == "r" else (k, m)).astype(np.float32)
        c = rng.standard_normal((k, n) if lay[1] == "r" else (n, k)).astype(np.float32)
        want = (a if lay[0] == "r" else a.T).astype(np.float64) @ (c if lay[1] == "r" else c.T)
        got = np.asarray(lax.dot_general(gnp.asarray(a[None]), gnp.asarray(c[None]), d))[0]
        err = np.abs(got - want).max() / np.abs(want).max()
        good = err < 1e-5
        ok &= bool(good)
        print(f"  fp32 GEMM {lay} {m}x{n}x{k}: rel err {err:.2e} {'ok' if good else 'FAIL'}")
    for dt, tol in ((np.float32, 1e-4), (np.float16, 5e-3)):
        for D in (64, 128, 80, 48, 37):  # (33-64: the register-tiled forward where no cooperative matrices)
            q, k, v = (rng.standard_normal((2, s, 4, D)).astype(dt) for s in ((300, 257, 257) if big else (30, 25, 25)))
            tq, tk, tv = (torch.from_numpy(x).float().transpose(1, 2) for x in (q, k, v))
            for causal in (False, True):
                want = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
                got = np.asarray(lax.flash_attention(gnp.asarray(q), gnp.asarray(k), gnp.asarray(v), causal=causal))
                err = np.abs(got.astype(np.float32) - want.transpose(1, 2).numpy()).max()
                good = err < tol * 10
                ok &= bool(good)
                print(f"  flash attention {np.dtype(dt).name} D{D} causal={causal}: max err {err:.2e} "
                      f"{'ok' if good else 'FAIL'}")
    import grilly

    for D in (64, 128):  # the float16 backward against float64 torch autograd, relative to max(|grad|, 1)
        q, k, v, w = (rng.standard_normal((2, s, 4, D)).astype(np.float16) for s in (
            (300, 257, 257, 300) if big else (30, 25, 25, 30)))
        # (a boolean mask hiding a fifth of the keys from each query, in the last case)
        for causal, masked in ((False, False), (True, False), (False, True)):
            mask = rng.random((2, 4, q.shape[1], k.shape[1])) > 0.2 if masked else None
            tq, tk, tv = (torch.from_numpy(x.astype(np.float64)).transpose(1, 2).requires_grad_() for x in (q, k, v))
            out = torch.nn.functional.scaled_dot_product_attention(
                tq, tk, tv, attn_mask=None if mask is None else torch.from_numpy(mask), is_causal=causal)
            want = torch.autograd.grad(out, (tq, tk, tv), torch.from_numpy(w.astype(np.float64)).transpose(1, 2))
            wf = w.astype(np.float32)
            got = grilly.grad(lambda q, k, v, c=causal, wf=wf, m=mask: gnp.sum(
                lax.flash_attention(q, k, v, causal=c, mask=m).astype(np.float32) * wf), argnums=(0, 1, 2))(q, k, v)
            for name, g, t in zip("qkv", got, want):
                t = t.transpose(1, 2).numpy()
                err = np.abs(np.asarray(g).astype(np.float64) - t).max() / max(np.abs(t).max(), 1.0)
                good = err < 1e-2
                ok &= bool(good)
                print(f"  flash attention backward float16 D{D} causal={causal} mask={masked} d{name}: rel err "
                      f"{err:.2e} {'ok' if good else 'FAIL'}")
    for D in (64, 128, 37):  # the backward against torch autograd (fp32; 33-64: the tiled dK/dV kernel)
        q, k, v, w = (rng.standard_normal((2, s, 4, D)).astype(np.float32) for s in (
            (300, 257, 257, 300) if big else (30, 25, 25, 30)))
        tq, tk, tv = (torch.from_numpy(x).transpose(1, 2).requires_grad_() for x in (q, k, v))
        out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
        want = torch.autograd.grad(out, (tq, tk, tv), torch.from_numpy(w).transpose(1, 2))
        got = grilly.grad(lambda q, k, v: gnp.sum(lax.flash_attention(q, k, v, causal=True) * w),
                          argnums=(0, 1, 2))(q, k, v)
        for name, g, t in zip("qkv", got, want):
            err = np.abs(np.asarray(g) - t.transpose(1, 2).numpy()).max()
            good = err < 1e-3
            ok &= bool(good)
            print(f"  flash attention backward float32 D{D} d{name}: max err {err:.2e} {'ok' if good else 'FAIL'}")
    print("CHECK", "PASSED" if ok else "FAILED", flush=True)
    return ok


# ---- tile-shape sweep of the cooperative-matrix GEMM (to pick tile_config) ---------------------------------

COOP_CONFIGS = [  # (workgroup size, BM, BN, BK, WM, WN, NBUF) for a subgroup of 32
    (256, 128, 128, 32, 2, 4, 1), (256, 128, 128, 32, 2, 4, 2), (128, 128, 128, 32, 2, 2, 2),
    (128, 128, 128, 32, 2, 2, 1), (256, 256, 128, 32, 4, 2, 1), (256, 128, 256, 32, 2, 4, 1),
    (512, 256, 128, 32, 4, 4, 1), (256, 128, 128, 64, 2, 4, 1), (128, 64, 64, 32, 2, 2, 2),
]


def sweep(timer):
    from grilly.core.aval import ShapedArray
    from grilly.core.backend.vulkan.kernels.matmul_fast import coop_available, coop_matmul

    rt = timer.rt
    if not coop_available(rt):
        print("no cooperative matrices: nothing to sweep")
        return
    for n in (4096, 8192):
        a = rt.upload(np.random.default_rng(0).standard_normal((n, n)).astype(np.float16))
        b = rt.upload(np.random.default_rng(1).standard_normal((n, n)).astype(np.float16))
        for spec in COOP_CONFIGS:
            out = rt.empty(ShapedArray((n, n), np.float16))

            def go(spec=spec, out=out):
                coop_matmul(rt, a, b, out, 1, n, n, n, (0, n, 1), (0, n, 1), "r", "r", spec)
                return out

            try:
                ms = timer.ms(go, 3, samples=3)
                print(f"  coop sweep {n}^3 {spec}: {ms:.3f} ms {2 * n**3 / ms / 1e9:.1f} TFLOP/s", flush=True)
            except Exception as e:  # a config the device rejects (shared memory) is reported, not fatal
                print(f"  coop sweep {n}^3 {spec}: failed ({type(e).__name__}: {str(e)[:100]})", flush=True)


def sweep_attention(timer):
    """Invocations per row of the portable flash kernels (fp32, S=4096): forward and forward+backward."""
    import grilly.numpy as gnp
    from grilly.core.backend.vulkan.kernels import attention as KA
    from grilly.lax.attention import flash_attention_bwd_p, flash_attention_p

    fwd0, bwd0 = dict(KA.FWD_LANES), dict(KA.BWD_LANES)
    B, H, S = 4, 16, 4096
    for D in (64, 128):
        rng = np.random.default_rng(0)
        q, k, v, do = (gnp.asarray(rng.standard_normal((B, S, H, D)).astype(np.float32)) for _ in range(4))
        kw = dict(causal=False, scale=1 / np.sqrt(D), has_mask=False)
        for ln in (4, 2, 1):
            KA.FWD_LANES.clear()
            KA.FWD_LANES[D] = ln
            ms = timer.ms(lambda q=q, k=k, v=v, kw=kw: flash_attention_p.bind(q, k, v, **kw), 1, samples=3)
            print(f"  attention sweep fp32 D{D} fwd lanes={ln}: {ms:.3f} ms "
                  f"{4 * B * H * S * S * D / ms / 1e9:.1f} TFLOP/s", flush=True)
        o, lse = flash_attention_p.bind(q, k, v, **kw)
        for ln in (4, 2) if D == 64 else (4,):
            KA.BWD_LANES.clear()
            KA.BWD_LANES[D] = ln
            ms = timer.ms(lambda q=q, k=k, v=v, kw=kw, o=o, lse=lse, do=do: flash_attention_bwd_p.bind(
                q, k, v, o, lse, do, **kw), 1, samples=3)
            print(f"  attention sweep fp32 D{D} bwd lanes={ln}: {ms:.3f} ms", flush=True)
        KA.FWD_LANES.clear()
        KA.FWD_LANES.update(fwd0)
        KA.BWD_LANES.clear()
        KA.BWD_LANES.update(bwd0)


# ---- the suite -------------------------------------------------------------------------------------------------

def gemm(timer, quick, only):
    import ml_dtypes
    import torch

    import grilly.numpy as gnp

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    sizes = (4096, 8192) if quick else (1024, 4096, 8192)
    for name, dt, tdt in (("fp32", np.float32, torch.float32), ("fp16", np.float16, torch.float16),
                          ("bf16", ml_dtypes.bfloat16, torch.bfloat16)):
        for n in sizes:
            label = f"GEMM {name} {n}^3"
            if only not in label:
                continue
            reps = max(1, int(2e11 // (2 * n**3)) if name == "fp32" else int(1e12 // (2 * n**3)))
            reps = min(reps, 50)
            a = gnp.asarray(np.random.default_rng(0).standard_normal((n, n)).astype(np.float32).astype(dt))
            b = gnp.asarray(np.random.default_rng(1).standard_normal((n, n)).astype(np.float32).astype(dt))
            g = timer.ms(lambda a=a, b=b: gnp.matmul(a, b), reps)
            ta = torch.randn(n, n, device="cuda", dtype=tdt)
            tb = torch.randn(n, n, device="cuda", dtype=tdt)
            t = torch_ms(lambda ta=ta, tb=tb: ta @ tb, reps)
            report(label, g, t, flops=2 * n**3)
            del a, b, ta, tb


def attention(timer, quick, only):
    import torch

    import grilly.numpy as gnp
    from grilly.lax.attention import flash_attention_bwd_p, flash_attention_p

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    sdpa = torch.nn.functional.scaled_dot_product_attention
    B, H, S = 4, 16, 4096
    for name, dt, tdt in (("fp16", np.float16, torch.float16), ("fp32", np.float32, torch.float32)):
        for D in ((64,) if quick else (64, 128)):
            label = f"attention {name} B{B} H{H} S{S} D{D}"
            if only not in label:
                continue
            rng = np.random.default_rng(0)
            q, k, v, do = (gnp.asarray(rng.standard_normal((B, S, H, D)).astype(dt)) for _ in range(4))
            kw = dict(causal=False, scale=1 / np.sqrt(D), has_mask=False)
            fwd_flops = 4 * B * H * S * S * D

            def g_fwd(q=q, k=k, v=v, kw=kw):
                return flash_attention_p.bind(q, k, v, **kw)

            def g_fb(q=q, k=k, v=v, do=do, kw=kw):
                o, lse = flash_attention_p.bind(q, k, v, **kw)
                return flash_attention_bwd_p.bind(q, k, v, o, lse, do, **kw)

            gf = timer.ms(g_fwd, 2, samples=3)
            gb = timer.ms(g_fb, 1, samples=3)
            tq, tk, tv = (torch.randn(B, H, S, D, device="cuda", dtype=tdt, requires_grad=True) for _ in range(3))
            tdo = torch.randn(B, H, S, D, device="cuda", dtype=tdt)

            def t_fwd(tq=tq, tk=tk, tv=tv):
                with torch.no_grad():
                    return sdpa(tq, tk, tv)

            def t_fb(tq=tq, tk=tk, tv=tv, tdo=tdo):
                out = sdpa(tq, tk, tv)
                return torch.autograd.grad(out, (tq, tk, tv), tdo)

            tf = torch_ms(t_fwd, 2, samples=3)
            tb = torch_ms(t_fb, 1, samples=3)
            report(label + " fwd", gf, tf, flops=fwd_flops)
            report(label + " fwd+bwd", gb, tb, flops=3.5 * fwd_flops)
            del q, k, v, do, tq, tk, tv, tdo


def rows_and_elementwise(timer, only):
    import torch

    import grilly.lax as lax
    import grilly.numpy as gnp

    x = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)
    gx, tx = gnp.asarray(x), torch.from_numpy(x).cuda()
    gg, gb = gnp.ones((4096,), np.float32), gnp.zeros((4096,), np.float32)
    if only in "softmax 4096x4096 fp32":
        report("softmax 4096x4096 fp32", timer.ms(lambda: lax.softmax(gx), 20),
               torch_ms(lambda: torch.softmax(tx, -1), 20), nbytes=2 * x.nbytes)
    if only in "layer_norm 4096x4096 fp32":
        report("layer_norm 4096x4096 fp32", timer.ms(lambda: lax.layer_norm(gx, gg, gb), 20),
               torch_ms(lambda: torch.nn.functional.layer_norm(tx, (4096,)), 20), nbytes=2 * x.nbytes)
    n = 256 * MIB // 4
    y = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    ga, gc = gnp.asarray(y), gnp.asarray(y[::-1].copy())
    ta, tc = torch.from_numpy(y).cuda(), torch.from_numpy(y[::-1].copy()).cuda()
    if only in "add 256 MiB fp32":
        report("add 256 MiB fp32", timer.ms(lambda: ga + gc, 20), torch_ms(lambda: ta + tc, 20), nbytes=3 * 256 * MIB)
    if only in "exp 256 MiB fp32":
        report("exp 256 MiB fp32", timer.ms(lambda: gnp.exp(ga), 20), torch_ms(lambda: torch.exp(ta), 20),
               nbytes=2 * 256 * MIB)
    if only in "reduce-sum 256 MiB fp32":
        report("reduce-sum 256 MiB fp32", timer.ms(lambda: gnp.sum(ga), 20), torch_ms(lambda: ta.sum(), 20),
               nbytes=256 * MIB)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare the fast paths with torch first")
    ap.add_argument("--quick", action="store_true", help="fewer sizes")
    ap.add_argument("--only", default="", help="run only rows whose name contains this")
    ap.add_argument("--no-suite", action="store_true", help="only the check (and the sweep)")
    ap.add_argument("--sweep", action="store_true", help="time tile shapes of the cooperative-matrix GEMM")
    args = ap.parse_args()
    os.environ.setdefault("GRILLY_BACKEND", "vulkan")
    import grilly

    if grilly.default_backend() != "vulkan":
        print("no Vulkan device: suite 3 measures the Vulkan backend")
        return 1
    try:
        import torch

        assert torch.cuda.is_available()
    except Exception:
        print("torch with CUDA is needed for the peer columns")
        return 1
    from grilly.core.backend.vulkan import get_runtime

    rt = get_runtime()
    print(f"grilly on {rt.info.name}; torch {torch.__version__} on {torch.cuda.get_device_name()}", flush=True)
    if args.check and not check():
        print("fast-path check failed")
    timer = VkTimer()
    if args.sweep:
        sweep(timer)
        sweep_attention(timer)
    if args.no_suite:
        return 0
    warm_gpu()
    gemm(timer, args.quick, args.only)
    attention(timer, args.quick, args.only)
    rows_and_elementwise(timer, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
