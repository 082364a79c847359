"""Whole training steps (forward, loss, backward, optimizer step) next to PyTorch.

Run (OpenBLAS core-type overrides unset, for the benchmark only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/train_step.py

Three models, float32, the same weights and batch in both libraries, PyTorch on as many
threads as Numba (2 on the 2-core machine):

* mlp: 784-512-256-10 with BatchNorm1d after each hidden Linear, batch 256,
  SGD momentum 0.9, cross-entropy (target <= 1.0x PyTorch);
* cnn: the digits CNN, Conv(1->16, 3x3, pad 1)-BN-ReLU-MaxPool(2),
  Conv(16->32, 3x3, pad 1)-BN-ReLU-MaxPool(2), Linear(128, 10), batch 64 of 8x8, Adam
  (target <= 1.5x);
* block: x (64, 32, 16, 16) through two Conv(32->32, 3x3, pad 1)-BN-ReLU layers, the
  mean over H and W, Linear(32, 10), SGD momentum (target <= 1.0x).

In each, minigrad runs with impl="fused" and impl="composed" batch norm (targets: fused
faster by >= 1.3x in the mlp step and >= 1.6x in the block step). Then the optimizer
step alone, SGD momentum and Adam over the mlp's 0.54M parameters (target <= 1.0x).

PyTorch runs in a process of its own, with the environment this script started with
(benchmarks/pytorch_process.py says why: in minigrad's process its OpenMP workers would
sleep between kernels, as minigrad's do, which halves PyTorch's speed on 2 cores).

The machine may be shared: the candidates take turns, a few repeats each, and every
figure is a median. The first step of each minigrad model (Numba's compile or on-disk
cache load) is timed apart and left out of the medians.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np
from common import ORIGINAL_ENV, alternating, compile_times, local_timer, machine_report
from pytorch_process import PyTorchProcess, batch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad import nn, optim  # noqa: E402

THREADS = 2
TARGETS = {"mlp": 1.0, "cnn": 1.5, "block": 1.0}
FUSED_TARGETS = {"mlp": 1.3, "block": 1.6}
BLOCK = 5  # repeats a candidate runs back to back before the next takes its turn


# ---- the models, in minigrad and in PyTorch ---------------------------------------
class Block(nn.Module):
    """Two Conv-BN-ReLU layers, the mean over H and W, a Linear classifier."""

    def __init__(self, impl):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32, impl=impl), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32, impl=impl), nn.ReLU(),
        )
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        return self.head(self.features(x).mean(axis=(2, 3)))


def minigrad_model(name, impl):
    if name == "mlp":
        return nn.Sequential(
            nn.Linear(784, 512), nn.BatchNorm1d(512, impl=impl), nn.ReLU(),
            nn.Linear(512, 256), nn.BatchNorm1d(256, impl=impl), nn.ReLU(),
            nn.Linear(256, 10),
        )
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16, impl=impl), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32, impl=impl), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(128, 10),
        )
    return Block(impl)


def minigrad_optimizer(name, parameters):
    if name == "cnn":
        return optim.Adam(parameters, lr=1e-3)
    return optim.SGD(parameters, lr=0.01, momentum=0.9)


def minigrad_step(name, impl, seed=0):
    """A closure running one training step, and the model (for copying its weights)."""
    mg.manual_seed(seed)
    model = minigrad_model(name, impl)
    opt = minigrad_optimizer(name, model.parameters())
    x_data, y_data = batch(name)
    x, y = mg.tensor(x_data), mg.tensor(y_data)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step, model


def spread(values):
    """The interquartile range as a fraction of the median: how noisy the figure was."""
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / statistics.median(values)


def optimizer_case(pytorch, kind):
    """minigrad's optimizer step over the mlp's parameter shapes, PyTorch's key, the count."""
    model = minigrad_model("mlp", "fused")
    rng = np.random.default_rng(1)
    ours = list(model.parameters())
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in ours]
    for p, g in zip(ours, grads):
        p.grad = mg.tensor(g)
    key, _ = pytorch.setup("optimizer", [p.data for p in ours] + grads, name=kind)
    mine = optim.SGD(ours, lr=0.01, momentum=0.9) if kind == "sgd" else optim.Adam(ours, lr=1e-3)
    count = sum(p.data.size for p in ours)
    return mine.step, key, count


