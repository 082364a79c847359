"""Shape ops: reshape, transpose, broadcast, indexing and joining."""

import numpy as np

from ..autograd import Function, ViewFunction


class Reshape(ViewFunction):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.input_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.input_shape)


class Transpose(ViewFunction):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(*np.argsort(ctx.axes))


class Expand(ViewFunction):
    """broadcast_to; its backward is just the gradient: the engine sums it back."""

    @staticmethod
    def forward(ctx, a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad


def has_array_index(index):
    return any(isinstance(i, np.ndarray) for i in index)


class GetItem(ViewFunction):
    @staticmethod
    def forward(ctx, a, index):
        ctx.input_shape = a.shape
        ctx.index = index
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        return IndexAdd.apply(grad, shape=ctx.input_shape, index=ctx.index)


class IndexAdd(Function):
    """Scatter ``values`` into zeros of ``shape`` at ``index``, adding repeats: getitem's backward."""

    @staticmethod
    def forward(ctx, values, shape, index):
        ctx.index = index
        out = np.zeros(shape, dtype=values.dtype)
        if has_array_index(index):
            np.add.at(out, index, values)  # repeated indices accumulate
        else:
            out[index] = values
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.index]


class Concatenate(Function):
    promotes_dtypes = True

    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        grads = []
        start = 0
        lead = (slice(None),) * ctx.axis
        for needed, size in zip(ctx.needs_input_grad, ctx.sizes):
            grads.append(grad[lead + (slice(start, start + size),)] if needed else None)
            start += size
        return tuple(grads)
