"""Constructors: zeros, ones, full, randn, rand, arange, linspace, eye and the *_like forms."""

import numpy as np

from . import rng
from .aliases import torch_names
from .tensor import DEFAULT_DTYPE, Tensor, _checked_kind


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _new(array, requires_grad=False):
    """A Tensor around a freshly made array (no copy: nothing else holds it)."""
    return Tensor._wrap(_checked_kind(array, "tensor")).requires_grad_(requires_grad)


def _dtype(dtype):
    return DEFAULT_DTYPE if dtype is None else np.dtype(dtype)


def zeros(*shape, dtype=None, requires_grad=False):
    return _new(np.zeros(_shape(shape), dtype=_dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return _new(np.ones(_shape(shape), dtype=_dtype(dtype)), requires_grad)


def zeros_like(tensor, dtype=None, requires_grad=False):
    return zeros(*tensor.shape, dtype=dtype or tensor.dtype, requires_grad=requires_grad)


def ones_like(tensor, dtype=None, requires_grad=False):
    return ones(*tensor.shape, dtype=dtype or tensor.dtype, requires_grad=requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal draws from the generator that ``mg.manual_seed`` seeds."""
    data = rng.generator().standard_normal(_shape(shape)).astype(_dtype(dtype))
    return _new(data, requires_grad)


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform draws in [0, 1) from the generator that ``mg.manual_seed`` seeds."""
    data = rng.generator().random(_shape(shape)).astype(_dtype(dtype))
    return _new(data, requires_grad)


def arange(start, stop=None, step=1, dtype=None):
    """As ``numpy.arange``; int64 for integer arguments, float32 for floats unless ``dtype``."""
    if stop is None:
        start, stop = 0, start
    values = np.arange(start, stop, step)
    if dtype is not None:
        values = values.astype(dtype)
    elif values.dtype.kind == "f":
        values = values.astype(DEFAULT_DTYPE)
    return _new(values)


def eye(n, m=None, dtype=None):
    """Ones on the diagonal of an (n, m) matrix (m defaults to n), zeros elsewhere."""
    return _new(np.eye(n, m, dtype=_dtype(dtype)))


def _fill_dtype(fill_value, dtype):
    """As PyTorch: a bool fill makes bool, an int int64, a float the default float32."""
    if dtype is not None:
        return np.dtype(dtype)
    if isinstance(fill_value, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(fill_value, (int, np.integer)):
        return np.dtype(np.int64)
    return DEFAULT_DTYPE


def full(shape, fill_value, dtype=None, requires_grad=False):
    """A tensor of ``shape`` holding ``fill_value`` everywhere.

    >>> import minigrad as mg
    >>> mg.full((2, 2), 7).tolist(), mg.full(3, 0.5).dtype
    ([[7, 7], [7, 7]], dtype('float32'))
    """
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _new(np.full(shape, fill_value, dtype=_fill_dtype(fill_value, dtype)), requires_grad)


def full_like(tensor, fill_value, dtype=None, requires_grad=False):
    """``full`` in another tensor's shape and dtype (unless ``dtype`` is given)."""
    return full(tensor.shape, fill_value, dtype=dtype or tensor.dtype, requires_grad=requires_grad)


@torch_names(steps="num")
def linspace(start, stop, num=50, dtype=None, requires_grad=False):
    """``num`` evenly spaced values from ``start`` to ``stop``, both included (PyTorch's
    ``steps`` is NumPy's ``num``, accepted as ``steps=``)."""
    return _new(np.linspace(start, stop, num, dtype=np.float64).astype(_dtype(dtype)), requires_grad)
