"""Constructors: zeros, ones, randn, rand, arange, eye and the *_like forms."""

import numpy as np

from . import rng
from .tensor import DEFAULT_DTYPE, Tensor


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _dtype(dtype):
    return DEFAULT_DTYPE if dtype is None else np.dtype(dtype)


def zeros(*shape, dtype=None, requires_grad=False):
    return Tensor(np.zeros(_shape(shape), dtype=_dtype(dtype)), requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return Tensor(np.ones(_shape(shape), dtype=_dtype(dtype)), requires_grad=requires_grad)


def zeros_like(tensor, dtype=None, requires_grad=False):
    return zeros(*tensor.shape, dtype=dtype or tensor.dtype, requires_grad=requires_grad)


def ones_like(tensor, dtype=None, requires_grad=False):
    return ones(*tensor.shape, dtype=dtype or tensor.dtype, requires_grad=requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal draws from the generator that ``mg.manual_seed`` seeds."""
    data = rng.generator().standard_normal(_shape(shape)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform draws in [0, 1) from the generator that ``mg.manual_seed`` seeds."""
    data = rng.generator().random(_shape(shape)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None):
    """As ``numpy.arange``; int64 for integer arguments, float32 for floats unless ``dtype``."""
    if stop is None:
        start, stop = 0, start
    values = np.arange(start, stop, step)
    if dtype is not None:
        values = values.astype(dtype)
    elif values.dtype.kind == "f":
        values = values.astype(DEFAULT_DTYPE)
    return Tensor(values)


def eye(n, dtype=None):
    return Tensor(np.eye(n, dtype=_dtype(dtype)))
