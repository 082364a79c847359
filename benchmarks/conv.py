"""conv2d forward + backward, minigrad next to PyTorch's CPU conv2d (both on 2 threads).

The layers of the two conv models of benchmarks/train_step.py, float32, stride 1,
padding 1, no bias:

  x (64, 32, 16, 16), weight (32, 32, 3, 3)  -- a layer of the conv block net
  x (64, 1, 8, 8),    weight (16, 1, 3, 3)   -- the digits CNN's first layer
  x (64, 16, 4, 4),   weight (32, 16, 3, 3)  -- the digits CNN's second layer

Each library runs in its own process (a thread pool that has just finished keeps
spinning a while and would steal the cores from the other library's next call);
processes alternate, a few rounds each; every round reports the median of its repeats,
and the median of the rounds is printed, with the path minigrad timed fastest
(minigrad/backend/conv.py) and, for scale, minigrad on the NumPy reference backend.
Last, the first conv2d call of a fresh process, without and with Numba's on-disk cache.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv.py
"""

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from common import compile_times, machine_report

CASES = [
    ("conv block layer  x (64, 32, 16, 16), w (32, 32, 3, 3)", (64, 32, 16, 16), (32, 32, 3, 3), 30),
    ("digits conv 1     x (64, 1, 8, 8),    w (16, 1, 3, 3) ", (64, 1, 8, 8), (16, 1, 3, 3), 300),
    ("digits conv 2     x (64, 16, 4, 4),   w (32, 16, 3, 3)", (64, 16, 4, 4), (32, 16, 3, 3), 300),
]
PADDING = 1
ROUNDS = 3
THREADS = 2
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def measure(library, x_shape, w_shape, repeats):
    """Median milliseconds of forward + backward in this process, the path, and the
    machine report (minigrad's processes)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    grad = rng.standard_normal((x_shape[0], w_shape[0]) + x_shape[2:], dtype=np.float32)
    path = report = None
    if library in ("minigrad", "reference"):
        sys.path.insert(0, ROOT)
        import minigrad as mg
        import minigrad.nn.functional as F
        from minigrad.backend import conv as conv_backend
        from minigrad.ops.conv import Geometry

        geometry = Geometry((1, 1), (PADDING, PADDING), (1, 1), 1)
        path = conv_backend.plan(x_shape, w_shape[0], w_shape[2:], geometry, x, w).path
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
    if library == "minigrad":
        report = machine_report()
    return statistics.median(times), path, report


FIRST_CALL = """
import time
start = time.perf_counter()
import numpy as np, minigrad as mg, minigrad.nn.functional as F
x = mg.tensor(np.ones((64, 32, 16, 16), dtype=np.float32), requires_grad=True)
w = mg.tensor(np.ones((32, 32, 3, 3), dtype=np.float32), requires_grad=True)
F.conv2d(x, w, padding=1).sum().backward()
print(time.perf_counter() - start)
"""


def in_subprocess(library, x_shape, w_shape, repeats):
    env = dict(os.environ)
    if library == "reference":
        env["MINIGRAD_BACKEND"] = "reference"
    arguments = json.dumps([library, x_shape, w_shape, repeats])
    result = subprocess.run([sys.executable, __file__, "--measure", arguments],
                            capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout)


def torch_installed():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    with_torch = torch_installed()
    printed_report = False
    for name, x_shape, w_shape, repeats in CASES:
        ours, theirs = [], []
        path = None
        for _ in range(ROUNDS):
            ms, path, report = in_subprocess("minigrad", x_shape, w_shape, repeats)
            ours.append(ms)
            if not printed_report:
                print("\n".join(report), flush=True)
                printed_report = True
            if with_torch:
                theirs.append(in_subprocess("torch", x_shape, w_shape, repeats)[0])
        reference_ms = in_subprocess("reference", x_shape, w_shape, max(5, repeats // 10))[0]
        ours_ms = statistics.median(ours)
        line = f"{name}: minigrad {ours_ms:7.2f} ms ({path})"
        if with_torch:
            theirs_ms = statistics.median(theirs)
            line += f" | PyTorch {theirs_ms:7.2f} ms | ratio {ours_ms / theirs_ms:.2f}"
        else:
            line += " | PyTorch not installed: no ratio"
        line += f" | reference backend {reference_ms:7.2f} ms"
        print(line, flush=True)
    print(f"(forward + backward, float32, padding {PADDING}, {THREADS} threads; median of {ROUNDS} "
          "processes' medians; the machine may be shared: ratios move between runs)")
    cold, warm = compile_times(FIRST_CALL)
    print(f"first conv2d forward+backward on the kernels in a fresh process (import included): "
          f"{cold:.2f} s compiling, {warm:.2f} s from Numba's on-disk cache")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        library, x_shape, w_shape, repeats = json.loads(sys.argv[2])
        print(json.dumps(measure(library, tuple(x_shape), tuple(w_shape), repeats)))
    else:
        main()
