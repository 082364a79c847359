"""Train the digits CNN on MNIST (or Fashion-MNIST) from its IDX files on disk.

The same Conv-BN-ReLU-MaxPool-twice CNN as digits_cnn.py, for 28x28 images, trained
with Adam. minigrad downloads nothing: put the four standard files
(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
t10k-labels-idx1-ubyte, each plain or .gz) in --data-dir. The curves go to
OUT/mnist.png and the weights to OUT/mnist.npz.

    python examples/mnist.py --data-dir data/mnist [--epochs N] [--limit N]
"""

import sys

import numpy as np

import minigrad as mg
from minigrad.data import load_mnist
from minigrad.datasets.idx import MNIST_FILES

import training  # examples/training.py


def as_images(images):
    """uint8 (N, H, W) -> float32 (N, 1, H, W) in [0, 1]."""
    return (images.astype(np.float32) / np.float32(255))[:, None, :, :]


def main(argv=None):
    arguments = training.parser(__doc__.splitlines()[0], epochs=2, batch_size=64, lr=0.003)
    arguments.add_argument("--data-dir", default="data/mnist", help="the folder holding the four IDX files")
    arguments.add_argument("--limit", type=int, default=None,
                           help="train on the first N training images only (a quick run)")
    args = training.parse(arguments, argv)
    try:
        (train_images, train_labels), (test_images, test_labels) = load_mnist(args.data_dir)
    except FileNotFoundError as error:
        names = "\n".join(f"  {args.data_dir}/{name}[.gz]" for name in MNIST_FILES.values())
        print(f"{error}\nPut MNIST's four IDX files here (minigrad downloads nothing):\n{names}\n"
              f"or pass --data-dir DIR to the folder that holds them.", file=sys.stderr)
        raise SystemExit(2) from None
    if args.limit is not None:
        train_images, train_labels = train_images[: args.limit], train_labels[: args.limit]
    train = as_images(train_images), train_labels.astype(np.int64)
    test = as_images(test_images), test_labels.astype(np.int64)
    mg.manual_seed(args.seed)
    model = training.digits_cnn(impl=args.impl, size=train[0].shape[-1], classes=10)
    history = training.train_classifier(model, args, train, test, "mnist", "MNIST CNN", save=True)
    return model, history


if __name__ == "__main__":
    main()
