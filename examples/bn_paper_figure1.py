"""Ioffe and Szegedy's Figure 1 in miniature: the same sigmoid network with and without BatchNorm.

The network of the paper's section 4.1: three fully-connected hidden layers of 100 sigmoid
units and a linear read-out, trained by SGD on mini-batches of 60. One PNG of three panels:

(a) test accuracy against training steps, with and without BatchNorm;
(b, c) the 15th, 50th and 85th percentiles, over the test set, of the input to one sigmoid
    of the last hidden layer, as training goes on: without BatchNorm (b), with it (c).

By default it trains on the digits that ship with minigrad (8x8 images, 1,437 for
training, 360 for testing); with ``--data-dir`` holding MNIST's four IDX files it trains
on MNIST (28x28, 60,000 and 10,000) as the paper did.

    python examples/bn_paper_figure1.py --out figure1.png
    python examples/bn_paper_figure1.py --data-dir ~/data/mnist --steps 5000
"""

import argparse
import time

import numpy as np

import minigrad as mg
from minigrad import nn, optim
import minigrad.nn.functional as F


class SigmoidNet(nn.Module):
    """in -> [Linear(100) -> (BatchNorm1d) -> Sigmoid] x 3 -> Linear(10).

    ``forward`` keeps the last hidden layer's sigmoid input in ``self.last_input``.
    """

    def __init__(self, in_features, batchnorm, impl="fused"):
        super().__init__()
        self.fc1 = nn.Linear(in_features, 100, bias=not batchnorm)
        self.fc2 = nn.Linear(100, 100, bias=not batchnorm)
        self.fc3 = nn.Linear(100, 100, bias=not batchnorm)
        self.out = nn.Linear(100, 10)
        self.batchnorm = batchnorm
        if batchnorm:  # BatchNorm's beta takes the bias's place (the paper's section 3.2)
            self.bn1 = nn.BatchNorm1d(100, impl=impl)
            self.bn2 = nn.BatchNorm1d(100, impl=impl)
            self.bn3 = nn.BatchNorm1d(100, impl=impl)
        self.last_input = None

    def forward(self, x):
        for i in (1, 2, 3):
            x = getattr(self, f"fc{i}")(x)
            if self.batchnorm:
                x = getattr(self, f"bn{i}")(x)
            if i == 3:
                self.last_input = x
            x = x.sigmoid()
        return self.out(x)


def load(data_dir):
    """(train images, train labels, test images, test labels), images flattened to [0, 1]."""
    if data_dir is None:
        images, labels = mg.data.load_digits()
        (x_train, y_train), (x_test, y_test) = mg.data.train_test_split(
            [images.reshape(len(images), -1), labels], test_fraction=0.2, seed=0)
        return x_train, y_train, x_test, y_test
    (x_train, y_train), (x_test, y_test) = mg.data.load_mnist(data_dir)
    scale = lambda images: images.reshape(len(images), -1).astype(np.float32) / 255.0
    return scale(x_train), y_train.astype(np.int64), scale(x_test), y_test.astype(np.int64)


@mg.no_grad()
def evaluate(model, x_test, y_test, unit):
    """Test accuracy, and the 15th/50th/85th percentiles of one last-layer sigmoid input."""
    model.eval()
    logits = model(mg.tensor(x_test))
    model.train()
    accuracy = float((logits.data.argmax(axis=1) == y_test).mean())
    return accuracy, np.percentile(model.last_input.data[:, unit], [15, 50, 85])


def train(batchnorm, data, args):
    """Train one network; returns its history: steps, accuracy, percentiles (steps, 3)."""
    x_train, y_train, x_test, y_test = data
    mg.manual_seed(args.seed)  # both networks start from the same draws
    model = SigmoidNet(x_train.shape[1], batchnorm, impl=args.impl)
    optimizer = optim.SGD(model.parameters(), lr=args.lr)
    loader = mg.data.DataLoader(mg.data.TensorDataset(x_train, y_train), batch_size=args.batch_size,
                                shuffle=True, drop_last=True, seed=args.seed)
    history = {"steps": [], "accuracy": [], "percentiles": []}
    step = 0
    while step < args.steps:
        for x, y in loader:
            if step % args.eval_every == 0:
                accuracy, percentiles = evaluate(model, x_test, y_test, args.unit)
                history["steps"].append(step)
                history["accuracy"].append(accuracy)
                history["percentiles"].append(percentiles)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step == args.steps:
                break
    accuracy, percentiles = evaluate(model, x_test, y_test, args.unit)
    history["steps"].append(step)
    history["accuracy"].append(accuracy)
    history["percentiles"].append(percentiles)
    history["percentiles"] = np.array(history["percentiles"])
    return history


