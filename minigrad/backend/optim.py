"""The optimizers' most common updates, SGD with plain momentum and Adam (and AdamW; a
weight decay is applied first, in NumPy), on one-pass Numba kernels
(minigrad/kernels/optim.py): over the MLP's 0.54M float32 parameters, SGD 0.60 ->
0.36 ms and Adam 1.52 -> 0.58 ms a step against the NumPy updates
(benchmarks/train_step.py).

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
    dtype = arrays[0].dtype
    return (dtype in KERNEL_DTYPES and not _reference.active()
            and all(type(a) is np.ndarray and a.dtype == dtype and a.flags.c_contiguous for a in arrays)
            and all(type(h) in (int, float) or np.result_type(dtype, h) == dtype for h in numbers))


def _flat(arrays):
    return [a.reshape(-1) for a in arrays]


def sgd_momentum(value, grad, buffer, momentum, lr):
    """In place: ``buffer = buffer * momentum + grad``, ``value -= buffer * lr``."""
    from ..kernels import optim

    cast = value.dtype.type
    optim.sgd_momentum(*_flat((value, grad, buffer)), cast(momentum), cast(lr))


def adam(value, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2, eps_term, step_size):
    """In place: Adam's moments and step, as minigrad/optim.py's NumPy (``eps_term`` and
    ``step_size`` carry the bias corrections)."""
    from ..kernels import optim

    cast = value.dtype.type
    optim.adam(*_flat((value, grad, exp_avg, exp_avg_sq)), cast(one_minus_beta1), cast(beta2),
               cast(one_minus_beta2), cast(eps_term), cast(step_size))
