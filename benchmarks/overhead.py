"""Per-op overhead: forward + backward of a chain of 1,000 elementwise ops on shape (4,).

Prints microseconds per op for minigrad and, when installed, PyTorch, and their ratio
(median of repeats). Run with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/overhead.py
"""

import statistics
import subprocess
import sys
import time

import numpy as np

CHAIN = 1000
REPEATS = 30


def chain(x):
    """1,000 elementwise ops cycling through binary (with a scalar and a tensor) and unary ones."""
    y = x
    for i in range(CHAIN // 4):
        y = y * 0.999
        y = y + x
        y = y.tanh()
        y = y - 0.5
    return y.sum()


def time_once(x):
    start = time.perf_counter()
    chain(x).backward()
    return time.perf_counter() - start


def per_op_figures():
    """Median microseconds per op for minigrad and PyTorch (None without torch).

    The two run alternately, repeat by repeat, so that both see the same machine load.
    """
    import minigrad as mg

    data = np.random.default_rng(0).standard_normal(4).astype(np.float32)
    try:
        import torch

        torch.set_num_threads(1)
        torch_data = torch.from_numpy(data)
    except ImportError:
        torch = None
    ours, theirs = [], []
    for _ in range(REPEATS):
        ours.append(time_once(mg.tensor(data, requires_grad=True)))
        if torch is not None:
            theirs.append(time_once(torch_data.clone().requires_grad_(True)))
    to_us = lambda times: statistics.median(times) / CHAIN * 1e6
    return to_us(ours), (to_us(theirs) if theirs else None)


def import_time():
    """Seconds for `python -c "import minigrad"` in a fresh process (median of 5)."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import minigrad"], check=True)
        times.append(time.perf_counter() - start)
    baseline = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - start)
    return statistics.median(times), statistics.median(baseline)


def main():
    ours, theirs = per_op_figures()
    print(f"minigrad: {ours:6.2f} us per op (forward + backward, chain of {CHAIN}, shape (4,))")
    if theirs is not None:
        print(f"PyTorch:  {theirs:6.2f} us per op")
        print(f"ratio minigrad / PyTorch: {ours / theirs:.2f} (target <= 1.5)")
    else:
        print("PyTorch not installed: no ratio")
    total, bare = import_time()
    print(f"python -c 'import minigrad': {total:.3f} s (bare interpreter {bare:.3f} s; target < 0.3 s)")


if __name__ == "__main__":
    main()
