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

The machine may be shared: the variants of one model run interleaved, repeat by repeat,
and every figure is a median. The first step of each minigrad model (Numba's compile or
on-disk cache load) is timed apart and left out of the medians. PyTorch is imported
after minigrad's kernels have run (the order minigrad/runtime/threads.py expects).
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np
from common import compile_times, machine_report

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad import nn, optim  # noqa: E402

THREADS = 2
TARGETS = {"mlp": 1.0, "cnn": 1.5, "block": 1.0}
FUSED_TARGETS = {"mlp": 1.3, "block": 1.6}


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


def torch_model(torch, name):
    tnn = torch.nn
    if name == "mlp":
        return tnn.Sequential(
            tnn.Linear(784, 512), tnn.BatchNorm1d(512), tnn.ReLU(),
            tnn.Linear(512, 256), tnn.BatchNorm1d(256), tnn.ReLU(),
            tnn.Linear(256, 10),
        )
    if name == "cnn":
        return tnn.Sequential(
            tnn.Conv2d(1, 16, 3, padding=1), tnn.BatchNorm2d(16), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(16, 32, 3, padding=1), tnn.BatchNorm2d(32), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Flatten(), tnn.Linear(128, 10),
        )

    class TorchBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(32, 32, 3, padding=1), tnn.BatchNorm2d(32), tnn.ReLU(),
                tnn.Conv2d(32, 32, 3, padding=1), tnn.BatchNorm2d(32), tnn.ReLU(),
            )
            self.head = tnn.Linear(32, 10)

        def forward(self, x):
            return self.head(self.features(x).mean(dim=(2, 3)))

    return TorchBlock()


def batch(name):
    rng = np.random.default_rng(0)
    shape = {"mlp": (256, 784), "cnn": (64, 1, 8, 8), "block": (64, 32, 16, 16)}[name]
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 10, size=shape[0]).astype(np.int64)
    return x, y


def minigrad_optimizer(name, parameters):
    if name == "cnn":
        return optim.Adam(parameters, lr=1e-3)
    return optim.SGD(parameters, lr=0.01, momentum=0.9)


def torch_optimizer(torch, name, parameters):
    if name == "cnn":
        return torch.optim.Adam(parameters, lr=1e-3)
    return torch.optim.SGD(parameters, lr=0.01, momentum=0.9)


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


def torch_step(torch, name, source):
    """PyTorch's step on a model holding ``source``'s (a minigrad model's) weights."""
    model = torch_model(torch, name)
    with torch.no_grad():
        for mine, theirs in zip(source.parameters(), model.parameters()):
            theirs.copy_(torch.from_numpy(mine.data))
    opt = torch_optimizer(torch, name, model.parameters())
    x_data, y_data = batch(name)
    x, y = torch.from_numpy(x_data), torch.from_numpy(y_data)
    cross_entropy = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


# ---- timing ---------------------------------------------------------------------
def interleaved(functions, repeats, warmup=3):
    """Median seconds of each function, the functions run in turn repeat by repeat."""
    for _ in range(warmup):
        for fn in functions.values():
            fn()
    times = {key: [] for key in functions}
    for _ in range(repeats):
        for key, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}, times


def spread(values):
    """The interquartile range as a fraction of the median: how noisy the figure was."""
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / statistics.median(values)


def optimizer_case(torch, kind):
    """Step closures for minigrad's and PyTorch's optimizer over the mlp's parameter shapes."""
    model = minigrad_model("mlp", "fused")
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in model.parameters()]
    ours = list(model.parameters())
    for p, g in zip(ours, grads):
        p.grad = mg.tensor(g)
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    for p, g in zip(theirs, grads):
        p.grad = torch.from_numpy(g.copy())
    if kind == "sgd":
        mine = optim.SGD(ours, lr=0.01, momentum=0.9)
        native = torch.optim.SGD(theirs, lr=0.01, momentum=0.9)
    else:
        mine = optim.Adam(ours, lr=1e-3)
        native = torch.optim.Adam(theirs, lr=1e-3)
    count = sum(p.data.size for p in ours)
    return mine.step, native.step, count


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

    if numba.get_num_threads() != THREADS:
        numba.set_num_threads(min(THREADS, numba.config.NUMBA_NUM_THREADS))
    import torch

    torch.set_num_threads(numba.get_num_threads())
    print("\n".join(machine_report()))
    print(f"PyTorch {torch.__version__}: {torch.get_num_threads()} threads; "
          f"median of {args.repeats} interleaved repeats\n")
    print("first minigrad step in this process (compile or cache load, left out of the medians):")
    print("  " + ", ".join(f"{name} {impl} {seconds * 1e3:.0f} ms" for (name, impl), seconds in first.items()))

    print("\none training step (forward, cross-entropy, backward, optimizer step), float32:")
    for name in names:
        fused, model = steps[name, "fused"]
        composed, _ = steps[name, "composed"]
        native = torch_step(torch, name, model)
        # same weights, same batch: the first losses agree (a check that both run one model)
        check_ours, _ = minigrad_step(name, "fused")
        check_theirs = torch_step(torch, name, minigrad_step(name, "fused")[1])
        loss_ours, loss_theirs = check_ours(), check_theirs()
        medians, times = interleaved({"fused": fused, "composed": composed, "torch": native}, args.repeats)
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
        mine, native, count = optimizer_case(torch, kind)
        medians, times = interleaved({"minigrad": mine, "torch": native}, args.repeats * 3)
        label = "SGD momentum 0.9" if kind == "sgd" else "Adam"
        print(f"  {label:16s} ({count / 1e6:.2f}M parameters) minigrad {medians['minigrad'] * 1e3:6.3f} ms,"
              f" PyTorch {medians['torch'] * 1e3:6.3f} ms | ratio {medians['minigrad'] / medians['torch']:.2f}x"
              f" (target <= 1.0)")

    print("(+-: half the interquartile range of the repeats, as a share of the median)")
    if not args.no_compile:
        bench = os.path.dirname(os.path.abspath(__file__))
        cold, warm = compile_times(FIRST_STEPS.format(bench=bench))
        print(f"\nfirst steps of all six minigrad models in a fresh process (import included): "
              f"{cold:.1f} s with an empty Numba cache, {warm:.1f} s from the on-disk cache")


if __name__ == "__main__":
    main()
