"""PyTorch in a process of its own, as a user runs it, for the benchmarks to time.

Why not in the benchmark's process: minigrad sets ``OMP_WAIT_POLICY=PASSIVE`` when it
is imported (minigrad/runtime/threads.py), and PyTorch shares that process's OpenMP
runtime, so in-process PyTorch's workers would sleep between its kernels too; on a
2-core machine that makes its MLP training step about 2x slower than PyTorch run by
itself. Here PyTorch gets the environment as the benchmark found it before importing
minigrad (``common.ORIGINAL_ENV``), and nothing of minigrad is imported.

The benchmark talks to this process over its stdin and stdout, one JSON object a line:
``setup`` builds a step (a training step, an optimizer step or a batch-norm step) from
arrays the benchmark saved with ``np.savez`` and answers with a key; ``time`` warms
that step up and runs it a number of times back to back (``common.timed_runs``, as the
benchmark's own candidates), answering with the seconds of each.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from common import timed_runs

HERE = os.path.dirname(os.path.abspath(__file__))


# ---- what both libraries run --------------------------------------------------------
def batch(name):
    """The input batch and labels of a train_step model."""
    rng = np.random.default_rng(0)
    shape = {"mlp": (256, 784), "cnn": (64, 1, 8, 8), "block": (64, 32, 16, 16)}[name]
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 10, size=shape[0]).astype(np.int64)
    return x, y


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


def torch_optimizer(torch, kind, parameters):
    if kind == "adam":
        return torch.optim.Adam(parameters, lr=1e-3)
    return torch.optim.SGD(parameters, lr=0.01, momentum=0.9)


def train_step(torch, name, weights):
    """PyTorch's training step on a model holding ``weights`` (a minigrad model's)."""
    model = torch_model(torch, name)
    with torch.no_grad():
        for array, theirs in zip(weights, model.parameters()):
            theirs.copy_(torch.from_numpy(array))
    opt = torch_optimizer(torch, "adam" if name == "cnn" else "sgd", model.parameters())
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


def optimizer_step(torch, kind, parameters, grads):
    theirs = [torch.tensor(p, requires_grad=True) for p in parameters]
    for p, g in zip(theirs, grads):
        p.grad = torch.from_numpy(g)
    return torch_optimizer(torch, kind, theirs).step


def batchnorm_step(torch, x, dy):
    channels = x.shape[1]
    xt = torch.tensor(x, requires_grad=True)
    weight = torch.ones(channels, requires_grad=True)
    bias = torch.zeros(channels, requires_grad=True)
    running_mean, running_var = torch.zeros(channels), torch.ones(channels)
    upstream = torch.tensor(dy)

    def step():
        xt.grad = weight.grad = bias.grad = None
        y = torch.nn.functional.batch_norm(xt, running_mean, running_var, weight, bias, training=True)
        y.backward(upstream)

    return step


# ---- the server: this file run as a script -------------------------------------------
def serve(threads):
    import torch

    torch.set_num_threads(threads)
    steps = {}
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "info":
            answer = {"version": torch.__version__, "threads": torch.get_num_threads(),
                      "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset")}
        elif op == "setup":
            with np.load(request["arrays"]) as saved:
                arrays = [saved[f"arr_{i}"] for i in range(len(saved.files))]
            kind = request["kind"]
            if kind == "train_step":
                step = train_step(torch, request["name"], arrays)
            elif kind == "optimizer":
                half = len(arrays) // 2
                step = optimizer_step(torch, request["name"], arrays[:half], arrays[half:])
            else:
                step = batchnorm_step(torch, *arrays)
            first = step()
            for _ in range(request.get("warmup", 3)):
                step()
            key = len(steps)
            steps[key] = step
            answer = {"key": key, "first": first}
        elif op == "time":
            answer = {"times": timed_runs(steps[request["key"]], request["repeats"])}
        else:
            answer = {"error": f"unknown op {op!r}"}
        print(json.dumps(answer), flush=True)


class PyTorchProcess:
    """The benchmark's end: starts this file as a PyTorch server and sends it requests."""

    def __init__(self, env, threads):
        self.process = subprocess.Popen([sys.executable, os.path.join(HERE, "pytorch_process.py"),
                                         str(threads)], env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.folder = tempfile.TemporaryDirectory()
        self.info = self._ask({"op": "info"})

    def _ask(self, request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def setup(self, kind, arrays, name=None):
        """A step on ``arrays`` (see ``serve``): its key and the value its first call gave."""
        path = os.path.join(self.folder.name, f"{len(os.listdir(self.folder.name))}.npz")
        np.savez(path, *arrays)
        answer = self._ask({"op": "setup", "kind": kind, "name": name, "arrays": path})
        return answer["key"], answer["first"]

    def timer(self, key):
        """A function of ``n`` giving the seconds of ``n`` back-to-back runs of the step."""
        return lambda n: self._ask({"op": "time", "key": key, "repeats": n})["times"]

    def close(self):
        self.process.stdin.close()
        self.process.wait()
        self.folder.cleanup()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
