"""The error function, erf, for the exact GELU."""

import math

import numpy as np

from ..autograd import Function

_math_erf = np.frompyfunc(math.erf, 1, 1)


def erf_array(a):
    """erf of a float array in its dtype: SciPy's vectorized erf when SciPy is installed,
    else the standard library's, element by element (both correctly rounded in float64)."""
    try:
        from scipy.special import erf
    except ImportError:
        return np.asarray(_math_erf(a), dtype=a.dtype)
    return np.asarray(erf(a), dtype=a.dtype)


class Erf(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return erf_array(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (-(a * a)).exp() * (2.0 / math.sqrt(math.pi))
