"""Batch norm speed: fused (Numba) against composed (primitive ops), PyTorch and the
memory-traffic floor, for a training step's forward + backward.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/batchnorm.py

Shapes: BatchNorm2d on x (128, 64, 16, 16) float32 (targets: fused >= 2x faster than
PyTorch, and within 1.5x of the floor), and the MLP's BatchNorm1d on (256, 512) and
(256, 256) float32, the (N, C) kernels.

The floor is measured in the same run: two one-pass Numba kernels under minigrad's
thread policy over exactly the bytes a training step must move, forward reading x and
writing y, backward reading x and dy and writing dx, with no arithmetic to speak of.
No batch norm can move less memory than that.

Every timing is the median over rounds in which the candidates run interleaved, so a
busy moment of the machine hits them alike; the machine may be shared with other work,
so ratios still move between runs. Last, the first fused call of a fresh process,
without and with Numba's on-disk cache.
"""

import argparse
import os
import sys
import time

import numpy as np
from common import compile_times, machine_report
from numba import prange

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad.runtime import memory  # noqa: E402
from minigrad.runtime.threads import kernel  # noqa: E402

SHAPES = [(128, 64, 16, 16), (256, 512), (256, 256)]
BLOCKS = 64  # tasks of the floor kernels


@kernel
def floor_forward(x, y):
    """y = x + 1: one read of x, one write of y."""
    size = x.size
    step = (size + BLOCKS - 1) // BLOCKS
    for task in prange(BLOCKS):
        for i in range(task * step, min(size, (task + 1) * step)):
            y[i] = x[i] + 1


@kernel
def floor_backward(x, dy, dx):
    """dx = x + dy: reads of x and dy, one write of dx."""
    size = x.size
    step = (size + BLOCKS - 1) // BLOCKS
    for task in prange(BLOCKS):
        for i in range(task * step, min(size, (task + 1) * step)):
            dx[i] = x[i] + dy[i]


def floor_step(x, dy):
    flat_x, flat_dy = x.reshape(-1), dy.reshape(-1)

    def step():
        y = memory.empty(flat_x.shape, flat_x.dtype)  # as the fused step's outputs
        floor_forward(flat_x, y)
        dx = memory.empty(flat_x.shape, flat_x.dtype)
        floor_backward(flat_x, flat_dy, dx)

    return step


def minigrad_step(impl, x, dy):
    channels = x.shape[1]
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


def torch_step(torch, x, dy):
    channels = x.shape[1]
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


def interleaved_ms(steps, rounds, calls):
    """{name: median ms per call}, each round running every step ``calls`` times in turn."""
    for fn in steps.values():
        fn()
    results = {name: [] for name in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            results[name].append((time.perf_counter() - start) / calls * 1e3)
    return {name: float(np.median(times)) for name, times in results.items()}


FIRST_CALL = """
import time
start = time.perf_counter()
import numpy as np, minigrad as mg, minigrad.nn.functional as F
x = mg.Tensor(np.random.default_rng(0).standard_normal((8, 4, 3, 3)).astype(np.float32), requires_grad=True)
F.batch_norm(x, None, None, training=True, impl="fused").sum().backward()
print(time.perf_counter() - start)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-compile", action="store_true", help="skip the compile-time subprocesses")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    cases = []
    for shape in SHAPES:
        x = rng.standard_normal(shape).astype(np.float32)
        dy = rng.standard_normal(shape).astype(np.float32)
        steps = {"fused": minigrad_step("fused", x, dy), "floor": floor_step(x, dy)}
        for fn in steps.values():
            fn()  # the kernels compile, and Numba's pool starts before PyTorch loads
        cases.append((shape, x, dy, steps))
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        torch = None
    print("\n".join(machine_report()))
    if torch is not None:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"training forward + backward, float32, ms per step: median of {args.rounds} interleaved rounds")
    for shape, x, dy, steps in cases:
        steps["composed"] = minigrad_step("composed", x, dy)
        if torch is not None:
            steps["torch"] = torch_step(torch, x, dy)
        calls = max(1, int(2e6 // x.size))
        ms = interleaved_ms(steps, args.rounds, calls)
        line = (f"  x {str(shape):18s} fused {ms['fused']:7.3f} | floor {ms['floor']:7.3f} "
                f"(fused/floor {ms['fused'] / ms['floor']:4.2f}) | composed {ms['composed']:7.3f} "
                f"(composed/fused {ms['composed'] / ms['fused']:5.2f})")
        if torch is not None:
            line += f" | torch {ms['torch']:7.3f} (torch/fused {ms['torch'] / ms['fused']:5.2f})"
        gbs = 5 * x.nbytes / (ms["floor"] * 1e-3) / 1e9
        print(line + f" | floor moves {gbs:5.1f} GB/s")
    print("targets: (128, 64, 16, 16) torch/fused >= 2 and fused/floor <= 1.5")
    if not args.no_compile:
        cold, warm = compile_times(FIRST_CALL)
        print(f"first fused call in a fresh process (import included): "
              f"{cold:.2f} s compiling, {warm:.2f} s from the on-disk cache")


if __name__ == "__main__":
    main()
