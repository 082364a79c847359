"""Per-op overhead: forward + backward of chains of 1,000 elementwise ops on shape (4,).

Three chains, each timed in minigrad and, when installed, PyTorch (one thread), the two
alternating repeat by repeat so that both see the same machine load:

* tensor: ``y * w``, ``y + w``, ``y - w``, ``y.tanh()`` with a tensor ``w``;
* scalar: ``y * 1.0001``, ``y + 0.001``, Python-number operands;
* mixed: ``y * 0.999``, ``y + x``, ``y.tanh()``, ``y - 0.5``.

Prints microseconds per op (median of repeats) and the ratio to PyTorch (target
<= 1.2 for the tensor and the scalar chain), then the import time. Run with
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/overhead.py
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from common import machine_report

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CHAIN = 1000
TARGET = 1.2


def tensor_chain(x, w):
    y = x
    for _ in range(CHAIN // 4):
        y = y * w
        y = y + w
        y = y - w
        y = y.tanh()
    return y.sum()


def scalar_chain(x, w):
    y = x
    for _ in range(CHAIN // 2):
        y = y * 1.0001
        y = y + 0.001
    return y.sum()


def mixed_chain(x, w):
    y = x
    for _ in range(CHAIN // 4):
        y = y * 0.999
        y = y + x
        y = y.tanh()
        y = y - 0.5
    return y.sum()


CHAINS = {"tensor": tensor_chain, "scalar": scalar_chain, "mixed": mixed_chain}


def time_once(chain, x, w):
    start = time.perf_counter()
    chain(x, w).backward()
    return time.perf_counter() - start


def per_op_figures(repeats):
    """{chain: (minigrad us per op, PyTorch us per op or None)}, medians of repeats."""
    import minigrad as mg

    rng = np.random.default_rng(0)
    data = rng.standard_normal(4).astype(np.float32)
    weight = (1 + 0.001 * rng.standard_normal(4)).astype(np.float32)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
    figures = {}
    for name, chain in CHAINS.items():
        ours, theirs = [], []
        for _ in range(repeats):
            ours.append(time_once(chain, mg.tensor(data, requires_grad=True),
                                  mg.tensor(weight, requires_grad=True)))
            if torch is not None:
                theirs.append(time_once(chain, torch.tensor(data, requires_grad=True),
                                        torch.tensor(weight, requires_grad=True)))
        to_us = lambda times: statistics.median(times[2:]) / CHAIN * 1e6  # noqa: E731  (first two warm up)
        figures[name] = (to_us(ours), to_us(theirs) if theirs else None)
    return figures


def import_time():
    """Seconds for `python -c "import minigrad"` in a fresh process (median of 5)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..") + os.pathsep + env.get(
        "PYTHONPATH", "")
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import minigrad"], check=True, env=env)
        times.append(time.perf_counter() - start)
    baseline = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - start)
    return statistics.median(times), statistics.median(baseline)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=32)
    args = parser.parse_args()
    figures = per_op_figures(args.repeats)
    print("\n".join(machine_report()))
    print(f"forward + backward per op, chains of {CHAIN} ops on shape (4,) float32, "
          f"median of {args.repeats - 2} repeats (PyTorch on 1 thread):")
    for name, (ours, theirs) in figures.items():
        line = f"  {name:6s} minigrad {ours:6.2f} us"
        if theirs is None:
            line += " | PyTorch not installed: no ratio"
        else:
            target = f" (target <= {TARGET})" if name != "mixed" else ""
            line += f" | PyTorch {theirs:6.2f} us | ratio {ours / theirs:.2f}{target}"
        print(line)
    total, bare = import_time()
    print(f"python -c 'import minigrad': {total:.3f} s (bare interpreter {bare:.3f} s; target < 0.3 s)")


if __name__ == "__main__":
    main()
