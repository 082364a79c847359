"""Batch normalization kernels over (N, C, S) C-contiguous arrays (S = H * W, or 1).

Each ``@njit(parallel=True, cache=True)`` kernel takes ``prange`` over its outer loop.
Sums are float64 whatever the input dtype. Two layouts of the work:

* channel at a time (``train_forward_by_channel``, ``train_backward_by_channel``), for
  images: each thread takes whole channels, makes the first pass (the sums) and then the
  second (y, or dx) while the channel's N * S values are still in its cache. A training
  step then reads x once forward and x and dy once backward.
* batch-chunked (the other four), for short runs such as (N, C) inputs: the reductions
  split the batch axis into chunks, one per thread, each adding into its own row of
  partial sums, so every thread reads memory in order (n, c, s) instead of striding.

The Python functions at the bottom choose the layout and the number of chunks and
finish the per-channel arithmetic (C numbers) in NumPy.

With ``NUMBA_DISABLE_JIT=1`` the same code runs as plain Python (``prange`` is
``range``), which is how the tests cover their logic on small shapes.
"""

import numba
import numpy as np
from numba import njit, prange

from .. import recycle
from .threads import single_thread_below

# Reassociation lets LLVM vectorize the float64 sums; no 'nnan'/'ninf', so NaN and
# inf still propagate as IEEE says.
FASTMATH = {"reassoc", "contract", "nsz"}

# Below this many elements the kernels run on one thread: waking a worker costs
# more than it saves.
PARALLEL_MIN_SIZE = 1 << 15


# ---------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------
@njit(parallel=True, cache=True, fastmath=FASTMATH)
def stats_partial_sums(x, shift, chunks):
    """Per chunk of the batch axis and per channel: sum(x - shift), sum((x - shift)**2).

    ``shift`` (one value per channel, taken from the data) keeps the sums small, so
    the variance E[d**2] - E[d]**2 does not cancel catastrophically when |mean| >> std.
    Returns float64 of shape (chunks, 2, C).
    """
    n, c, s = x.shape
    partial = np.zeros((chunks, 2, c))
    for k in prange(chunks):
        start = k * n // chunks
        stop = (k + 1) * n // chunks
        for i in range(start, stop):
            for j in range(c):
                offset = shift[j]
                total = 0.0
                squares = 0.0
                for t in range(s):
                    d = np.float64(x[i, j, t]) - offset
                    total += d
                    squares += d * d
                partial[k, 0, j] += total
                partial[k, 1, j] += squares
    return partial


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def affine(x, mean, scale, shift, y):
    """y = (x - mean) * scale + shift per channel, written into ``y`` (shape and dtype of ``x``)."""
    n, c, s = x.shape
    for i in prange(n):
        for j in range(c):
            m = mean[j]
            a = scale[j]
            b = shift[j]
            for t in range(s):
                y[i, j, t] = (x[i, j, t] - m) * a + b
    return y


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def grad_partial_sums(x, dy, mean, chunks):
    """Per chunk and channel: sum(dy) and sum(dy * (x - mean)), in one pass over both.

    Returns float64 of shape (chunks, 2, C).
    """
    n, c, s = x.shape
    partial = np.zeros((chunks, 2, c))
    for k in prange(chunks):
        start = k * n // chunks
        stop = (k + 1) * n // chunks
        for i in range(start, stop):
            for j in range(c):
                m = mean[j]
                total = 0.0
                moment = 0.0
                for t in range(s):
                    g = np.float64(dy[i, j, t])
                    total += g
                    moment += g * (np.float64(x[i, j, t]) - m)
                partial[k, 0, j] += total
                partial[k, 1, j] += moment
    return partial


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def combine(x, dy, mean, a, b, offset, dx):
    """dx = a * dy + b * (x - mean) + offset per channel, written into ``dx`` (like ``x``)."""
    n, c, s = x.shape
    for i in prange(n):
        for j in range(c):
            m = mean[j]
            aj = a[j]
            bj = b[j]
            oj = offset[j]
            for t in range(s):
                dx[i, j, t] = aj * dy[i, j, t] + bj * (x[i, j, t] - m) + oj
    return dx


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def train_forward_by_channel(x, gamma, beta, eps, y, mean_out, var_out):
    """Statistics and y for one channel at a time, one thread per channel.

    A channel's values (N * S of them) are read twice, but the second read comes from
    the core's cache: one pass over memory instead of two. Shifted float64 sums as in
    ``stats_partial_sums``; writes y, and the mean and biased variance per channel.
    """
    n, c, s = x.shape
    count = n * s
    for j in prange(c):
        shift = np.float64(x[0, j, 0])
        total = 0.0
        squares = 0.0
        for i in range(n):
            for t in range(s):
                d = np.float64(x[i, j, t]) - shift
                total += d
                squares += d * d
        delta = total / count
        var = max(squares / count - delta * delta, 0.0)
        mean = shift + delta
        mean_out[j] = mean
        var_out[j] = var
        # The per-channel constants in the dtype of x, as ``affine`` uses them.
        constants = np.empty(3, dtype=y.dtype)
        constants[0] = mean
        constants[1] = gamma[j] / np.sqrt(var + eps)
        constants[2] = beta[j]
        m, a, b = constants[0], constants[1], constants[2]
        for i in range(n):
            for t in range(s):
                y[i, j, t] = (x[i, j, t] - m) * a + b


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def train_backward_by_channel(x, dy, mean, invstd, gamma, dx, sums_out):
    """The per-channel sums, then dx, one channel at a time (the second pass from cache).

    Writes dx and ``sums_out[0] = sum(dy)``, ``sums_out[1] = sum(dy * xhat)`` (float64).
    """
    n, c, s = x.shape
    count = n * s
    for j in prange(c):
        m64 = mean[j]
        total = 0.0
        moment = 0.0
        for i in range(n):
            for t in range(s):
                g = np.float64(dy[i, j, t])
                total += g
                moment += g * (np.float64(x[i, j, t]) - m64)
        sum_dy_xhat = moment * invstd[j]
        sums_out[0, j] = total
        sums_out[1, j] = sum_dy_xhat
        a64 = gamma[j] * invstd[j]
        constants = np.empty(4, dtype=dx.dtype)
        constants[0] = a64
        constants[1] = -a64 * invstd[j] * sum_dy_xhat / count
        constants[2] = -a64 * total / count
        constants[3] = m64
        a, b, offset, m = constants[0], constants[1], constants[2], constants[3]
        for i in range(n):
            for t in range(s):
                dx[i, j, t] = a * dy[i, j, t] + b * (x[i, j, t] - m) + offset


