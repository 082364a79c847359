"""More binary elementwise ops: minimum, remainder (%) and floor division (//), NumPy's
(and Python's) conventions: the remainder takes the divisor's sign."""

import numpy as np

from ..autograd import Function, constant


class Minimum(Function):
    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = (t.data for t in ctx.saved_tensors)
        dtype = grad.dtype
        # ties split the gradient equally, as PyTorch
        mask_a = (a < b).astype(dtype) + (a == b).astype(dtype) * dtype.type(0.5)
        grad_a = grad * constant(mask_a) if ctx.needs_input_grad[0] else None
        grad_b = grad * constant(1.0 - mask_a) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Remainder(Function):
    """a - floor(a / b) * b: d/da = 1, d/db = -floor(a / b), as PyTorch."""

    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.remainder(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_b = None
        if ctx.needs_input_grad[1]:
            grad_b = -grad * constant(np.floor_divide(a.data, b.data).astype(grad.dtype))
        return grad, grad_b


class FloorDivide(Function):
    """floor(a / b): piecewise constant, so its gradient is zero."""

    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b):
        return np.floor_divide(a, b)

    @staticmethod
    def backward(ctx, grad):
        zero = grad * 0.0
        return zero, zero
