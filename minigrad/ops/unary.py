"""More elementwise math: trigonometric and hyperbolic functions and their inverses,
log2/log10/exp2/rsqrt, and the piecewise-constant sign and rounding functions.

Each backward is written with Tensor ops, so these can be differentiated again. The
piecewise-constant ops have a zero gradient everywhere, as in PyTorch (their graph is
kept, so a model using them still trains its other parts).
"""

import math

import numpy as np

from ..autograd import Function

LN2 = math.log(2.0)
LN10 = math.log(10.0)


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * a.cos()


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return -grad * a.sin()


class Tan(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.tan(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out * out + 1.0)  # sec^2 = 1 + tan^2


class Arcsin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.arcsin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (1.0 - a * a).sqrt()


class Arccos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.arccos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return -grad / (1.0 - a * a).sqrt()


class Arctan(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.arctan(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * a + 1.0)


class Sinh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sinh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * a.cosh()


class Cosh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cosh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * a.sinh()


class Arcsinh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.arcsinh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * a + 1.0).sqrt()


class Arccosh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.arccosh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * a - 1.0).sqrt()


class Arctanh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.arctanh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (1.0 - a * a)


class Log2(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log2(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * LN2)


class Log10(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log10(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * LN10)


class Exp2(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp2(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * LN2


class Rsqrt(Function):
    """1 / sqrt(a)."""

    @staticmethod
    def forward(ctx, a):
        out = 1.0 / np.sqrt(a)  # a Python float keeps float32 float32
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * out * out * -0.5


class _PiecewiseConstant(Function):
    """Base of sign, floor, ceil, round (half to even, as NumPy and PyTorch) and trunc:
    the gradient is zero everywhere (undefined at the jumps, where PyTorch gives zero too)."""

    @staticmethod
    def backward(ctx, grad):
        return grad * 0.0


class Sign(_PiecewiseConstant):
    @staticmethod
    def forward(ctx, a):
        return np.sign(a)


class Floor(_PiecewiseConstant):
    @staticmethod
    def forward(ctx, a):
        return np.floor(a)


class Ceil(_PiecewiseConstant):
    @staticmethod
    def forward(ctx, a):
        return np.ceil(a)


class Round(_PiecewiseConstant):
    @staticmethod
    def forward(ctx, a, decimals):
        return np.round(a, decimals)


class Trunc(_PiecewiseConstant):
    @staticmethod
    def forward(ctx, a):
        return np.trunc(a)
