"""minigrad: a small autograd framework on NumPy.

>>> import minigrad as mg
>>> x = mg.tensor(3.0, requires_grad=True)
>>> y = x * x + 2 * x
>>> y.backward()
>>> x.grad.item()
8.0
"""

from .autograd import Function, enable_grad, grad, is_grad_enabled, no_grad
from .creation import arange, eye, ones, ones_like, rand, randn, zeros, zeros_like
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .rng import manual_seed
from .serialization import load, save
from .tensor import Tensor, concatenate, maximum, stack, tensor, where

from . import data, nn, optim  # noqa: E402  (after Tensor: they build on it)

__version__ = "0.1.0"

__all__ = [
    "Function", "GradcheckError", "Tensor", "arange", "concatenate", "data", "enable_grad", "eye",
    "grad", "gradcheck", "gradgradcheck", "is_grad_enabled", "load", "manual_seed", "maximum",
    "nn", "no_grad", "ones", "optim", "ones_like", "rand", "randn", "save", "stack", "tensor", "where",
    "zeros", "zeros_like",
]
