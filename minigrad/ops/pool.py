"""Max and average pooling over NCHW images, forward and backward side by side.

Max pooling records which kernel offset won in each window (the first on ties, as
PyTorch); its gradient scatters to that offset, and the scatter's own gradient is the
gather again. The max and the scatter run in minigrad/backend/pool.py (Numba kernels,
or the NumPy reference); the gather, the double-backward path, and average pooling
loop here over the kH*kW kernel offsets, each step one strided slice of the whole
batch. The public functions with their checks are in minigrad/nn/functional.py.
"""

import numpy as np

from ..autograd import Function
from ..backend import pool as backend
from ..backend.reference import offset_slices as _offset_slices, output_size as _output_size, pad as _pad


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
        if choice is None:
            best, choice = backend.max_pool(x, kernel, geometry.stride, geometry.padding, out_size)
        else:
            padded = _pad(x, geometry.padding)
            best = np.zeros((n, c) + out_size, dtype=x.dtype)
            for offset, rows, cols in _offset_slices(kernel, out_size, geometry.stride):
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
        ctx.kernel, ctx.geometry, ctx.choice = kernel, geometry, choice
        return backend.max_pool_scatter(grad, choice, kernel, geometry.stride, geometry.padding, input_shape)

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
