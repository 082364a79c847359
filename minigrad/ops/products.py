"""Products and running totals: prod, cumsum, cumprod.

The gradient of a product with respect to one factor is the product of the others.
Away from zeros that is ``out / a``, written with Tensor ops so it can be
differentiated again. Where a factor is exactly zero, ``out / a`` is 0/0, so the
product of the others is computed directly in NumPy instead; that gradient is exact but
a constant, so differentiating it again raises rather than silently dropping terms.
"""

import numpy as np

from ..autograd import Function, constant, is_grad_enabled


def _no_second_derivative_at_zero(op_name):
    if is_grad_enabled():  # backward is recording a graph: create_graph=True
        raise RuntimeError(
            f"{op_name}: second derivatives where a factor is exactly zero are not supported "
            "(the first derivative is exact there)"
        )


def _others_product(a, axes):
    """For each element, the product of the other elements of its slice over ``axes``."""
    moved = np.moveaxis(a, axes, range(a.ndim - len(axes), a.ndim))
    flat = moved.reshape(moved.shape[:a.ndim - len(axes)] + (-1,))
    zero = flat == 0
    zeros = zero.sum(axis=-1, keepdims=True)
    nonzero_product = np.prod(np.where(zero, 1, flat), axis=-1, keepdims=True)
    safe = np.where(zero, 1, flat)
    others = np.where(zeros == 0, nonzero_product / safe, 0)
    others = np.where(zero & (zeros == 1), nonzero_product, others)  # the one zero gets the rest
    others = others.astype(a.dtype, copy=False).reshape(moved.shape)
    return np.moveaxis(others, range(a.ndim - len(axes), a.ndim), axes)


class Prod(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.axis = axis
        ctx.kept_shape = tuple(1 if i in axis else size for i, size in enumerate(a.shape))
        out = np.prod(a, axis=axis, keepdims=keepdims)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        grad = grad.reshape(ctx.kept_shape)
        if not (a.data == 0).any():
            return grad * out.reshape(ctx.kept_shape) / a
        _no_second_derivative_at_zero("prod")
        return grad * constant(_others_product(a.data, ctx.axis))


class CumSum(Function):
    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        return np.cumsum(a, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        # out[j] sums a[i] for i <= j, so a[i] collects grad[j] for j >= i: a reversed cumsum
        return grad.flip(ctx.axis).cumsum(ctx.axis).flip(ctx.axis)


def _cumprod_grad_with_zeros(a, out, grad, axis):
    """The exact gradient of cumprod along ``axis`` where ``a`` has zeros (NumPy arrays).

    Before a slice's first zero the usual ``reversed_cumsum(grad * out) / a`` holds (out is
    zero from the first zero on); at the first zero the gradient is the sum over j >= z
    of grad[j] times the product of a[:j+1] without a[z]; after it, every product that
    holds a[i] also holds the zero, so the gradient is zero.
    """
    a2, out2, g2 = (np.moveaxis(x, axis, -1) for x in (a, out, grad))
    n = a2.shape[-1]
    zero = a2 == 0
    has_zero = zero.any(axis=-1, keepdims=True)
    first = np.where(has_zero, np.argmax(zero, axis=-1)[..., None], n)
    position = np.arange(n)
    before = position < first
    reversed_sum = np.flip(np.cumsum(np.flip(g2 * out2, -1), axis=-1), -1)
    result = np.where(before, reversed_sum / np.where(before, a2, 1), 0)
    without_zero = np.where(position == first, 1, a2)
    at_zero = np.sum(np.where(position >= first, g2 * np.cumprod(without_zero, axis=-1), 0), axis=-1,
                     keepdims=True)
    result = np.where(position == first, at_zero, result)
    return np.moveaxis(result.astype(a.dtype, copy=False), -1, axis)


class CumProd(Function):
    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        out = np.cumprod(a, axis=axis)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        if not (a.data == 0).any():
            return (grad * out).flip(ctx.axis).cumsum(ctx.axis).flip(ctx.axis) / a
        _no_second_derivative_at_zero("cumprod")
        return constant(_cumprod_grad_with_zeros(a.data, out.data, grad.data, ctx.axis))
