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

PyTorch runs in a process of its own (benchmarks/pytorch_process.py says why). The
candidates take turns, a quarter of a second apart (common.alternating), and every
timing is a median, so a busy moment of the machine hits them alike; the machine may
be shared with other work, so ratios still move between runs. Last, the first fused call of a fresh process,
without and with Numba's on-disk cache.
"""

import argparse
import importlib.util
import os
import sys

import numpy as np
from common import ORIGINAL_ENV, alternating, compile_times, local_timer, machine_report
from numba import prange

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad.runtime import memory  # noqa: E402
from minigrad.runtime.threads import kernel  # noqa: E402

SHAPES = [(128, 64, 16, 16), (256, 512), (256, 256)]
BLOCKS = 64  # tasks of the floor kernels
THREADS = 2


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
    pytorch = None
    if importlib.util.find_spec("torch") is not None:  # it runs in a process of its own
        from pytorch_process import PyTorchProcess

        pytorch = PyTorchProcess(ORIGINAL_ENV, THREADS)
    print("\n".join(machine_report()))
    if pytorch is not None:
        info = pytorch.info
        print(f"PyTorch {info['version']} in a process of its own: {info['threads']} threads, "
              f"OMP_WAIT_POLICY {info['omp_wait_policy']}")
    print("training forward + backward, float32, ms per step: medians, the candidates taking turns")
    for shape, x, dy, steps in cases:
        steps["composed"] = minigrad_step("composed", x, dy)
        calls = max(1, int(2e6 // x.size))
        timers = {name: local_timer(fn) for name, fn in steps.items()}
        if pytorch is not None:
            timers["torch"] = pytorch.timer(pytorch.setup("batchnorm", [x, dy])[0])
        block = max(calls, 5)
        medians, _ = alternating(timers, max(args.rounds * calls, 3 * block), block)
        ms = {name: seconds * 1e3 for name, seconds in medians.items()}
        line = (f"  x {str(shape):18s} fused {ms['fused']:7.3f} | floor {ms['floor']:7.3f} "
                f"(fused/floor {ms['fused'] / ms['floor']:4.2f}) | composed {ms['composed']:7.3f} "
                f"(composed/fused {ms['composed'] / ms['fused']:5.2f})")
        if pytorch is not None:
            line += f" | torch {ms['torch']:7.3f} (torch/fused {ms['torch'] / ms['fused']:5.2f})"
        gbs = 5 * x.nbytes / (ms["floor"] * 1e-3) / 1e9
        print(line + f" | floor moves {gbs:5.1f} GB/s")
    print("targets: (128, 64, 16, 16) torch/fused >= 2 and fused/floor <= 1.5")
    if pytorch is not None:
        pytorch.close()
    if not args.no_compile:
        cold, warm = compile_times(FIRST_CALL)
        print(f"first fused call in a fresh process (import included): "
              f"{cold:.2f} s compiling, {warm:.2f} s from the on-disk cache")


if __name__ == "__main__":
    main()
