"""Elementwise kernels: one pass where NumPy makes two or three."""

from numba import prange

from ..runtime.threads import kernel


@kernel
def relu_grad(grad, out, dx):
    """dx = grad * (out > 0), the product with the 0.0 or 1.0 that NumPy's bool mask
    casts to, so the bits (NaN and -0.0 included) are NumPy's; flat arrays."""
    one = grad.dtype.type(1)
    zero = grad.dtype.type(0)
    for i in prange(grad.size):
        dx[i] = grad[i] * (one if out[i] > 0 else zero)
