"""The optimizers' most common updates, SGD with plain momentum and Adam (and AdamW; a
weight decay is applied first, in NumPy), on one-pass Numba kernels
(minigrad/kernels/optim.py): over the MLP's 0.54M float32 parameters, SGD 0.60 ->
0.32 ms and Adam 1.69 -> 0.52 ms a step against the NumPy updates (the reference
backend; benchmarks/train_step.py).

minigrad/optim.py asks ``takes`` first; when the answer is no (the reference backend,
another dtype, a non-contiguous array, a NumPy float64 hyperparameter with float32
parameters) it runs its NumPy update, which is the reference
the kernels equal bit for bit (tests/test_optim.py).
"""

import numpy as np

from . import KERNEL_DTYPES, reference as _reference


def takes(arrays, numbers):
    """Whether the kernels run an update of these arrays with these hyperparameters:
    float32 or float64 ndarrays of one dtype, C-contiguous, on the fast backend, and
    numbers that NumPy would combine with the arrays in their dtype (Python numbers; a
    NumPy float64 scalar makes NumPy compute a float32 update in float64, so that one
    stays on NumPy, which is the reference)."""
    # Asked once per parameter per step: plain loops, which cost a third of all() over
    # generators (the optimizer step's Python was half its kernels' time).
    dtype = arrays[0].dtype
    if dtype not in KERNEL_DTYPES or _reference.active():
        return False
    for array in arrays:
        if type(array) is not np.ndarray or array.dtype != dtype or not array.flags.c_contiguous:
            return False
    for number in numbers:
        if type(number) is not float and type(number) is not int and np.result_type(dtype, number) != dtype:
            return False
    return True


_kernels = None


def _optim_kernels():
    global _kernels
    if _kernels is None:  # Numba loads on the first update, not at minigrad's import
        from ..kernels import optim
        _kernels = optim
    return _kernels


def sgd_momentum(value, grad, buffer, momentum, lr):
    """In place: ``buffer = buffer * momentum + grad``, ``value -= buffer * lr``."""
    cast = value.dtype.type
    _optim_kernels().sgd_momentum(value.reshape(-1), grad.reshape(-1), buffer.reshape(-1),
                                  cast(momentum), cast(lr))


def adam(value, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2, eps_term, step_size):
    """In place: Adam's moments and step, as minigrad/optim.py's NumPy (``eps_term`` and
    ``step_size`` carry the bias corrections)."""
    cast = value.dtype.type
    _optim_kernels().adam(value.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1),
                          cast(one_minus_beta1), cast(beta2), cast(one_minus_beta2), cast(eps_term),
                          cast(step_size))
