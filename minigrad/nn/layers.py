"""The basic layers: Linear, activations, Flatten, Dropout, Sequential."""

import numpy as np

from . import functional as F
from .init import reset_linear_like
from .module import Module, Parameter


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight (out_features, in_features), PyTorch's init.

    >>> from minigrad import nn
    >>> nn.Linear(3, 2).weight.shape
    (2, 3)
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=np.float32))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=np.float32))
        else:
            self.register_parameter("bias", None)
        reset_linear_like(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    def forward(self, x):
        return x.relu()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


class Flatten(Module):
    """Flatten axes ``start_axis``..``end_axis`` (by default all but the batch axis)."""

    def __init__(self, start_axis=1, end_axis=-1):
        super().__init__()
        self.start_axis = start_axis
        self.end_axis = end_axis

    def forward(self, x):
        start = self.start_axis % x.ndim
        end = self.end_axis % x.ndim
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, training=self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Sequential(Module):
    """Modules applied in order, registered as ``0``, ``1``, ...

    >>> from minigrad import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    >>> len(model), type(model[1]).__name__
    (3, 'Tanh')
    """

    def __init__(self, *modules):
        super().__init__()
        for index, module in enumerate(modules):
            self.add_module(str(index), module)

    def __getitem__(self, index):
        return list(self.children())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self.children()))

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return x
