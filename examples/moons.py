"""Train a small classifier on two interleaving half-moons, once with each BatchNorm.

The network is Linear(bias=False) -> BatchNorm1d -> ReLU -> Linear, trained with plain
minibatch SGD written out by hand (the update a gradient step really is). Both runs start
from the same weights and see the same batches, so the composed and the fused BatchNorm
end with the same loss to float32 precision. Each epoch is one pass over the 512
training points; the loss printed is the mean over that pass. Numba's first-call warm-up
is timed apart from training, so the two are compared on training alone. The decision
boundaries go to OUT/moons.png.

    python examples/moons.py [--epochs 30] [--impl both|composed|fused] [--out out]
"""

import os
import time

import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.data import DataLoader

import training  # examples/training.py


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


class HandSGD:
    """Plain SGD, written out: each parameter moves against its gradient, times lr."""

    def __init__(self, parameters, lr):
        self.parameters, self.lr = list(parameters), lr

    def zero_grad(self):
        for parameter in self.parameters:
            parameter.grad = None

    def step(self):
        with mg.no_grad():
            for parameter in self.parameters:
                parameter -= self.lr * parameter.grad


def draw_boundaries(models, test, path):
    """Each model's predicted probability of class 1 over the plane, with the test points."""
    pyplot = training.pyplot_or_none()
    if pyplot is None:
        return None
    points, labels = test
    xs = np.linspace(points[:, 0].min() - 0.4, points[:, 0].max() + 0.4, 160)
    ys = np.linspace(points[:, 1].min() - 0.4, points[:, 1].max() + 0.4, 120)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.float32)
    figure, panels = pyplot.subplots(1, len(models), figsize=(4.2 * len(models) + 1, 3.8), dpi=80,
                                    squeeze=False, layout="constrained")
    for axes, (impl, (model, accuracy)) in zip(panels[0], models.items()):
        probability = training.probabilities(model, grid)[:, 1].reshape(len(ys), len(xs))
        filled = axes.contourf(xs, ys, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.7)
        axes.contour(xs, ys, probability, levels=[0.5], colors="black", linewidths=1)
        axes.scatter(points[:, 0], points[:, 1], c=labels, cmap="RdBu_r", s=6, edgecolors="none")
        axes.set(title=f"{impl} BatchNorm\ntest accuracy {100 * accuracy:.1f}%", xlabel="x", ylabel="y")
    figure.colorbar(filled, ax=panels[0].tolist(), label="P(class 1)")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path)
    pyplot.close(figure)
    return path


def main(argv=None):
    arguments = training.parser(__doc__.splitlines()[0], epochs=30, batch_size=32, lr=0.3,
                                impl=("both", "composed", "fused"))
    args = training.parse(arguments, argv)
    train = make_moons(512, 0.15, seed=1)
    test = make_moons(512, 0.15, seed=2)
    impls = ("composed", "fused") if args.impl == "both" else (args.impl,)
    progress = training.tqdm_or_none(args.no_progress)
    results, models = {}, {}
    for impl in impls:
        mg.manual_seed(args.seed)  # the same initial weights for both
        model = build_model(impl)
        optimizer = HandSGD(model.parameters(), lr=args.lr)
        loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed)  # the same batches
        warm = training.warm_up(model, train[0][: args.batch_size], train[1][: args.batch_size],
                                test[0][: training.PREDICT_BATCH])
        loss, seconds = float("nan"), 0.0
        for epoch in range(1, args.epochs + 1):
            start = time.perf_counter()
            loss, _ = training.train_epoch(model, optimizer, loader, progress, f"{impl} epoch {epoch}/{args.epochs}")
            seconds += time.perf_counter() - start
        accuracy = training.evaluate(model, *test)[1]
        results[impl] = (loss, accuracy)
        models[impl] = (model, accuracy)
        trained = f"last epoch's mean loss {loss:.4f}" if args.epochs else "untrained (0 epochs)"
        print(f"{impl:>8}: {trained}, test accuracy {100 * accuracy:.1f}%, "
              f"training {seconds:.2f} s for {args.epochs} epochs (Numba warm-up {warm:.2f} s apart)")
    picture = draw_boundaries(models, test, os.path.join(args.out, "moons.png"))
    if picture:
        print(f"wrote {picture}")
    return results


if __name__ == "__main__":
    main()
