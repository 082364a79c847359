"""Train a small classifier on two interleaving half-moons, once with each BatchNorm.

The network is Linear(bias=False) -> BatchNorm1d -> ReLU -> Linear, trained with plain
minibatch SGD written out by hand (the update a gradient step really is). Both runs start
from the same weights and see the same batches, so the composed and the fused BatchNorm
should end with the same loss to float32 precision.

    python examples/moons.py [--epochs 30]
"""

import argparse
import time

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn


def make_moons(count, noise, seed):
    """Points on two interleaving half circles (class 0 and class 1), with Gaussian noise."""
    draw = np.random.default_rng(seed)
    angle = draw.uniform(0, np.pi, count)
    label = draw.integers(0, 2, count)
    x = np.where(label == 0, np.cos(angle), 1 - np.cos(angle))
    y = np.where(label == 0, np.sin(angle), 0.5 - np.sin(angle))
    points = np.stack([x, y], axis=1) + draw.normal(0, noise, (count, 2))
    return points.astype(np.float32), label


def build_model(impl):
    return nn.Sequential(
        nn.Linear(2, 32, bias=False),  # no bias: BatchNorm's beta replaces it
        nn.BatchNorm1d(32, impl=impl),
        nn.ReLU(),
        nn.Linear(32, 2),
    )


def train(model, points, labels, epochs, lr=0.1, batch_size=32, seed=0):
    order = np.random.default_rng(seed)
    for _ in range(epochs):
        for start in range(0, len(points), batch_size):
            batch = order.permutation(len(points))[:batch_size]
            loss = F.cross_entropy(model(mg.tensor(points[batch])), labels[batch])
            model.zero_grad()
            loss.backward()
            with mg.no_grad():
                for parameter in model.parameters():
                    parameter -= lr * parameter.grad
    return loss.item()


def accuracy(model, points, labels):
    model.eval()  # running statistics, not the batch's
    with mg.no_grad():
        predicted = model(mg.tensor(points)).data.argmax(axis=1)
    model.train()
    return float((predicted == labels).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)
    train_points, train_labels = make_moons(512, 0.15, seed=1)
    test_points, test_labels = make_moons(512, 0.15, seed=2)
    results = {}
    for impl in ("composed", "fused"):
        mg.manual_seed(0)  # the same initial weights for both
        model = build_model(impl)
        start = time.perf_counter()
        loss = train(model, train_points, train_labels, args.epochs)
        seconds = time.perf_counter() - start
        results[impl] = (loss, accuracy(model, test_points, test_labels))
        print(f"{impl:>8}: last batch loss {loss:.4f}, test accuracy {results[impl][1]:.3f}, "
              f"{seconds:.2f} s for {args.epochs} epochs")
    return results


if __name__ == "__main__":
    main()
