"""Load the digits CNN that digits_cnn.py saved and predict a few test images.

The model is rebuilt, its state_dict read with mg.load and loaded, and put in eval mode,
so BatchNorm normalizes with the running statistics gathered in training. For each image
it prints the true digit, the predicted one and the probabilities of all ten.

    python examples/digits_cnn.py            # trains and writes out/digits_cnn.npz
    python examples/predict.py [--count 5]
"""

import os
import sys

import minigrad as mg

import training  # examples/training.py


def load_model(path, impl="fused"):
    """The digits CNN with the weights saved at ``path``, in eval mode."""
    model = training.digits_cnn(impl=impl)
    model.load_state_dict(mg.load(path))
    return model.eval()


def main(argv=None):
    arguments = training.parser(__doc__.splitlines()[0])
    arguments.add_argument("--count", type=int, default=5, help="how many test images to predict")
    args = training.parse(arguments, argv)
    path = os.path.join(args.out, "digits_cnn.npz")
    if not os.path.exists(path):
        print(f"no saved model at {path}: run examples/digits_cnn.py --out {args.out} first", file=sys.stderr)
        raise SystemExit(2)
    model = load_model(path, args.impl)
    _, (images, labels) = training.digits_split()
    probabilities = training.probabilities(model, images[: args.count])
    print(f"{path}: eval mode (running statistics); test images 0-{len(probabilities) - 1}")
    for index, (label, row) in enumerate(zip(labels, probabilities)):
        shown = " ".join(f"{digit}:{p:.2f}" for digit, p in enumerate(row))
        print(f"image {index}: true {label}, predicted {row.argmax()} ({100 * row.max():.1f}%)   {shown}")
    return probabilities


if __name__ == "__main__":
    main()
