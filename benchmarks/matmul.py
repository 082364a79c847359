"""minigrad's matrix product against np.matmul, on every product the train_step models run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/matmul.py

The products of the Linear layers of benchmarks/train_step.py's three models, float32:
each forward ``x @ W.T`` (W as the layer stores it, (out, in)), and the two backward
products, ``grad @ W`` (the input gradient) and ``grad.T @ x`` (the weight gradient),
with the operands laid out as the engine hands them over (transposed views, no copies).
conv2d's products are np.matmul calls inside minigrad/backend/conv.py (on every path,
Winograd's too), so they are NumPy's by construction.

For each, minigrad's ``a @ b`` on Tensors (the MatMul Function: the product plus the
Tensor around it, no graph since nothing requires a gradient) and ``np.matmul`` on the
same arrays run alternately, repeat by repeat, and the medians are compared (target:
at most 1.05x). A product of a few microseconds shows the wrapper's fixed cost of about
a microsecond; the large ones show whether it loses anything on the product itself.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np
from common import machine_report

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigrad as mg  # noqa: E402

TARGET = 1.05

# (model, batch, in_features, out_features) of every Linear layer the models run
LAYERS = [("mlp", 256, 784, 512), ("mlp", 256, 512, 256), ("mlp", 256, 256, 10),
          ("cnn", 64, 128, 10), ("block", 64, 32, 10)]


def products(rng):
    """(name, a, b): a @ b for each forward and backward product of LAYERS."""
    for model, batch, n_in, n_out in LAYERS:
        x = rng.standard_normal((batch, n_in)).astype(np.float32)
        weight = rng.standard_normal((n_out, n_in)).astype(np.float32)
        grad = rng.standard_normal((batch, n_out)).astype(np.float32)
        yield f"{model} {n_in}->{n_out} forward x @ W.T", x, weight.T
        yield f"{model} {n_in}->{n_out} input grad g @ W", grad, weight
        yield f"{model} {n_in}->{n_out} weight grad g.T @ x", grad.T, x


def median_pair(a, b, repeats):
    ta, tb = mg.from_numpy(a), mg.from_numpy(b)
    calls = max(1, int(2e7 // (a.shape[0] * a.shape[1] * b.shape[1])))
    ours, numpy_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            ta @ tb
        ours.append((time.perf_counter() - start) / calls)
        start = time.perf_counter()
        for _ in range(calls):
            np.matmul(a, b)
        numpy_times.append((time.perf_counter() - start) / calls)
    return statistics.median(ours), statistics.median(numpy_times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()
    print("\n".join(machine_report()))
    print(f"a @ b, float32, median of {args.repeats} alternating repeats (microseconds):")
    worst = 0.0
    for name, a, b in products(np.random.default_rng(0)):
        np.matmul(a, b), mg.from_numpy(a) @ mg.from_numpy(b)  # warm-up
        ours, theirs = median_pair(a, b, args.repeats)
        worst = max(worst, ours / theirs)
        print(f"  {name:40s} {str(a.shape):11s} @ {str(b.shape):11s} minigrad {ours * 1e6:8.1f} | "
              f"np.matmul {theirs * 1e6:8.1f} | ratio {ours / theirs:4.2f}")
    print(f"largest ratio {worst:.2f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