# ---------------------------------------------------------------------------------
# the per-channel arithmetic around them
# ---------------------------------------------------------------------------------
def chunk_count(x):
    """How many batch chunks a reduction over ``x`` uses: one per thread, at most N."""
    return max(1, min(x.shape[0], numba.get_num_threads()))


def _threads_for(x):
    return single_thread_below(x.size, PARALLEL_MIN_SIZE)


def channel_stats(x):
    """Per-channel mean and biased variance of ``x`` (N, C, S), both float64 of shape (C,).

    >>> import numpy as np
    >>> x = np.array([[[1.0, 2.0]], [[3.0, 6.0]]])  # N=2, C=1, S=2
    >>> mean, var = channel_stats(x)
    >>> print(mean, var)
    [3.] [3.5]
    """
    n, c, s = x.shape
    shift = x[0, :, 0].astype(np.float64)
    with _threads_for(x):
        sums = stats_partial_sums(x, shift, chunk_count(x)).sum(axis=0)
    count = n * s
    delta = sums[0] / count
    var = np.maximum(sums[1] / count - delta * delta, 0.0)
    return shift + delta, var


def normalize(x, mean, scale, shift):
    """``(x - mean) * scale + shift`` per channel; the per-channel arrays are float64."""
    dtype = x.dtype
    with _threads_for(x):
        return affine(x, mean.astype(dtype), scale.astype(dtype), shift.astype(dtype),
                      recycle.empty(x.shape, dtype))


def channel_grad_sums(x, dy, mean, invstd):
    """Per-channel sum(dy) and sum(dy * xhat), float64 of shape (C,)."""
    with _threads_for(x):
        sums = grad_partial_sums(x, dy, mean, chunk_count(x)).sum(axis=0)
    return sums[0], sums[1] * invstd


def input_grad(x, dy, mean, invstd, gamma, sum_dy, sum_dy_xhat):
    """The closed form of dL/dx in training, in one write.

    dx = gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)), with
    xhat = (x - mean) * invstd and M the count per channel, is rearranged per channel
    into ``a * dy + b * (x - mean) + offset``.
    """
    n, c, s = x.shape
    count = n * s
    a = gamma * invstd
    b = -a * invstd * sum_dy_xhat / count
    offset = -a * sum_dy / count
    dtype = x.dtype
    with _threads_for(x):
        return combine(x, dy, mean.astype(dtype), a.astype(dtype), b.astype(dtype),
                       offset.astype(dtype), recycle.empty(x.shape, dtype))


# ---------------------------------------------------------------------------------
# a training step's forward and backward, on whichever kernels suit the shape
# ---------------------------------------------------------------------------------
# One channel per thread reads runs of S contiguous values; from a cache line (16
# float32) up that is as fast as reading in order, and each channel's second pass then
# hits the cache: about 25% faster here for (128, 64, 16, 16). Below it (the (N, C)
# case reads runs of one value), or with fewer channels than threads, the batch-chunked
# kernels above are used.
BY_CHANNEL_MIN_RUN = 16


def by_channel(x):
    n, c, s = x.shape
    return s >= BY_CHANNEL_MIN_RUN and c >= numba.get_num_threads()


def train_forward(x, gamma, beta, eps):
    """``(y, mean, var)`` of training-mode batch norm of ``x`` (N, C, S); mean and biased
    variance float64 of shape (C,); gamma and beta float64 of shape (C,)."""
    if by_channel(x):
        y = recycle.empty(x.shape, x.dtype)
        mean = np.empty(x.shape[1])
        var = np.empty(x.shape[1])
        with _threads_for(x):
            train_forward_by_channel(x, gamma, beta, eps, y, mean, var)
        return y, mean, var
    mean, var = channel_stats(x)
    return normalize(x, mean, gamma / np.sqrt(var + eps), beta), mean, var


def train_backward(x, dy, mean, invstd, gamma):
    """``(dx, sum_dy, sum_dy_xhat)`` of training-mode batch norm (see ``input_grad``)."""
    if by_channel(x):
        dx = recycle.empty(x.shape, x.dtype)
        sums = np.empty((2, x.shape[1]))
        with _threads_for(x):
            train_backward_by_channel(x, dy, mean, invstd, gamma, dx, sums)
        return dx, sums[0], sums[1]
    sum_dy, sum_dy_xhat = channel_grad_sums(x, dy, mean, invstd)
    return input_grad(x, dy, mean, invstd, gamma, sum_dy, sum_dy_xhat), sum_dy, sum_dy_xhat
