"""Train a 64-128-64-10 MLP with BatchNorm1d on the 8x8 digits shipped with minigrad.

Each 8x8 image is flattened to 64 values; two hidden layers of 128 and 64 units, each
Linear -> BatchNorm1d -> ReLU, then Linear to the 10 classes, trained with Adam on the
same fixed stratified 80/20 split as digits_cnn.py. The curves go to OUT/digits_mlp.png.

    python examples/digits_mlp.py [--epochs N] [--impl fused|composed] [--out out]
"""

import minigrad as mg
from minigrad import nn

import training  # examples/training.py


def digits_mlp(impl="fused"):
    """64-128-64-10; no bias before a BatchNorm, whose shift takes its place."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 128, bias=False), nn.BatchNorm1d(128, impl=impl), nn.ReLU(),
        nn.Linear(128, 64, bias=False), nn.BatchNorm1d(64, impl=impl), nn.ReLU(),
        nn.Linear(64, 10),
    )


def main(argv=None):
    arguments = training.parser(__doc__.splitlines()[0], epochs=15, batch_size=64, lr=0.003)
    args = training.parse(arguments, argv)
    train, test = training.digits_split()
    mg.manual_seed(args.seed)
    model = digits_mlp(args.impl)
    history = training.train_classifier(model, args, train, test, "digits_mlp", "digits MLP 64-128-64-10")
    return model, history


if __name__ == "__main__":
    main()
