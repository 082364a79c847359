"""Optimizer updates in one pass over a parameter's flat arrays.

Each kernel does the arithmetic of the NumPy update in minigrad/optim.py in the same
order and the same dtype, one element at a time, so the results agree bit for bit
(no fastmath: nothing is reordered or fused into an FMA); it reads and writes each
array once where NumPy makes four to eight passes. The hyperparameters come in the
arrays' dtype, as NumPy casts Python floats.
"""

import numpy as np
from numba import prange

from ..runtime.threads import kernel


# No ``cost``: on one thread it streams its five arrays as fast as the cores' shared
# memory allows; in parallel the MLP's SGD step measured slower (0.35 ms all on one
# thread, 0.40 with the largest weight on two, 0.45 with every parameter on two).
@kernel
def sgd_momentum(value, grad, buffer, momentum, lr):
    """buffer = buffer * momentum + grad; value -= buffer * lr."""
    for i in prange(value.size):
        b = buffer[i] * momentum + grad[i]
        buffer[i] = b
        value[i] = value[i] - b * lr


# A square root and a division per element, besides the loads and stores: on one thread
# about ten times a copy's time per element (401K float32 values: 757 us), so it runs
# in parallel from a tenth of the size a copy needs (220 us on two threads).
@kernel(cost=10)
def adam(value, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2, eps_term, step_size):
    """exp_avg += (grad - exp_avg) * (1 - beta1); exp_avg_sq = exp_avg_sq * beta2 +
    grad * grad * (1 - beta2); value -= exp_avg / (sqrt(exp_avg_sq) + eps_term) * step_size."""
    for i in prange(value.size):
        g = grad[i]
        m = exp_avg[i] + (g - exp_avg[i]) * one_minus_beta1
        exp_avg[i] = m
        v = exp_avg_sq[i] * beta2 + g * g * one_minus_beta2
        exp_avg_sq[i] = v
        value[i] = value[i] - m / (np.sqrt(v) + eps_term) * step_size
