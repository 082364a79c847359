"""What the examples share: their command line, the digits CNN, one training loop with a
progress bar, evaluation, Numba's warm-up timed on its own, and the curves' PNG.

tqdm and matplotlib come from the ``examples`` extra (``pip install -e ".[examples]"``);
without them the examples still train, printing plain lines and writing no PNG.
"""

import argparse
import copy
import os
import time

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn, optim
from minigrad.data import DataLoader, TensorDataset, load_digits, train_test_split

EXTRA = 'pip install -e ".[examples]"'
IMPORTED = time.perf_counter()
PREDICT_BATCH = 512  # evaluation runs in batches of this many


def parser(description, epochs=None, batch_size=32, lr=0.01, impl=("fused", "composed")):
    """An ArgumentParser with the options the examples share, their defaults shown by --help.

    ``epochs=None`` leaves out the training options (--epochs, --batch-size, --lr, --seed);
    ``impl`` lists the --impl choices, the first the default (None: no --impl).
    """
    arguments = argparse.ArgumentParser(description=description,
                                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    if epochs is not None:
        arguments.add_argument("--epochs", type=int, default=epochs, help="passes over the training data")
        arguments.add_argument("--batch-size", type=int, default=batch_size, help="examples per step")
        arguments.add_argument("--lr", type=float, default=lr, help="learning rate")
        arguments.add_argument("--seed", type=int, default=0, help="seeds the weights and the batch order")
    arguments.add_argument("--out", default="out", help="folder for the PNG and the saved model")
    if impl:
        arguments.add_argument("--impl", choices=impl, default=impl[0],
                               help="BatchNorm: the fused Numba kernel or the one composed of primitive ops")
    if epochs is not None:
        arguments.add_argument("--no-progress", action="store_true", help="plain lines instead of a progress bar")
    return arguments


def parse(arguments, argv):
    """Parse ``argv``, refusing negative epochs and batches of less than one example."""
    args = arguments.parse_args(argv)
    if getattr(args, "epochs", 0) < 0:
        arguments.error(f"--epochs must be 0 or more, got {args.epochs}")
    if getattr(args, "batch_size", 1) < 1:
        arguments.error(f"--batch-size must be at least 1, got {args.batch_size}")
    return args


def digits_split():
    """The fixed stratified 80/20 split of the shipped digits every digits example uses:
    ``(train_images, train_labels), (test_images, test_labels)``."""
    return train_test_split(load_digits(), test_fraction=0.2, seed=0)


def digits_cnn(impl="fused", channels=(16, 32), size=8, classes=10):
    """Conv-BN-ReLU-MaxPool twice, then Linear: the CNN of digits_cnn.py, mnist.py and predict.py.

    Each convolution has no bias: BatchNorm's shift takes its place.
    """
    first, second = channels
    return nn.Sequential(
        nn.Conv2d(1, first, 3, padding=1, bias=False), nn.BatchNorm2d(first, impl=impl), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(first, second, 3, padding=1, bias=False), nn.BatchNorm2d(second, impl=impl), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(second * (size // 4) ** 2, classes),
    )


def tqdm_or_none(disabled=False):
    """tqdm's class, or None (with one line saying how to get it) when it is not installed."""
    if disabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        print(f"(tqdm is not installed: plain lines instead of a progress bar; {EXTRA})")
        return None
    return tqdm


def warm_up(model, inputs, labels, eval_inputs=None):
    """Run one training step on ``inputs`` and one eval forward on ``eval_inputs`` (a test
    batch as ``predict`` cuts it) on a copy of ``model``, so Numba compiles (or loads from
    its cache) every kernel that training and evaluation use, without changing the model.
    Sizes matter: large convolutions take other kernels than small ones.

    Returns the seconds it took: start-up, reported apart from training time.
    """
    start = time.perf_counter()
    twin = copy.deepcopy(model)
    twin.train()
    F.cross_entropy(twin(mg.tensor(inputs)), labels).backward()
    predict(twin, inputs if eval_inputs is None else eval_inputs)
    return time.perf_counter() - start


def train_epoch(model, optimizer, loader, progress=None, description=""):
    """One pass over ``loader``: every training example once.

    Returns the mean loss and the accuracy over the epoch's examples (each batch's
    figures weighted by its size). With ``progress`` (tqdm), a bar shows both as it goes.
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    bar = None if progress is None else progress(total=len(loader), desc=description, leave=False, unit="batch")
    for inputs, labels in loader:
        logits = model(inputs)
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        count = len(labels.data)
        total_loss += loss.item() * count
        correct += int((logits.data.argmax(axis=1) == labels.data).sum())
        seen += count
        if bar is not None:
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", accuracy=f"{100 * correct / seen:.1f}%", refresh=False)
            bar.update()
    if bar is not None:
        bar.close()
    return total_loss / seen, correct / seen


def predict(model, inputs, batch_size=PREDICT_BATCH):
    """Logits for ``inputs`` (a NumPy array) in eval mode (running statistics), no graph."""
    was_training = model.training
    model.eval()
    try:
        with mg.no_grad():
            parts = [model(mg.tensor(inputs[i:i + batch_size])).data for i in range(0, len(inputs), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(parts)


def probabilities(model, inputs):
    """Softmax of the eval-mode logits: one row of class probabilities per input."""
    return F.softmax(mg.tensor(predict(model, inputs)), axis=1).data


def evaluate(model, inputs, labels):
    """Mean cross-entropy and accuracy of ``model`` on a whole test set, in eval mode."""
    logits = predict(model, inputs)
    loss = F.cross_entropy(mg.tensor(logits), labels).item()
    return loss, float((logits.argmax(axis=1) == labels).mean())


def fit(model, optimizer, loader, test, epochs, progress=None):
    """Train for ``epochs`` passes, printing one line per epoch, and return the history
    (per epoch: train loss and accuracy, test loss and accuracy, seconds)."""
    history = {key: [] for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds")}
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        train_loss, train_accuracy = train_epoch(model, optimizer, loader, progress, f"epoch {epoch}/{epochs}")
        test_loss, test_accuracy = evaluate(model, *test)
        seconds = time.perf_counter() - start
        for key, value in zip(history, (train_loss, train_accuracy, test_loss, test_accuracy, seconds)):
            history[key].append(value)
        print(f"epoch {epoch:>2}/{epochs}  train loss {train_loss:.4f}  train accuracy {100 * train_accuracy:.1f}%  "
              f"test accuracy {100 * test_accuracy:.1f}%  ({seconds:.2f} s)", flush=True)
    return history


def pyplot_or_none():
    """matplotlib's pyplot on the Agg backend (files only, no window), or None with one line
    saying how to get it."""
    try:
        import matplotlib
    except ImportError:
        print(f"(matplotlib is not installed: no PNG; {EXTRA})")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    return pyplot


def plot_history(history, path, title):
    """Loss and accuracy curves per epoch, as a PNG at ``path``; returns the path, or None
    when matplotlib is missing or there is nothing to draw."""
    if not history["train_loss"]:
        print("(0 epochs: no curves to draw)")
        return None
    pyplot = pyplot_or_none()
    if pyplot is None:
        return None
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(8, 3.2), dpi=80)
    left.plot(epochs, history["train_loss"], marker="o", markersize=3, label="train (mean over the epoch)")
    left.plot(epochs, history["test_loss"], marker="o", markersize=3, label="test (end of epoch)")
    left.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
    right.plot(epochs, 100 * np.array(history["train_accuracy"]), marker="o", markersize=3, label="train")
    right.plot(epochs, 100 * np.array(history["test_accuracy"]), marker="o", markersize=3, label="test")
    right.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for axes in (left, right):
        axes.xaxis.get_major_locator().set_params(integer=True)  # whole epochs
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path)
    pyplot.close(figure)
    return path


def process_seconds():
    """Wall seconds since this process started (Python's own start-up included)."""
    try:
        with open("/proc/self/stat") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
        with open("/proc/uptime") as uptime:
            return float(uptime.read().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):  # not Linux: from this module's import
        return time.perf_counter() - IMPORTED


def report_times(warm_up_seconds, history):
    """One line: Numba's warm-up apart from the training time, and the whole run."""
    training = sum(history["seconds"])
    print(f"Numba warm-up {warm_up_seconds:.2f} s (compiling, or loading cached kernels), training "
          f"{training:.2f} s, whole run {process_seconds():.1f} s (start-up included)")


def train_classifier(model, args, train, test, name, title, save=False):
    """What every classifier example does: Adam on shuffled batches of ``train`` for
    ``args.epochs`` epochs, printing the test accuracy each epoch, with Numba's warm-up
    timed apart; the curves to ``OUT/NAME.png``; with ``save``, the state_dict to
    ``OUT/NAME.npz``. Returns the history (see ``fit``)."""
    train_images, train_labels = train
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(train_images, train_labels), batch_size=args.batch_size,
                        shuffle=True, seed=args.seed)
    print(f"{name}: {len(train_labels)} training and {len(test[1])} test images; {args.epochs} epochs "
          f"of {len(loader)} batches of {args.batch_size}, Adam lr={args.lr}, BatchNorm impl={args.impl}")
    warm = warm_up(model, train_images[: args.batch_size], train_labels[: args.batch_size],
                   test[0][:PREDICT_BATCH])
    history = fit(model, optimizer, loader, test, args.epochs, tqdm_or_none(args.no_progress))
    if not args.epochs:
        print(f"0 epochs, untrained: test accuracy {100 * evaluate(model, *test)[1]:.1f}%")
    os.makedirs(args.out, exist_ok=True)
    if save:
        weights = os.path.join(args.out, f"{name}.npz")
        mg.save(model.state_dict(), weights)
        print(f"saved the model's state_dict to {weights}")
    picture = plot_history(history, os.path.join(args.out, f"{name}.png"), title)
    if picture:
        print(f"wrote {picture}")
    report_times(warm, history)
    return history
