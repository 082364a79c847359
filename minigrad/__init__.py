"""minigrad: a small autograd framework on NumPy.

>>> import minigrad as mg
>>> x = mg.tensor(3.0, requires_grad=True)
>>> y = x * x + 2 * x
>>> y.backward()
>>> x.grad.item()
8.0
"""

import numpy as _np

from .autograd import Function, enable_grad, grad, is_grad_enabled, no_grad
from .debug import detect_anomaly, trace
from .creation import (
    arange, eye, full, full_like, linspace, ones, ones_like, rand, randn, zeros, zeros_like,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .rng import manual_seed
from .serialization import load, save
from .tensor import Tensor, concatenate, from_numpy, maximum, minimum, stack, tensor, where

cat = concatenate  # PyTorch's name

# dtypes under PyTorch's names (NumPy dtype objects, as ``t.dtype`` is one):
# ``dtype=mg.float64``, ``t.to(mg.float32)``, ``t.dtype == mg.int64``
float32 = _np.dtype("float32")
float64 = _np.dtype("float64")
int64 = _np.dtype("int64")

from . import data, nn, onnx, optim, viz  # noqa: E402  (after Tensor: they build on it)

__version__ = "0.1.0"

__all__ = [
    "Function", "GradcheckError", "Tensor", "arange", "cat", "concatenate", "data", "detect_anomaly",
    "enable_grad", "float32", "float64", "from_numpy", "int64", "eye",
    "grad", "gradcheck", "gradgradcheck", "is_grad_enabled", "load", "manual_seed", "maximum",
    "nn", "no_grad", "onnx", "ones", "optim", "ones_like", "rand", "randn", "save", "stack", "tensor", "trace", "viz", "where",
    "zeros", "zeros_like",
]
