"""Reductions: sum, mean (a sum over a divisor), max/min, and std's square root.

var is composed in tensor.py as two passes of Mean: the mean, then the mean squared
deviation, so the variance of a constant is exactly 0.
"""

import numpy as np

from ..autograd import Function, constant
from ..dtypes import floating
from .elementwise import filled


def normalize_axis(axis, ndim, op_name):
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of axes.

    An axis out of range is NumPy's AxisError (both an IndexError, as PyTorch raises, and
    a ValueError), its message starting with the op's name.
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if ndim == 0:
        # A 0-d tensor has one element: axis 0 or -1 reduce over nothing, as in PyTorch.
        for a in axes:
            if a not in (0, -1):
                raise np.exceptions.AxisError(f"{op_name}: axis {a} is out of range for a 0-d tensor")
        return ()
    normalized = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(
                f"{op_name}: axis {a} is out of range for a tensor of {ndim} dimensions"
            )
        a = int(a) % ndim
        if a in normalized:
            raise ValueError(f"{op_name}: axis {a} is repeated in {axis}")
        normalized.append(a)
    return tuple(sorted(normalized))


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else size for i, size in enumerate(shape))


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.input_shape = a.shape
        ctx.kept_shape = _kept_shape(a.shape, axis)
        return np.sum(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.kept_shape).broadcast_to(ctx.input_shape)


# float16/float32 sums for a mean accumulate in float64: a float32 sum of 1,000 copies of
# 3.3e7 rounds, and the variance of that constant would come out 16 instead of 0.
_ACCUMULATE = {np.dtype(np.float16): np.float64, np.dtype(np.float32): np.float64}


class Mean(Function):
    """sum(a over axis) / divisor, accumulated in float64 for float16/float32 input and
    divided (not multiplied by 1/divisor) so the mean of a constant is that constant.
    A zero divisor gives inf or nan (NumPy's values; the caller warns as NumPy does)."""

    @staticmethod
    def forward(ctx, a, axis, keepdims, divisor):
        a = floating(a)  # the mean of integers is float32, as a Python float with an int tensor
        ctx.input_shape = a.shape
        ctx.kept_shape = _kept_shape(a.shape, axis)
        ctx.divisor = divisor
        total = np.sum(a, axis=axis, keepdims=keepdims, dtype=_ACCUMULATE.get(a.dtype))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(total / divisor).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        spread = grad.reshape(ctx.kept_shape).broadcast_to(ctx.input_shape)
        return spread / ctx.divisor if ctx.divisor else spread * 0.0


class StdFromVar(Function):
    """std = sqrt(var), whose gradient is 0 where std is 0, as PyTorch's (a constant input
    has zero gradients, not 0 * inf = nan)."""

    @staticmethod
    def forward(ctx, var):
        out = np.sqrt(var)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        zero = out.data == 0
        if not zero.any():
            return grad / (out * 2.0)
        return filled(zero, 0.0, grad / (filled(zero, 1.0, out) * 2.0))


class Max(Function):
    """max (or min, with ``smallest=True``); ties share the gradient equally."""

    @staticmethod
    def forward(ctx, a, axis, keepdims, smallest):
        for i in axis:
            if a.shape[i] == 0:
                raise ValueError(
                    f"{'min' if smallest else 'max'}: axis {i} of shape {a.shape} has size 0, "
                    "and an empty reduction has no identity"
                )
        out = np.min(a, axis=axis, keepdims=True) if smallest else np.max(a, axis=axis, keepdims=True)
        ctx.axis = axis
        ctx.save_for_backward(a, out)  # the winners are found in backward: inference skips it
        return out if keepdims else out.reshape([s for i, s in enumerate(a.shape) if i not in axis])

    @staticmethod
    def backward(ctx, grad):
        a, out = (t.data for t in ctx.saved_tensors)
        hits = a == out
        if a.dtype.kind == "f":
            hits |= np.isnan(a) & np.isnan(out)  # a NaN maximum is where the NaNs are
        hits = hits.astype(grad.dtype)
        share = hits / hits.sum(axis=ctx.axis, keepdims=True)
        return grad.reshape(out.shape) * constant(share)
