"""Move a trained minigrad model out: to an ONNX file run by ONNX Runtime, and to PyTorch.

Trains the digits CNN (Conv-BN-ReLU-MaxPool twice, then Linear) briefly, or loads the
state_dict examples/digits_cnn.py saved,
exports it with mg.onnx.export, runs the test digits through ONNX Runtime and through
nn.to_torch's PyTorch model when those are installed, and prints how far each is from
minigrad's own logits and how often the predicted classes agree.

    python examples/export.py [--epochs 3] [--weights out/digits_cnn.npz] [--output digits_cnn.onnx]
"""

import argparse
import importlib.util
import os
import time

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import data, nn, optim

import training  # examples/training.py: the digits CNN and split every digits example uses


def train(model, images, labels, epochs, lr, batch_size, seed):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loader = data.DataLoader(data.TensorDataset(images, labels), batch_size=batch_size,
                             shuffle=True, seed=seed)
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def compare(name, logits, reference, labels):
    """Largest difference from minigrad's logits, class agreement, accuracy; printed."""
    difference = float(np.abs(logits - reference).max())
    agreement = float((logits.argmax(axis=1) == reference.argmax(axis=1)).mean())
    accuracy = float((logits.argmax(axis=1) == labels).mean())
    print(f"{name:>13}: largest difference from minigrad {difference:.2e}, "
          f"predicted classes agree on {agreement:.1%}, test accuracy {accuracy:.1%}")
    return {"max_difference": difference, "class_agreement": agreement, "accuracy": accuracy}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="training epochs (ignored with --weights)")
    parser.add_argument("--weights", default=None,
                        help="a state_dict saved by examples/digits_cnn.py, instead of training")
    parser.add_argument("--output", default="digits_cnn.onnx", help="the ONNX file to write")
    parser.add_argument("--opset", type=int, default=17, help="ONNX operator set version")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="train on only this many of the training digits (a quick run)")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    (train_images, train_labels), (test_images, test_labels) = training.digits_split()
    mg.manual_seed(args.seed)
    model = training.digits_cnn()
    if args.weights:
        model.load_state_dict(mg.load(args.weights))
        model.eval()
        print(f"loaded {args.weights}")
    else:
        start = time.perf_counter()
        limit = slice(None, args.train_limit)
        train(model, train_images[limit], train_labels[limit], args.epochs, args.lr, args.batch_size, args.seed)
        print(f"trained {args.epochs} epoch(s) in {time.perf_counter() - start:.1f} s")
    with mg.no_grad():
        reference = model(mg.tensor(test_images)).numpy()
    results = {"minigrad": {"accuracy": float((reference.argmax(axis=1) == test_labels).mean())}}
    print(f"{'minigrad':>13}: test accuracy {results['minigrad']['accuracy']:.1%} "
          f"on {len(test_labels)} test digits")

    if importlib.util.find_spec("onnx") is None:
        print("onnx is not installed (pip install 'minigrad[onnx]'): no export")
        return results
    start = time.perf_counter()
    import onnx  # noqa: F401  (imported here so that the export time below is the export's alone)

    print(f"importing onnx took {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    proto = mg.onnx.export(model, mg.tensor(test_images[:1]), args.output, opset=args.opset)
    seconds = time.perf_counter() - start
    results["export_seconds"] = seconds
    ops = sorted({node.op_type for node in proto.graph.node})
    print(f"export took {seconds * 1000:.0f} ms: {args.output}, {os.path.getsize(args.output) / 1024:.1f} KiB, "
          f"{len(proto.graph.node)} nodes ({', '.join(ops)}), opset {args.opset}")

    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        session = onnxruntime.InferenceSession(args.output, providers=["CPUExecutionProvider"])
        (logits,) = session.run(None, {"input": test_images})  # the whole test set in one batch
        results["onnxruntime"] = compare("ONNX Runtime", logits, reference, test_labels)
    else:
        print("onnxruntime is not installed: the exported file is not run")

    if importlib.util.find_spec("torch") is not None:
        import torch

        twin = nn.to_torch(model)
        with torch.no_grad():
            logits = twin(torch.from_numpy(test_images)).numpy()
        results["torch"] = compare("PyTorch", logits, reference, test_labels)
    else:
        print("PyTorch is not installed: nn.to_torch is not tried")
    return results


if __name__ == "__main__":
    main()