FIRST_STEPS = """
import time
start = time.perf_counter()
import sys
sys.path.insert(0, {bench!r})
import train_step
for name in ("mlp", "cnn", "block"):
    for impl in ("fused", "composed"):
        train_step.minigrad_step(name, impl)[0]()
print(time.perf_counter() - start)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--models", default="mlp,cnn,block")
    parser.add_argument("--no-compile", action="store_true", help="skip the fresh-process compile timing")
    args = parser.parse_args()
    names = [name for name in args.models.split(",") if name]  # --models "" times the optimizers alone

    # minigrad's first steps, before PyTorch is imported
    steps, first = {}, {}
    for name in names:
        for impl in ("fused", "composed"):
            step, model = minigrad_step(name, impl)
            start = time.perf_counter()
            step()
            first[name, impl] = time.perf_counter() - start
            steps[name, impl] = (step, model)
    import numba

    from minigrad.runtime import threads  # its thread policy, before Numba's threads start

    if threads.count() != THREADS:
        numba.set_num_threads(min(THREADS, numba.config.NUMBA_NUM_THREADS))
    pytorch = PyTorchProcess(ORIGINAL_ENV, threads.count())
    print("\n".join(machine_report()))
    info = pytorch.info
    print(f"PyTorch {info['version']} in a process of its own: {info['threads']} threads, "
          f"OMP_WAIT_POLICY {info['omp_wait_policy']}; median of {args.repeats} repeats, "
          f"the candidates taking turns {BLOCK} repeats at a time\n")
    print("first minigrad step in this process (compile or cache load, left out of the medians):")
    print("  " + ", ".join(f"{name} {impl} {seconds * 1e3:.0f} ms" for (name, impl), seconds in first.items()))

    print("\none training step (forward, cross-entropy, backward, optimizer step), float32:")
    for name in names:
        fused, model = steps[name, "fused"]
        composed, _ = steps[name, "composed"]
        # same weights, same batch: the first losses agree (a check that both run one model)
        check_ours, check_model = minigrad_step(name, "fused")
        key, loss_theirs = pytorch.setup("train_step", [p.data.copy() for p in check_model.parameters()], name)
        loss_ours = check_ours()
        medians, times = alternating({"fused": local_timer(fused), "composed": local_timer(composed),
                                      "torch": pytorch.timer(key)}, args.repeats, BLOCK)
        ratio = medians["fused"] / medians["torch"]
        line = (f"  {name:5s} minigrad fused {medians['fused'] * 1e3:7.2f} ms"
                f" (+-{spread(times['fused']) * 50:.0f}%), composed {medians['composed'] * 1e3:7.2f} ms,"
                f" PyTorch {medians['torch'] * 1e3:7.2f} ms (+-{spread(times['torch']) * 50:.0f}%)"
                f" | fused/PyTorch {ratio:.2f}x (target <= {TARGETS[name]})"
                f" | composed/fused {medians['composed'] / medians['fused']:.2f}x")
        if name in FUSED_TARGETS:
            line += f" (target >= {FUSED_TARGETS[name]})"
        print(line)
        print(f"        first loss: minigrad {loss_ours:.6f}, PyTorch {loss_theirs:.6f}")

    print("\noptimizer step alone over the mlp's parameters:")
    for kind in ("sgd", "adam"):
        mine, key, count = optimizer_case(pytorch, kind)
        medians, times = alternating({"minigrad": local_timer(mine), "torch": pytorch.timer(key)},
                                     args.repeats * 3, BLOCK)
        label = "SGD momentum 0.9" if kind == "sgd" else "Adam"
        print(f"  {label:16s} ({count / 1e6:.2f}M parameters) minigrad {medians['minigrad'] * 1e3:6.3f} ms,"
              f" PyTorch {medians['torch'] * 1e3:6.3f} ms | ratio {medians['minigrad'] / medians['torch']:.2f}x"
              f" (target <= 1.0)")
    pytorch.close()

    print("(+-: half the interquartile range of the repeats, as a share of the median)")
    if not args.no_compile:
        bench = os.path.dirname(os.path.abspath(__file__))
        cold, warm = compile_times(FIRST_STEPS.format(bench=bench))
        print(f"\nfirst steps of all six minigrad models in a fresh process (import included): "
              f"{cold:.1f} s with an empty Numba cache, {warm:.1f} s from the on-disk cache")


if __name__ == "__main__":
    main()
