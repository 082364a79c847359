"""More binary elementwise ops: minimum, remainder (%) and floor division (//), NumPy's
(and Python's) conventions: the remainder takes the divisor's sign."""

import numpy as np

from ..autograd import Function, constant
from .elementwise import extremum_grads


class Minimum(Function):
    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        return extremum_grads(ctx, grad, np.less)


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
