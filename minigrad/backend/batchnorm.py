"""The fused batch norm's arithmetic over (N, C, S) arrays: the Numba kernels, or NumPy.

minigrad/ops/batchnorm.py's ``BatchNormFunction`` calls the four functions below
(training forward and backward; in eval mode, the affine map and the two sums); each
runs the kernels of minigrad/kernels/batchnorm.py on the fast backend
(float32 and float64), and the NumPy of minigrad/backend/reference.py on the reference
backend. Both
compute the same formulas: per-channel float64 statistics, then one write of y; the
closed form of dx backward::

    dx = gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))

rearranged per channel into ``a * dy + b * (x - mean) + offset`` (M the count per
channel). The two agree to float64 rounding (the sums are ordered differently);
tests/test_backend.py checks it.
"""

import numpy as np

from . import reference as _reference
from ..runtime import memory

# The batch axis of a reduction is cut into this many chunks (fewer for a smaller
# batch), whatever the thread count: the sums, and so the results, are then bitwise
# the same on one thread or many. Enough chunks to keep up to 16 threads busy.
CHUNKS = 16

# The channel-at-a-time kernels sum each run of S values on LANES (32) accumulators,
# whole groups of 32 and then a tail one value at a time; from two groups a run up
# that beats the column kernels, which keep one pair of accumulators per column
# (forward + backward, float32, 2 threads: (64, 32, 16) 154 us by channel against
# 75 by columns; (64, 16, 64) 201 against 211; (64, 32, 256) 419 against 588). The
# choice depends on the shape only, never on the thread count, so the numbers do not
# either.
BY_CHANNEL_MIN_RUN = 64

# The channel-at-a-time kernels give each thread one block of neighbouring channels,
# so that every run read or written is block * S values long rather than S. Measured
# forward + backward on (128, 64, 256) float32, 2 threads: 6.9 ms a channel at a time,
# 4.9 ms in blocks of 8, 3.8 ms in blocks of 32 (one per thread); strided short runs
# keep the hardware prefetchers from streaming. The block changes the order of no
# sum, so the numbers do not depend on it (nor on the thread count that sets it).


def _kernels():
    """minigrad/kernels/batchnorm.py, imported on first use (so is Numba)."""
    from ..kernels import batchnorm

    return batchnorm


def on_kernels():
    return not _reference.active()


def chunk_count(x):
    """How many batch chunks a reduction over ``x`` uses: ``CHUNKS``, at most N."""
    return max(1, min(x.shape[0], CHUNKS))


def by_channel(x):
    """Whether ``x`` (N, C, S) takes the channel-at-a-time kernels."""
    return x.shape[2] >= BY_CHANNEL_MIN_RUN


def channel_block(x):
    """Channels per task of the block kernels (by channel, by columns): one block per
    thread."""
    from ..runtime import threads

    return max(1, -(-x.shape[1] // threads.count()))


# ---- the pieces, on the kernels --------------------------------------------------------
def _columns(x):
    """``x`` (N, C, S) as (N, C * S), and a function expanding per-channel values to
    the columns in the dtype given (the layout of the column kernels)."""
    n, c, s = x.shape

    def expand(values, dtype=np.float64):
        return np.repeat(np.asarray(values, dtype=dtype), s)

    return x.reshape(n, c * s), expand


def _per_channel(partial, x):
    """Column partial sums (chunks, 2, C * S) added up per channel: (2, C) float64."""
    n, c, s = x.shape
    return partial.reshape(partial.shape[0], 2, c, s).sum(axis=(0, 3))


def normalize(x, mean, scale, shift):
    """``(x - mean) * scale + shift`` per channel; the per-channel arrays are float64."""
    if not on_kernels():
        return _reference.normalize(x, mean, scale, shift)
    dtype = x.dtype
    columns, expand = _columns(x)
    y = memory.empty(x.shape, dtype)
    _kernels().affine(columns, expand(mean, dtype), expand(scale, dtype), expand(shift, dtype),
                      y.reshape(columns.shape))
    return y


def channel_grad_sums(x, dy, mean, invstd):
    """Per-channel sum(dy) and sum(dy * xhat), float64 of shape (C,)."""
    if not on_kernels():
        return _reference.channel_grad_sums(x, dy, mean, invstd)
    columns, expand = _columns(x)
    partial = _kernels().column_moments(columns, dy.reshape(columns.shape), expand(mean), chunk_count(x))
    sums = _per_channel(partial, x)
    return sums[0], sums[1] * invstd


# ---- a training step's forward and backward ------------------------------------------------
def train_forward(x, gamma, beta, eps):
    """``(y, mean, var)`` of training-mode batch norm of ``x`` (N, C, S); mean and biased
    variance float64 of shape (C,); gamma and beta float64 of shape (C,)."""
    if not on_kernels():
        mean, var = _reference.channel_stats(x)
        return _reference.normalize(x, mean, gamma / np.sqrt(var + eps), beta), mean, var
    n, c, s = x.shape
    y = memory.empty(x.shape, x.dtype)
    mean, var = np.empty(c), np.empty(c)
    if by_channel(x):
        _kernels().train_forward_by_channel(x, gamma, beta, eps, channel_block(x), y, mean, var)
    else:
        _kernels().train_forward_by_columns(x.reshape(n, c * s), s, gamma, beta, eps, channel_block(x),
                                            y.reshape(n, c * s), mean, var)
    return y, mean, var


def train_backward(x, dy, mean, invstd, gamma):
    """``(dx, sum_dy, sum_dy_xhat)`` of training-mode batch norm, dx by the closed form
    (see the module's docstring)."""
    if not on_kernels():
        sum_dy, sum_dy_xhat = _reference.channel_grad_sums(x, dy, mean, invstd)
        dx = _reference.input_grad(x, dy, mean, invstd, gamma, sum_dy, sum_dy_xhat)
        return dx, sum_dy, sum_dy_xhat
    n, c, s = x.shape
    dx = memory.empty(x.shape, x.dtype)
    sums = np.empty((2, c))
    if by_channel(x):
        _kernels().train_backward_by_channel(x, dy, mean, invstd, gamma, channel_block(x), dx, sums)
    else:
        _kernels().train_backward_by_columns(x.reshape(n, c * s), dy.reshape(n, c * s), s, mean, invstd,
                                             gamma, channel_block(x), dx.reshape(n, c * s), sums)
    return dx, sums[0], sums[1]
