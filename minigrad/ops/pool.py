"""Max and average pooling over NCHW images, forward and backward side by side.

Pooling loops over the kH*kW kernel offsets, each step one strided slice of the whole
batch. Max pooling records which offset won in each window (the first on ties, as
PyTorch); its gradient scatters to that offset, and the scatter's own gradient is the
gather again. The public functions with their checks are in minigrad/nn/functional.py.
"""

import numpy as np

from ..autograd import Function
from ..backend.reference import offset_slices as _offset_slices, output_size as _output_size, pad as _pad


def _first_real_offset(kernel, out_size, stride, padding):
    """For each output position, the kernel offset of the window's first non-padding
    element: PyTorch's starting arg-max, so a window of all -inf still has a real one."""
    (_, kw), (oh, ow), (sh, sw), (ph, pw) = kernel, out_size, stride, padding
    first_row = np.maximum(ph - sh * np.arange(oh), 0)
    first_col = np.maximum(pw - sw * np.arange(ow), 0)
    return (first_row[:, None] * kw + first_col[None, :]).astype(np.int64)


class MaxPool2d(Function):
    """Max over each window. With ``choice`` given (the winning kernel offset of every
    window, as found by a previous call), gather those entries instead: that is the
    gradient of the scatter below, so max pooling is differentiable twice (the second
    derivative is zero almost everywhere, as for ReLU)."""

    @staticmethod
    def forward(ctx, x, kernel, geometry, choice=None):
        n, c, h, w = x.shape
        out_size = tuple(
            _output_size(size, k, s, p, 1)
            for size, k, s, p in zip((h, w), kernel, geometry.stride, geometry.padding)
        )
        slices = _offset_slices(kernel, out_size, geometry.stride)
        if choice is None:
            lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
            padded = _pad(x, geometry.padding, lowest)
            best = np.full((n, c) + out_size, lowest, dtype=x.dtype)
            choice = np.broadcast_to(
                _first_real_offset(kernel, out_size, geometry.stride, geometry.padding), best.shape
            ).copy()
            for offset, rows, cols in slices:
                values = padded[:, :, rows, cols]
                # Strictly greater keeps the first of equal values; NaN wins, as PyTorch.
                better = (values > best) | np.isnan(values)
                np.copyto(best, values, where=better)
                choice[better] = offset
        else:
            padded = _pad(x, geometry.padding)
            best = np.zeros((n, c) + out_size, dtype=x.dtype)
            for offset, rows, cols in slices:
                np.copyto(best, padded[:, :, rows, cols], where=choice == offset)
        ctx.choice = choice
        ctx.kernel = kernel
        ctx.geometry = geometry
        ctx.input_shape = x.shape
        return best

    @staticmethod
    def backward(ctx, grad):
        return MaxPool2dScatter.apply(
            grad, kernel=ctx.kernel, geometry=ctx.geometry, choice=ctx.choice, input_shape=ctx.input_shape
        )


class MaxPool2dScatter(Function):
    """The gradient of max pooling: each window's gradient goes to its arg-max."""

    @staticmethod
    def forward(ctx, grad, kernel, geometry, choice, input_shape):
        n, c, h, w = input_shape
        ph, pw = geometry.padding
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad.dtype)
        for offset, rows, cols in _offset_slices(kernel, grad.shape[2:], geometry.stride):
            padded[:, :, rows, cols] += np.where(choice == offset, grad, 0)
        ctx.kernel, ctx.geometry, ctx.choice = kernel, geometry, choice
        return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])

    @staticmethod
    def backward(ctx, grad_grad):
        return MaxPool2d.apply(grad_grad, kernel=ctx.kernel, geometry=ctx.geometry, choice=ctx.choice)


class AvgPool2d(Function):
    """Mean over each window, the zero padding counted in the divisor (kH*kW)."""

    @staticmethod
    def forward(ctx, x, kernel, geometry):
        n, c, h, w = x.shape
        out_size = tuple(
            _output_size(size, k, s, p, 1)
            for size, k, s, p in zip((h, w), kernel, geometry.stride, geometry.padding)
        )
        padded = _pad(x, geometry.padding)
        total = np.zeros((n, c) + out_size, dtype=x.dtype)
        for _, rows, cols in _offset_slices(kernel, out_size, geometry.stride):
            total += padded[:, :, rows, cols]
        total *= 1.0 / (kernel[0] * kernel[1])
        ctx.kernel, ctx.geometry, ctx.input_shape = kernel, geometry, x.shape
        return total

    @staticmethod
    def backward(ctx, grad):
        return AvgPool2dAdjoint.apply(
            grad, kernel=ctx.kernel, geometry=ctx.geometry, input_shape=ctx.input_shape
        )


class AvgPool2dAdjoint(Function):
    """The gradient of average pooling: each window's gradient spread evenly over it."""

    @staticmethod
    def forward(ctx, grad, kernel, geometry, input_shape):
        n, c, h, w = input_shape
        ph, pw = geometry.padding
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad.dtype)
        share = grad * (1.0 / (kernel[0] * kernel[1]))
        for _, rows, cols in _offset_slices(kernel, grad.shape[2:], geometry.stride):
            padded[:, :, rows, cols] += share
        ctx.kernel, ctx.geometry = kernel, geometry
        return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])

    @staticmethod
    def backward(ctx, grad_grad):
        return AvgPool2d.apply(grad_grad, kernel=ctx.kernel, geometry=ctx.geometry)
