"""Reductions: sum and max/min. mean, var and std are composed from them in tensor.py."""

import numpy as np

from ..autograd import Function


def normalize_axis(axis, ndim, op_name):
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    if ndim == 0:
        # A 0-d tensor has one element: axis 0 or -1 reduce over nothing, as in PyTorch.
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        if any(a not in (0, -1) for a in axes):
            raise ValueError(f"{op_name}: axis {axis} is out of range for a 0-d tensor")
        return ()
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalized = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{op_name}: axis {a} is out of range for a tensor of {ndim} dimensions")
        a = int(a) % max(ndim, 1)
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


class Max(Function):
    """max (or min, with ``smallest=True``); ties share the gradient equally."""

    @staticmethod
    def forward(ctx, a, axis, keepdims, smallest):
        if a.size == 0:
            raise ValueError("max/min of an empty tensor")
        out = np.min(a, axis=axis, keepdims=True) if smallest else np.max(a, axis=axis, keepdims=True)
        ctx.axis = axis
        ctx.save_for_backward(a, out)  # the winners are found in backward: inference skips it
        return out if keepdims else out.reshape([s for i, s in enumerate(a.shape) if i not in axis])

    @staticmethod
    def backward(ctx, grad):
        from ..tensor import Tensor

        a, out = (t.data for t in ctx.saved_tensors)
        hits = a == out
        if a.dtype.kind == "f":
            hits |= np.isnan(a) & np.isnan(out)  # a NaN maximum is where the NaNs are
        hits = hits.astype(grad.dtype)
        share = hits / hits.sum(axis=ctx.axis, keepdims=True)
        return grad.reshape(out.shape) * Tensor._wrap(share)
