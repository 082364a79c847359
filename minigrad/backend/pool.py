"""Max pooling's forward and its gradient: the Numba kernels, or NumPy.

minigrad/ops/pool.py's ``MaxPool2d`` and ``MaxPool2dScatter`` call these. On the fast
backend, float32 and float64 images run minigrad/kernels/pool.py, one pass over the
input with every window's maximum and arg-max found in registers; the NumPy reference
(backend/reference.py) makes kH * kW passes over strided slices of a padded copy, each
several whole-array operations. Both give the same numbers, bit for bit.
"""

import numpy as np

from . import KERNEL_DTYPES, reference as _reference
from ..runtime import memory


def _on_kernels(array):
    return array.dtype in KERNEL_DTYPES and array.size > 0 and not _reference.active()


def max_pool(x, kernel, stride, padding, out_size):
    """``(best, choice)``: each window's maximum and the kernel offset it came from
    (int64), for ``x`` (N, C, H, W)."""
    if not _on_kernels(x):
        return _reference.max_pool(x, kernel, stride, padding, out_size)
    from ..kernels import pool

    n, c, h, w = x.shape
    best = memory.empty((n, c) + out_size, x.dtype)
    choice = memory.empty((n, c) + out_size, np.int64)
    x = np.ascontiguousarray(x)
    pool.max_pool(x.reshape(n * c, h, w), *kernel, *stride, *padding,
                  best.reshape(n * c, *out_size), choice.reshape(n * c, *out_size))
    return best, choice


def max_pool_scatter(grad, choice, kernel, stride, padding, input_shape):
    """Max pooling's input gradient: each window's ``grad`` added at its arg-max."""
    if not _on_kernels(grad):
        return _reference.max_pool_scatter(grad, choice, kernel, stride, padding, input_shape)
    from ..kernels import pool

    n, c, h, w = input_shape
    dx = memory.empty(input_shape, grad.dtype)
    out_size = grad.shape[2:]
    pool.max_pool_scatter(np.ascontiguousarray(grad).reshape(n * c, *out_size),
                          np.ascontiguousarray(choice).reshape(n * c, *out_size),
                          *kernel, *stride, *padding, dx.reshape(n * c, h, w))
    return dx
