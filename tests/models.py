"""Models shared by the export tests (tests/test_onnx.py, tests/test_torch_bridge.py):
one of every layer, two whole networks, and the few training steps that give their
batch norms non-trivial statistics."""

import numpy as np

import minigrad as mg
from minigrad import nn


def digits_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
    )


def mlp_with_batchnorm():
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(32, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 10),
    )


def model_dtype(model):
    return next(iter(model.parameters())).dtype if list(model.parameters()) else np.float32


def with_statistics(model, shape, steps=3):
    """Non-trivial BatchNorm affine parameters, and running statistics that are not their
    initial values (a few training-mode forwards on inputs of ``shape`` per item); then
    eval mode."""
    rng = np.random.default_rng(0)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.affine:
            module.weight.data[...] = rng.uniform(0.5, 1.5, module.weight.shape)
            module.bias.data[...] = rng.normal(0, 0.5, module.bias.shape)
    model.train()
    for _ in range(steps):
        model(mg.tensor((rng.normal(size=(8,) + shape) * 2 + 1).astype(model_dtype(model))))
    return model.eval()


# name: (build, the shape of one item)
LAYERS = {
    "Linear": (lambda: nn.Linear(5, 3), (5,)),
    "Linear without bias": (lambda: nn.Linear(5, 3, bias=False), (5,)),
    "Conv2d": (lambda: nn.Conv2d(3, 4, 3), (3, 7, 7)),
    "Conv2d stride, padding": (lambda: nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 2)), (3, 9, 8)),
    "Conv2d dilation, groups": (lambda: nn.Conv2d(4, 6, 3, dilation=2, groups=2, bias=False), (4, 9, 9)),
    "BatchNorm1d (N, C)": (lambda: nn.BatchNorm1d(5), (5,)),
    "BatchNorm1d (N, C, L)": (lambda: nn.BatchNorm1d(3), (3, 6)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (3, 4, 5)),
    "BatchNorm2d composed": (lambda: nn.BatchNorm2d(3, impl="composed"), (3, 4, 5)),
    "BatchNorm2d without affine": (lambda: nn.BatchNorm2d(3, affine=False, momentum=None), (3, 4, 5)),
    "ReLU": (lambda: nn.ReLU(), (4, 3)),
    "Tanh": (lambda: nn.Tanh(), (6,)),
    "Sigmoid": (lambda: nn.Sigmoid(), (2, 3, 3)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 6, 6)),
    "MaxPool2d stride, padding": (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 7, 6)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (2, 6, 6)),
    "AvgPool2d padding counted": (lambda: nn.AvgPool2d((3, 2), stride=(2, 1), padding=1), (2, 7, 6)),
    "Flatten": (lambda: nn.Flatten(), (2, 3, 4)),
    "Flatten middle axes": (lambda: nn.Flatten(1, 2), (2, 3, 4)),
    "Dropout": (lambda: nn.Dropout(0.5), (5,)),
    "Identity": (lambda: nn.Identity(), (3, 2)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.1), (4, 6)),
    "GELU": (lambda: nn.GELU(), (5,)),
    "GELU tanh": (lambda: nn.GELU(approximate="tanh"), (5,)),
    "LayerNorm": (lambda: nn.LayerNorm((3, 4)), (2, 3, 4)),
    "LayerNorm without bias": (lambda: nn.LayerNorm(4, bias=False), (3, 4)),
    "Softmax": (lambda: nn.Softmax(axis=1), (4, 3)),
    "LogSoftmax": (lambda: nn.LogSoftmax(axis=-1), (6,)),
    "nested Sequential": (lambda: nn.Sequential(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), nn.Linear(4, 2)), (4,)),
    "digits CNN": (digits_cnn, (1, 8, 8)),
    "MLP with BatchNorm1d": (mlp_with_batchnorm, (1, 8, 8)),
}
