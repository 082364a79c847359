"""Ops that move elements without changing them: flip, roll, and the gather/scatter pair
along one axis that sort and topk use."""

import numpy as np

from ..autograd import Function


class Flip(Function):
    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        return np.flip(a, axis).copy()  # a copy: NumPy's flip is a negative-stride view

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.axis)


class Roll(Function):
    @staticmethod
    def forward(ctx, a, shift, axis):
        ctx.shift, ctx.axis = shift, axis
        return np.roll(a, shift, axis)

    @staticmethod
    def backward(ctx, grad):
        negated = tuple(-s for s in ctx.shift) if isinstance(ctx.shift, tuple) else -ctx.shift
        return grad.roll(negated, ctx.axis)


class TakeAlongAxis(Function):
    """``np.take_along_axis(a, indices, axis)``, with indices that do not repeat within a
    slice (a permutation or a part of one, as sort and topk give)."""

    @staticmethod
    def forward(ctx, a, indices, axis):
        ctx.indices, ctx.axis, ctx.input_shape = indices, axis, a.shape
        return np.take_along_axis(a, indices, axis)

    @staticmethod
    def backward(ctx, grad):
        return PutAlongAxis.apply(grad, indices=ctx.indices, axis=ctx.axis, shape=ctx.input_shape)


class PutAlongAxis(Function):
    """Values put into zeros of ``shape`` at ``indices`` along ``axis``: the adjoint of
    TakeAlongAxis."""

    @staticmethod
    def forward(ctx, values, indices, axis, shape):
        ctx.indices, ctx.axis = indices, axis
        out = np.zeros(shape, dtype=values.dtype)
        np.put_along_axis(out, indices, values, axis)
        return out

    @staticmethod
    def backward(ctx, grad):
        return TakeAlongAxis.apply(grad, indices=ctx.indices, axis=ctx.axis)
