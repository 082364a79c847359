"""conv2d forward + backward, minigrad next to PyTorch's CPU conv2d (both on 2 threads).

Two cases, float32, stride 1, padding 1, no bias:
  x (64, 32, 16, 16), weight (64, 32, 3, 3)   -- a mid-size layer (target ratio <= 1.5)
  x (64, 1, 8, 8),    weight (16, 1, 3, 3)    -- the digits CNN's first layer

Each library runs in its own process: a thread pool that has just finished (PyTorch's
OpenMP threads, OpenBLAS's) keeps spinning for a while, and in a shared process it
would steal the cores from the other library's next call. Processes alternate, a few
rounds each; every round reports the median of its repeats, and the median of the
rounds is printed. Run with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, so OpenBLAS
picks the kernels for this CPU:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv.py

Each case is measured again with OPENBLAS_THREAD_TIMEOUT=16 in minigrad's process (see
SHORT_SPIN below): it should change nothing. PyTorch does not use OpenBLAS.

The first case runs Winograd's F(4x4, 3x3) (minigrad/kernels/winograd.py), the second
the NumPy im2col path (see KERNEL_MIN_SIZE and WINOGRAD_MIN_CHANNELS in
minigrad/ops/conv.py). Last, the first conv2d call of a fresh process on the kernels,
without and with Numba's on-disk cache.
"""

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from common import compile_times

CASES = [
    ("x (64, 32, 16, 16), w (64, 32, 3, 3)", (64, 32, 16, 16), (64, 32, 3, 3), 30),
    ("x (64, 1, 8, 8),    w (16, 1, 3, 3)", (64, 1, 8, 8), (16, 1, 3, 3), 300),
]
PADDING = 1
ROUNDS = 3
THREADS = 2


def measure(library, x_shape, w_shape, repeats):
    """Median and minimum milliseconds of forward + backward in this process."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    grad = rng.standard_normal((x_shape[0], w_shape[0]) + x_shape[2:], dtype=np.float32)
    if library == "minigrad":
        import minigrad as mg
        import minigrad.nn.functional as F

        x, w = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
        grad = mg.tensor(grad)
        conv2d = F.conv2d
    else:
        import torch

        torch.set_num_threads(THREADS)
        x, w = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        grad = torch.tensor(grad)
        conv2d = torch.nn.functional.conv2d

    def step():
        x.grad = w.grad = None
        start = time.perf_counter()
        conv2d(x, w, padding=PADDING).backward(grad)
        return time.perf_counter() - start

    for _ in range(5):  # warm up caches, thread pools and the allocator
        step()
    times = [step() * 1e3 for _ in range(repeats)]
    return statistics.median(times), min(times)


FIRST_CALL = """
import time
start = time.perf_counter()
import numpy as np, minigrad as mg, minigrad.nn.functional as F
x = mg.tensor(np.ones((64, 32, 16, 16), dtype=np.float32), requires_grad=True)
w = mg.tensor(np.ones((64, 32, 3, 3), dtype=np.float32), requires_grad=True)
F.conv2d(x, w, padding=1).sum().backward()
print(time.perf_counter() - start)
"""


def path_of(x_shape, w_shape):
    from minigrad.ops import conv as conv_ops

    geometry = conv_ops.Geometry((1, 1), (PADDING, PADDING), (1, 1), 1)
    x = np.empty(x_shape, np.float32)
    if conv_ops._path(x_shape, w_shape[2:], geometry, x) == "winograd":
        return "Winograd F(4x4, 3x3) kernels"
    return "im2col, Numba kernels" if conv_ops._plan(x_shape, w_shape[2:], geometry)[2] else "im2col, NumPy"


# OpenBLAS's worker threads spin for about 0.1 s after every product they run, taking a
# core from the Numba kernels between the products. The step measured again with 2**16
# cycles of spinning instead of 2**28 (a setting OpenBLAS reads when NumPy loads) shows
# what that costs.
SHORT_SPIN = {"OPENBLAS_THREAD_TIMEOUT": "16"}


def in_subprocess(library, x_shape, w_shape, repeats, env=None):
    arguments = json.dumps([library, x_shape, w_shape, repeats])
    result = subprocess.run(
        [sys.executable, __file__, "--measure", arguments], capture_output=True, text=True, check=True,
        env=None if env is None else dict(os.environ, **env),
    )
    return json.loads(result.stdout)


def torch_installed():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    with_torch = torch_installed()
    for name, x_shape, w_shape, repeats in CASES:
        ours, theirs, short_spin = [], [], []
        for _ in range(ROUNDS):
            ours.append(in_subprocess("minigrad", x_shape, w_shape, repeats))
            if with_torch:
                theirs.append(in_subprocess("torch", x_shape, w_shape, repeats))
            short_spin.append(in_subprocess("minigrad", x_shape, w_shape, repeats, SHORT_SPIN))
        ours_ms = statistics.median(m for m, _ in ours)
        ours_best = min(b for _, b in ours)
        line = f"{name}: minigrad {ours_ms:7.2f} ms (best {ours_best:6.2f}, {path_of(x_shape, w_shape)})"
        if with_torch:
            theirs_ms = statistics.median(m for m, _ in theirs)
            theirs_best = min(b for _, b in theirs)
            line += (f" | PyTorch {theirs_ms:7.2f} ms (best {theirs_best:6.2f})"
                     f" | ratio {ours_ms / theirs_ms:.2f} (best {ours_best / theirs_best:.2f})")
        else:
            line += " | PyTorch not installed: no ratio"
        print(line, flush=True)
        spin_ms = statistics.median(m for m, _ in short_spin)
        line = f"    with OPENBLAS_THREAD_TIMEOUT=16: minigrad {spin_ms:7.2f} ms"
        if with_torch:
            line += f" | ratio {spin_ms / theirs_ms:.2f}"
        print(line, flush=True)
    print(f"(forward + backward, float32, padding {PADDING}, {THREADS} threads; median of {ROUNDS} "
          "processes' medians, and the best single repeat, which is steadier on a busy machine; "
          "target ratio <= 1.5 for the first case)")
    cold, warm = compile_times(FIRST_CALL)
    print(f"first conv2d forward+backward on the kernels in a fresh process (import included): "
          f"{cold:.2f} s compiling, {warm:.2f} s from Numba's on-disk cache")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        library, x_shape, w_shape, repeats = json.loads(sys.argv[2])
        print(json.dumps(measure(library, tuple(x_shape), tuple(w_shape), repeats)))
    else:
        main()