def plot(histories, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    plain, normed = histories["without BatchNorm"], histories["with BatchNorm"]
    axes[0].plot(plain["steps"], plain["accuracy"], color="tab:gray", label="without BatchNorm")
    axes[0].plot(normed["steps"], normed["accuracy"], color="tab:blue", label="with BatchNorm")
    axes[0].set(title="(a) test accuracy", xlabel="training steps", ylabel="accuracy")
    axes[0].legend(loc="lower right")
    axes[0].grid(alpha=0.3)
    low = min(h["percentiles"].min() for h in (plain, normed))
    high = max(h["percentiles"].max() for h in (plain, normed))
    margin = 0.05 * (high - low)
    for ax, (name, history), letter, color in zip(
            axes[1:], [("without BatchNorm", plain), ("with BatchNorm", normed)], "bc",
            ["tab:gray", "tab:blue"]):
        p = history["percentiles"]
        ax.fill_between(history["steps"], p[:, 0], p[:, 2], color=color, alpha=0.2)
        for column, style in zip(range(3), ["--", "-", "--"]):
            ax.plot(history["steps"], p[:, column], style, color=color)
        ax.set(title=f"({letter}) a last-layer sigmoid's input, {name}", xlabel="training steps",
               ylim=(low - margin, high + margin))
        ax.grid(alpha=0.3)
    axes[1].set_ylabel("15th, 50th, 85th percentile")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000, help="training steps for each network")
    parser.add_argument("--batch-size", type=int, default=60, help="examples per step (the paper's 60)")
    parser.add_argument("--lr", type=float, default=0.5, help="SGD learning rate, the same for both")
    parser.add_argument("--eval-every", type=int, default=50, help="steps between test evaluations")
    parser.add_argument("--unit", type=int, default=0, help="which last-hidden-layer sigmoid to follow")
    parser.add_argument("--seed", type=int, default=0, help="seeds the initial weights and batches")
    parser.add_argument("--impl", choices=["fused", "composed"], default="fused",
                        help="BatchNorm implementation")
    parser.add_argument("--data-dir", default=None,
                        help="a directory with MNIST's four IDX files (default: the shipped digits)")
    parser.add_argument("--out", default="bn_paper_figure1.png", help="where to write the PNG")
    return parser.parse_args(argv)


def one_blas_thread():
    """OpenBLAS on one thread where threadpoolctl is installed: this network's products are
    about 0.6M multiply-adds, too small for BLAS threads to gain, and on a busy machine
    handing them between threads cost up to 50 ms each instead of 0.2 ms."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def main(argv=None):
    args = parse_args(argv)
    with one_blas_thread():
        return run(args)


def run(args):
    data = load(args.data_dir)
    dataset = "MNIST" if args.data_dir else "digits"
    histories = {}
    for name, batchnorm in [("without BatchNorm", False), ("with BatchNorm", True)]:
        start = time.perf_counter()
        history = histories[name] = train(batchnorm, data, args)
        p = history["percentiles"][-1]
        print(f"{name:>17}: test accuracy {history['accuracy'][-1]:.3f} after {args.steps} steps; "
              f"sigmoid input percentiles 15/50/85: {p[0]:+.2f} / {p[1]:+.2f} / {p[2]:+.2f} "
              f"({time.perf_counter() - start:.1f} s)")
    title = (f"{dataset}: 3 sigmoid layers of 100 units, SGD lr {args.lr}, batch {args.batch_size}, "
             f"seed {args.seed}")
    plot(histories, args.out, title)
    print(f"wrote {args.out}")
    return histories


if __name__ == "__main__":
    main()
