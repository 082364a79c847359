"""The basic layers: Linear, activations, Identity, Flatten, Dropout, Sequential, ModuleList."""

import numpy as np

from . import functional as F
from ..aliases import torch_names
from .init import _check_sizes, reset_linear_like
from .module import Module, Parameter


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight (out_features, in_features), PyTorch's init.

    >>> from minigrad import nn
    >>> nn.Linear(3, 2).weight.shape
    (2, 3)
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        _check_sizes("Linear", in_features=in_features, out_features=out_features)
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


class LeakyReLU(Module):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """x * Phi(x) (exact, with erf), or PyTorch's tanh approximation with ``approximate="tanh"``."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in F.GELU_APPROXIMATIONS:
            raise ValueError(f"GELU: approximate must be one of {F.GELU_APPROXIMATIONS}, got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """Softmax along ``axis`` (``dim=`` is accepted too)."""

    @torch_names
    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.softmax(x, axis=self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``axis``, computed stably."""

    def forward(self, x):
        return F.log_softmax(x, axis=self.axis)


class Identity(Module):
    """Returns its input; takes and ignores any arguments, as PyTorch's."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Flatten axes ``start_axis``..``end_axis`` (by default all but the batch axis);
    PyTorch's ``start_dim=`` and ``end_dim=`` are accepted."""

    @torch_names(start_dim="start_axis", end_dim="end_axis")
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
        for index, module in enumerate(self.children()):
            try:
                x = module(x)
            except Exception as error:
                raise _naming_layer(error, f"Sequential[{index}] ({_short_repr(module)})")
        return x


def _short_repr(module):
    """A layer's one-line repr (``Linear(in_features=2, ...)``), a container's type name."""
    return type(module).__name__ if any(True for _ in module.children()) else repr(module)


def _naming_layer(error, where):
    """``error`` with ``where`` in front of its message, same type and traceback, so a user
    sees which layer of a model failed; an error that cannot be rebuilt from a message
    is left as it is."""
    if len(error.args) != 1 or not isinstance(error.args[0], str):
        return error
    try:
        renamed = type(error)(f"{where}: {error.args[0]}")
    except Exception:
        return error
    renamed.__cause__ = error.__cause__
    renamed.__suppress_context__ = True
    return renamed.with_traceback(error.__traceback__)


class ModuleList(Module):
    """A list of modules, registered as ``0``, ``1``, ... so their parameters are found.

    >>> from minigrad import nn
    >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    >>> layers.append(nn.ReLU())
    ModuleList(...)
    >>> len(layers), len(list(layers.parameters()))
    (4, 6)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _check(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: {type(module).__name__} is not a Module")
        return module

    def _renumber(self, modules):
        self._modules.clear()
        for index, module in enumerate(modules):
            self.add_module(str(index), module)

    def append(self, module):
        self.add_module(str(len(self)), self._check(module))
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        modules = list(self)
        modules.insert(index, self._check(module))
        self._renumber(modules)

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[index]

    def __setitem__(self, index, module):
        modules = list(self)
        modules[index] = self._check(module)
        self._renumber(modules)

    def __delitem__(self, index):
        modules = list(self)
        del modules[index]
        self._renumber(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: iterate over it in your own forward")
