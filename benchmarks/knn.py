"""Brute-force kNN: grilly's IndexFlatL2 against torch (cdist + topk) on the same machine.

Default shapes: a 1M x 128 float32 database, 1024 queries, k = 10. torch runs on CUDA when available (TF32 off,
timed with CUDA events), otherwise on the CPU; grilly runs on its default backend (Vulkan when a GPU is there).
Each side gets warm-up runs, then the median of several timed runs. grilly's time is a full ``search`` call:
query upload, every chunk's distances and top-k, the merges, and the download of (D, I).

    python benchmarks/knn.py                     # the benchmark shapes
    python benchmarks/knn.py --n 20000 --runs 3  # a quick smoke run
    python benchmarks/knn.py --stream --exact    # also: database streamed from host; tie-exact distances
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def time_grilly(xb: np.ndarray, xq: np.ndarray, k: int, method: str, warmup: int, runs: int, stream: bool = False):
    import grilly
    from grilly.memory import IndexFlatL2

    # stream=True: a zero device budget, so every search uploads the database chunk by chunk from host memory
    index = IndexFlatL2(xb.shape[1], method=method, device_budget_bytes=0 if stream else None)
    index.add(xb)
    for _ in range(warmup):  # the first search also uploads and caches the database chunks
        out = index.search(xq, k)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = index.search(xq, k)  # returns NumPy arrays: synchronous by construction
        times.append(time.perf_counter() - start)
    where = ", streamed from host" if stream else ""
    return statistics.median(times), out, f"grilly ({grilly.default_backend()}, {method}{where})"


def time_torch(xb: np.ndarray, xq: np.ndarray, k: int, warmup: int, runs: int):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # strict fp32, as grilly's default
        torch.backends.cudnn.allow_tf32 = False
    tb, tq = torch.from_numpy(xb).to(device), torch.from_numpy(xq).to(device)

    def run():
        d, i = torch.topk(torch.cdist(tq, tb), k, dim=1, largest=False)
        return d, i

    with torch.no_grad():
        for _ in range(warmup):
            d, i = run()
        times = []
        for _ in range(runs):
            if device == "cuda":
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                d, i = run()
                stop.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(stop) / 1e3)
            else:
                t0 = time.perf_counter()
                d, i = run()
                times.append(time.perf_counter() - t0)
    name = f"torch {torch.__version__} ({device}, cdist + topk)"
    return statistics.median(times), ((d * d).cpu().numpy(), i.cpu().numpy()), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="database vectors")
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--nq", type=int, default=1024)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--exact", action="store_true", help="also time the tie-exact 'direct' distances")
    parser.add_argument("--stream", action="store_true", help="also time a database streamed from host memory")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    xb = rng.standard_normal((args.n, args.d), dtype=np.float32)
    xq = rng.standard_normal((args.nq, args.d), dtype=np.float32)
    print(f"kNN: database {args.n} x {args.d}, {args.nq} queries, k={args.k}, float32; median of {args.runs}")

    t_torch, (d_torch, i_torch), torch_name = time_torch(xb, xq, args.k, args.warmup, args.runs)
    print(f"  {torch_name:58s} {t_torch * 1e3:10.2f} ms")
    configs = [("gemm", False)] + [("gemm", True)] * args.stream + [("direct", False)] * args.exact
    for method, stream in configs:
        runs = args.runs if method == "gemm" else max(1, args.runs // 3)
        t, (d, i), name = time_grilly(xb, xq, args.k, method, 1 if method == "direct" else args.warmup, runs, stream)
        same = float(np.mean(i == i_torch))
        err = float(np.max(np.abs(d - d_torch) / np.maximum(np.abs(d_torch), 1e-6)))
        print(f"  {name:58s} {t * 1e3:10.2f} ms   grilly/torch time ratio {t / t_torch:6.2f}   "
              f"same ids {same:.4f}, max rel. distance diff {err:.1e}")


if __name__ == "__main__":
    main()
