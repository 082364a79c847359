"""Elementwise ops that NumPy runs in several passes, on one-pass kernels
(minigrad/kernels/elementwise.py): so far ReLU's gradient, ``grad * (out > 0)``, which
NumPy makes as a bool mask and then a product (on (64, 32, 16, 16) float32, 0.43 ms
against 0.27 for one pass). A kernel call costs a few microseconds more than a NumPy
call, so small arrays stay on NumPy: below a size calibrated once per process, where
the two cost the same. Other dtypes, non-contiguous arrays and the reference backend
run the NumPy, which gives the same bits.
"""

import numpy as np

from . import KERNEL_DTYPES, reference as _reference
from ..runtime import memory

# The calibration's two sizes. No array below the smaller takes the kernel, so a graph
# of small arrays never imports Numba nor calibrates.
SMALLEST = 64
LARGER = 1 << 15
_min_size = None


def kernel_min_size():
    """The size from which the one-pass kernel beats NumPy's two passes: a line through
    each one's time at two sizes, measured on the first use in this process."""
    global _min_size
    if _min_size is None:
        from ..kernels import elementwise
        from ..runtime.threads import median_seconds  # Numba comes with it

        costs = []
        for size in (SMALLEST, LARGER):
            grad = np.linspace(-1, 1, size, dtype=np.float32)
            out = grad[::-1].copy()
            dx = np.empty_like(grad)
            elementwise.relu_grad.serial(grad, out, dx)  # compiled or loaded before timing
            costs.append((median_seconds(lambda: grad * (out > 0), repeats=25),
                          median_seconds(lambda: elementwise.relu_grad(grad, out, dx), repeats=25)))
        (numpy_small, kernel_small), (numpy_large, kernel_large) = costs
        saved_per_element = ((numpy_large - numpy_small) - (kernel_large - kernel_small)) / (LARGER - SMALLEST)
        extra = kernel_small - numpy_small
        if saved_per_element <= 0:
            _min_size = float("inf")
        else:
            _min_size = max(SMALLEST, int(SMALLEST + extra / saved_per_element))
    return _min_size


def relu_grad(grad, out):
    """``grad * (out > 0)``."""
    size = grad.size
    # the calibration (which imports Numba) last, once everything else says yes
    if (size < SMALLEST or grad.dtype not in KERNEL_DTYPES or out.dtype != grad.dtype
            or grad.shape != out.shape or not (grad.flags.c_contiguous and out.flags.c_contiguous)
            or _reference.active() or size < (_min_size or kernel_min_size())):
        return grad * (out > 0)
    from ..kernels import elementwise

    dx = memory.empty(grad.shape, grad.dtype)
    elementwise.relu_grad(grad.reshape(-1), out.reshape(-1), dx.reshape(-1))
    return dx
