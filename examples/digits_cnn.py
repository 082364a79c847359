"""Train a small CNN on the 8x8 handwritten digits shipped with minigrad.

Conv-BN-ReLU-MaxPool twice, then Linear, trained with Adam on a fixed stratified 80/20
split of the 1,797 digits. Each epoch shows a progress bar (tqdm) and prints its test
accuracy; at the end the curves go to OUT/digits_cnn.png and the weights (the model's
state_dict) to OUT/digits_cnn.npz, which examples/predict.py reads.

    python examples/digits_cnn.py [--epochs N] [--impl fused|composed] [--out out]
"""

import minigrad as mg

import training  # examples/training.py


def main(argv=None):
    arguments = training.parser(__doc__.splitlines()[0], epochs=10, batch_size=64, lr=0.01)
    args = training.parse(arguments, argv)
    train, test = training.digits_split()
    mg.manual_seed(args.seed)
    model = training.digits_cnn(impl=args.impl)
    history = training.train_classifier(model, args, train, test, "digits_cnn", "digits CNN", save=True)
    return model, history


if __name__ == "__main__":
    main()
