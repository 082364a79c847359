"""Batch norm speed: fused (Numba) against composed (primitive ops) and PyTorch.

Run (OpenBLAS core-type overrides unset, for the benchmark only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/batchnorm.py

Prints, for training-mode forward+backward on x of shape (128, 64, 16, 16) float32,
the median time of each implementation and the ratios (targets: fused >= 10x composed,
>= 3x PyTorch on 2 threads); the fused kernels' bandwidth beside a measured memory
copy; the first call's compile time without and with Numba's on-disk cache; the
memory the fused node saves by not storing xhat; and a loop alternating the fused
batch norm with a float32 matmul (target: <= 1.1x the two timed alone). The machine
is shared: every figure is a median of repeats, and still moves between runs.

PyTorch is imported only after the fused kernels have run, on purpose: that order is
the one that used to slow PyTorch down (see minigrad/runtime/threads.py).
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
from common import compile_times

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402

SHAPE = (128, 64, 16, 16)
MATMUL = ((256, 784), (784, 512))


def median_ms(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def minigrad_step(impl, x, dy, channels):
    xt = mg.Tensor(x, requires_grad=True)
    weight = mg.Tensor(np.ones(channels, dtype=x.dtype), requires_grad=True)
    bias = mg.Tensor(np.zeros(channels, dtype=x.dtype), requires_grad=True)
    running_mean = mg.Tensor(np.zeros(channels, dtype=x.dtype))
    running_var = mg.Tensor(np.ones(channels, dtype=x.dtype))
    upstream = mg.Tensor(dy)

    def step():
        xt.grad = weight.grad = bias.grad = None
        y = F.batch_norm(xt, running_mean, running_var, weight, bias, training=True, impl=impl)
        y.backward(upstream)

    return step


def torch_step(torch, x, dy, channels):
    xt = torch.tensor(x, requires_grad=True)
    weight = torch.ones(channels, requires_grad=True)
    bias = torch.zeros(channels, requires_grad=True)
    running_mean, running_var = torch.zeros(channels), torch.ones(channels)
    upstream = torch.tensor(dy)

    def step():
        xt.grad = weight.grad = bias.grad = None
        y = torch.nn.functional.batch_norm(xt, running_mean, running_var, weight, bias, training=True)
        y.backward(upstream)

    return step


def kernel_bandwidth(x, dy, repeats):
    """Median time of each kernel a training step runs, and the bytes it must move, on
    (N, C, H*W): two channel-at-a-time kernels (each channel's second pass reads from
    cache) or, for short runs, the four batch-chunked ones."""
    from minigrad.kernels import batchnorm as kernels

    x3 = x.reshape(x.shape[0], x.shape[1], -1)
    dy3 = dy.reshape(x3.shape)
    nbytes = x.nbytes
    mean, var = kernels.channel_stats(x3)
    invstd = 1 / np.sqrt(var + 1e-5)
    gamma = np.ones_like(mean)
    beta = np.zeros_like(mean)
    if kernels.by_channel(x3):
        parts = [
            ("forward (read x, write y)", lambda: kernels.train_forward(x3, gamma, beta, 1e-5), 2),
            ("backward (read x, dy, write dx)",
             lambda: kernels.train_backward(x3, dy3, mean, invstd, gamma), 3),
        ]
    else:
        sums = kernels.channel_grad_sums(x3, dy3, mean, invstd)
        parts = [
            ("stats (read x)", lambda: kernels.channel_stats(x3), 1),
            ("normalize (read x, write y)", lambda: kernels.normalize(x3, mean, invstd, beta), 2),
            ("grad sums (read x, dy)", lambda: kernels.channel_grad_sums(x3, dy3, mean, invstd), 2),
            ("dx (read x, dy, write dx)", lambda: kernels.input_grad(x3, dy3, mean, invstd, gamma, *sums), 3),
        ]
    results = []
    for name, fn, passes in parts:
        ms = median_ms(fn, repeats)
        results.append((name, ms, passes * nbytes))
    return results


def copy_bandwidth(x, repeats):
    out = np.empty_like(x)
    ms = median_ms(lambda: np.copyto(out, x), repeats)
    return 2 * x.nbytes / (ms * 1e-3) / 1e9, ms


FIRST_CALL = """
import time
start = time.perf_counter()
import numpy as np, minigrad as mg, minigrad.nn.functional as F
x = mg.Tensor(np.random.default_rng(0).standard_normal((8, 4, 3, 3)).astype(np.float32), requires_grad=True)
F.batch_norm(x, None, None, training=True, impl="fused").sum().backward()
print(time.perf_counter() - start)
"""


def loop_ms(functions, count):
    start = time.perf_counter()
    for _ in range(count):
        for fn in functions:
            fn()
    return (time.perf_counter() - start) / count * 1e3


def alternating(x, dy, rounds=9, count=10):
    """``(bn_alone, {kind: (matmul, alternating, bn_after)})`` in median ms: the fused step
    alone; then, for minigrad's matmul and for NumPy's, the matmul alone, the two
    alternating (per pair), and the fused step right after matmuls.

    "Alone" is measured before any matmul has run in the process. After a large NumPy
    matmul, OpenBLAS's worker keeps spinning on a core for about 0.1 s (its
    OPENBLAS_THREAD_TIMEOUT, read when NumPy loads) and the fused step runs slower too;
    minigrad's matmul is NumPy's.
    """
    rng = np.random.default_rng(1)
    a = rng.standard_normal(MATMUL[0]).astype(np.float32)
    b = rng.standard_normal(MATMUL[1]).astype(np.float32)
    ta, tb = mg.Tensor(a), mg.Tensor(b)
    bn = minigrad_step("fused", x, dy, x.shape[1])
    matmuls = {"minigrad": lambda: ta @ tb, "numpy": lambda: a @ b}

    bn()
    bn_alone = float(np.median([loop_ms([bn], count) for _ in range(rounds)]))
    results = {}
    for kind, matmul in matmuls.items():
        matmul()
        rows = [(loop_ms([matmul], count), loop_ms([bn, matmul], count), loop_ms([bn], count))
                for _ in range(rounds)]
        results[kind] = tuple(float(v) for v in np.median(np.array(rows), axis=0))
    return bn_alone, results


THREAD_SETTINGS = [
    ("chosen: omp layer, OMP_WAIT_POLICY=PASSIVE", {}),
    ("Numba's default: omp layer, spinning workers", {"NUMBA_THREADING_LAYER": "omp"}),
    ("workqueue layer", {"NUMBA_THREADING_LAYER": "workqueue"}),
    ("chosen, and OPENBLAS_THREAD_TIMEOUT=16 (user's)", {"OPENBLAS_THREAD_TIMEOUT": "16"}),
]


def compare_threads():
    """The alternating loops (and PyTorch after them) in fresh processes, one per setting."""
    print("\nthread settings, each in a fresh process (ms; ratio = alternating / (bn + matmul); "
          "torch = its batch norm step after the fused kernels ran):")
    print(f"  {'setting':48s} {'bn':>5s} | {'minigrad matmul':>15s} {'ratio':>6s} | "
          f"{'numpy matmul':>12s} {'ratio':>6s} | {'torch':>6s}")
    for name, env in THREAD_SETTINGS:
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY")}
        environment.update(env)
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--alternating-only"],
                             env=environment, check=True, capture_output=True, text=True)
        bn, mg_mm, mg_both, np_mm, np_both, native = (float(v) for v in out.stdout.split())
        print(f"  {name:48s} {bn:5.2f} | {mg_mm:15.2f} {mg_both / (bn + mg_mm):5.2f}x | "
              f"{np_mm:12.2f} {np_both / (bn + np_mm):5.2f}x | {native:6.2f}")


def alternating_only(x, dy):
    bn, results = alternating(x, dy)
    native = float("nan")
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(2)
        native = median_ms(torch_step(torch, x, dy, x.shape[1]), 15)
    (mg_mm, mg_both, _), (np_mm, np_both, _) = results["minigrad"], results["numpy"]
    print(bn, mg_mm, mg_both, np_mm, np_both, native)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-compile", action="store_true", help="skip the compile-time subprocesses")
    parser.add_argument("--no-thread-compare", action="store_true",
                        help="skip the comparison of thread settings (fresh processes)")
    parser.add_argument("--alternating-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeats = args.repeats

    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE).astype(np.float32)
    dy = rng.standard_normal(SHAPE).astype(np.float32)
    channels = SHAPE[1]
    if args.alternating_only:
        alternating_only(x, dy)
        return
    print(f"x {SHAPE} float32 ({x.nbytes / 2**20:.0f} MiB), training forward+backward, "
          f"median of {repeats}")

    fused_step = minigrad_step("fused", x, dy, channels)
    fused_step()  # Numba's pool starts before PyTorch loads OpenMP (see runtime/threads.py)
    try:
        import torch
    except ImportError:
        torch = None
    fused = median_ms(fused_step, repeats)
    if torch is not None:
        torch.set_num_threads(2)
        native = median_ms(torch_step(torch, x, dy, channels), repeats)
    import numba

    from minigrad.runtime import threads

    print(f"  fused     {fused:8.2f} ms   (Numba {numba.__version__}, threading layer "
          f"{numba.threading_layer()}, {numba.get_num_threads()} threads; parallel above {threads.parallel_min_size()} elements)")
    composed = median_ms(minigrad_step("composed", x, dy, channels), max(5, repeats // 4))
    print(f"  composed  {composed:8.2f} ms   fused is {composed / fused:5.1f}x faster (target >= 10x)")
    if torch is None:
        print("  torch     not installed")
    else:
        print(f"  torch     {native:8.2f} ms   fused is {native / fused:5.1f}x faster (target >= 3x)"
              f"   (torch {torch.__version__}, 2 threads, effective "
              f"{4 * x.nbytes / (native * 1e-3) / 1e9:.0f} GB/s)")

    print("\nbandwidth (bytes each kernel must move / its median time)")
    total_ms = total_bytes = 0.0
    for name, ms, nbytes in kernel_bandwidth(x, dy, repeats):
        total_ms += ms
        total_bytes += nbytes
        print(f"  {name:30s} {ms:6.3f} ms  {nbytes / (ms * 1e-3) / 1e9:6.1f} GB/s")
    print(f"  {'all kernels of a step':30s} {total_ms:6.3f} ms  {total_bytes / (total_ms * 1e-3) / 1e9:6.1f} GB/s")
    print(f"  fused step, effective (x, y, dy, dx once each): "
          f"{4 * x.nbytes / (fused * 1e-3) / 1e9:6.1f} GB/s")
    copy_gbs, copy_ms = copy_bandwidth(x, repeats)
    print(f"  memory copy of x (np.copyto, read + write) {copy_ms:6.3f} ms  {copy_gbs:6.1f} GB/s")

    kept = 2 * channels * 8
    print(f"\nsaved for backward: the per-channel mean and inverse std ({kept} bytes) instead of "
          f"xhat ({x.nbytes / 2**20:.0f} MiB, one more array the size of x); x itself is kept either way")

    if not args.no_compile:
        cold, warm = compile_times(FIRST_CALL)
        print(f"\nfirst fused call in a fresh process (import included): "
              f"{cold:.2f} s compiling, {warm:.2f} s from the on-disk cache")

    bn, results = alternating(x, dy)
    print(f"\nalternating fused forward+backward with {MATMUL[0]} @ {MATMUL[1]} float32 "
          f"(batch norm alone {bn:.2f} ms):")
    for kind, label in (("minigrad", "minigrad's matmul (mg.Tensor @)"), ("numpy", "NumPy's matmul (a @ b)")):
        mm, both, bn_after = results[kind]
        print(f"  {label:32s} alone {mm:.2f} ms, alternating {both:.2f} ms per pair = "
              f"{both / (bn + mm):.2f}x the sum (target <= 1.1x); batch norm right after it {bn_after:.2f} ms")
    if not args.no_thread_compare:
        compare_threads()


if __name__ == "__main__":
    main()
