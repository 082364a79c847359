"""Batch normalization kernels over (N, C, S) C-contiguous arrays (S = H * W, or 1).

Each ``@kernel`` (see minigrad/runtime/threads.py) takes ``prange`` over its outer
loop. Sums are float64 whatever the input dtype. Two layouts of the work:

* channel at a time (``train_forward_by_channel``, ``train_backward_by_channel``), for
  images: each thread takes whole channels, makes the first pass (the sums) and then the
  second (y, or dx) while the channel's N * S values are still in its cache. A training
  step then reads x once forward and x and dy once backward.
* batch-chunked (the other four), for short runs such as (N, C) inputs: the reductions
  split the batch axis into a fixed number of chunks, each adding into its own row of
  partial sums, so every thread reads memory in order (n, c, s) instead of striding.

minigrad/backend/batchnorm.py chooses the layout and the number of chunks and finishes
the per-channel arithmetic (C numbers) in NumPy.

With ``NUMBA_DISABLE_JIT=1`` the same code runs as plain Python (``prange`` is
``range``), which is how the tests cover their logic on small shapes.
"""

import numpy as np
from numba import njit, prange

from ..runtime.threads import kernel

# No fastmath: with reassociation the compiler orders a sum as it sees fit, and the
# one-thread and parallel compilations of one kernel (or a fresh and a cached one) then
# round differently. The sums run on eight accumulators written out by hand instead,
# lane k taking elements k, k+8, ...: independent lanes the compiler vectorizes without
# reordering anything, so every compilation gives the same bits.


# ---------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _shifted_sums(flat, start, count, offset):
    """sum(v - offset) and sum((v - offset)**2) over flat[start:start + count], float64,
    on eight lanes added in a fixed order."""
    t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = 0.0
    q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = 0.0
    whole = count - count % 8
    for p in range(start, start + whole, 8):
        d0 = np.float64(flat[p]) - offset
        d1 = np.float64(flat[p + 1]) - offset
        d2 = np.float64(flat[p + 2]) - offset
        d3 = np.float64(flat[p + 3]) - offset
        d4 = np.float64(flat[p + 4]) - offset
        d5 = np.float64(flat[p + 5]) - offset
        d6 = np.float64(flat[p + 6]) - offset
        d7 = np.float64(flat[p + 7]) - offset
        t0 += d0
        t1 += d1
        t2 += d2
        t3 += d3
        t4 += d4
        t5 += d5
        t6 += d6
        t7 += d7
        q0 += d0 * d0
        q1 += d1 * d1
        q2 += d2 * d2
        q3 += d3 * d3
        q4 += d4 * d4
        q5 += d5 * d5
        q6 += d6 * d6
        q7 += d7 * d7
    for p in range(start + whole, start + count):
        d = np.float64(flat[p]) - offset
        t0 += d
        q0 += d * d
    return ((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7)), ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7))


@njit(cache=True, inline="always")
def _moment_sums(flat_x, flat_dy, start, count, mean):
    """sum(dy) and sum(dy * (x - mean)) over [start, start + count), float64, on eight
    lanes added in a fixed order."""
    t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = 0.0
    q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = 0.0
    whole = count - count % 8
    for p in range(start, start + whole, 8):
        g0 = np.float64(flat_dy[p])
        g1 = np.float64(flat_dy[p + 1])
        g2 = np.float64(flat_dy[p + 2])
        g3 = np.float64(flat_dy[p + 3])
        g4 = np.float64(flat_dy[p + 4])
        g5 = np.float64(flat_dy[p + 5])
        g6 = np.float64(flat_dy[p + 6])
        g7 = np.float64(flat_dy[p + 7])
        t0 += g0
        t1 += g1
        t2 += g2
        t3 += g3
        t4 += g4
        t5 += g5
        t6 += g6
        t7 += g7
        q0 += g0 * (np.float64(flat_x[p]) - mean)
        q1 += g1 * (np.float64(flat_x[p + 1]) - mean)
        q2 += g2 * (np.float64(flat_x[p + 2]) - mean)
        q3 += g3 * (np.float64(flat_x[p + 3]) - mean)
        q4 += g4 * (np.float64(flat_x[p + 4]) - mean)
        q5 += g5 * (np.float64(flat_x[p + 5]) - mean)
        q6 += g6 * (np.float64(flat_x[p + 6]) - mean)
        q7 += g7 * (np.float64(flat_x[p + 7]) - mean)
    for p in range(start + whole, start + count):
        g = np.float64(flat_dy[p])
        t0 += g
        q0 += g * (np.float64(flat_x[p]) - mean)
    return ((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7)), ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7))


@kernel
def stats_partial_sums(x, shift, chunks):
    """Per chunk of the batch axis and per channel: sum(x - shift), sum((x - shift)**2).

    ``shift`` (one value per channel, taken from the data) keeps the sums small, so
    the variance E[d**2] - E[d]**2 does not cancel catastrophically when |mean| >> std.
    Returns float64 of shape (chunks, 2, C). For (N, C) inputs (S = 1) the loop runs
    along the channels, each an independent sum, so it vectorizes across them.
    """
    n, c, s = x.shape
    partial = np.zeros((chunks, 2, c))
    flat = x.reshape(-1)
    for k in prange(chunks):
        start = k * n // chunks
        stop = (k + 1) * n // chunks
        totals = partial[k, 0]
        squares = partial[k, 1]
        for i in range(start, stop):
            if s == 1:
                for j in range(c):
                    d = np.float64(flat[i * c + j]) - shift[j]
                    totals[j] += d
                    squares[j] += d * d
            else:
                for j in range(c):
                    total, square = _shifted_sums(flat, (i * c + j) * s, s, shift[j])
                    totals[j] += total
                    squares[j] += square
    return partial


@kernel
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


@kernel
def grad_partial_sums(x, dy, mean, chunks):
    """Per chunk and channel: sum(dy) and sum(dy * (x - mean)), in one pass over both.

    Returns float64 of shape (chunks, 2, C); (N, C) inputs as in ``stats_partial_sums``.
    """
    n, c, s = x.shape
    partial = np.zeros((chunks, 2, c))
    flat_x = x.reshape(-1)
    flat_dy = dy.reshape(-1)
    for k in prange(chunks):
        start = k * n // chunks
        stop = (k + 1) * n // chunks
        totals = partial[k, 0]
        moments = partial[k, 1]
        for i in range(start, stop):
            if s == 1:
                for j in range(c):
                    g = np.float64(flat_dy[i * c + j])
                    totals[j] += g
                    moments[j] += g * (np.float64(flat_x[i * c + j]) - mean[j])
            else:
                for j in range(c):
                    total, moment = _moment_sums(flat_x, flat_dy, (i * c + j) * s, s, mean[j])
                    totals[j] += total
                    moments[j] += moment
    return partial


@kernel
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


@njit(cache=True)
def _write_channel_forward(x, j, shift, total, squares, gamma, beta, eps, y, mean_out, var_out):
    """Channel j's mean and variance from its shifted sums, then its y (strict arithmetic)."""
    n, c, s = x.shape
    count = n * s
    delta = total / count
    var = max(squares / count - delta * delta, 0.0)
    mean = shift + delta
    mean_out[j] = mean
    var_out[j] = var
    # The per-channel constants in the dtype of x, as ``affine`` uses them.
    constants = np.empty(3, dtype=y.dtype)
    constants[0] = mean
    constants[1] = gamma / np.sqrt(var + eps)
    constants[2] = beta
    m, a, b = constants[0], constants[1], constants[2]
    for i in range(n):
        for t in range(s):
            y[i, j, t] = (x[i, j, t] - m) * a + b


@njit(cache=True)
def _write_channel_backward(x, dy, j, m64, invstd, gamma, total, moment, dx, sums_out):
    """Channel j's two sums, then its dx with the closed form (strict arithmetic)."""
    n, c, s = x.shape
    count = n * s
    sum_dy_xhat = moment * invstd
    sums_out[0, j] = total
    sums_out[1, j] = sum_dy_xhat
    a64 = gamma * invstd
    constants = np.empty(4, dtype=dx.dtype)
    constants[0] = a64
    constants[1] = -a64 * invstd * sum_dy_xhat / count
    constants[2] = -a64 * total / count
    constants[3] = m64
    a, b, offset, m = constants[0], constants[1], constants[2], constants[3]
    for i in range(n):
        for t in range(s):
            dx[i, j, t] = a * dy[i, j, t] + b * (x[i, j, t] - m) + offset


@kernel
def train_forward_by_channel(x, gamma, beta, eps, y, mean_out, var_out):
    """Statistics and y for one channel at a time, one thread per channel.

    A channel's values (N * S of them) are read twice, but the second read comes from
    the core's cache: one pass over memory instead of two. Shifted float64 sums as in
    ``stats_partial_sums``; writes y, and the mean and biased variance per channel.
    """
    n, c, s = x.shape
    flat = x.reshape(-1)
    for j in prange(c):
        shift = np.float64(flat[j * s])
        total = 0.0
        squares = 0.0
        for i in range(n):
            run_total, run_squares = _shifted_sums(flat, (i * c + j) * s, s, shift)
            total += run_total
            squares += run_squares
        _write_channel_forward(x, j, shift, total, squares, gamma[j], beta[j], eps, y, mean_out, var_out)


@kernel
def train_backward_by_channel(x, dy, mean, invstd, gamma, dx, sums_out):
    """The per-channel sums, then dx, one channel at a time (the second pass from cache).

    Writes dx and ``sums_out[0] = sum(dy)``, ``sums_out[1] = sum(dy * xhat)`` (float64).
    """
    n, c, s = x.shape
    flat_x = x.reshape(-1)
    flat_dy = dy.reshape(-1)
    for j in prange(c):
        m64 = mean[j]
        total = 0.0
        moment = 0.0
        for i in range(n):
            run_total, run_moment = _moment_sums(flat_x, flat_dy, (i * c + j) * s, s, m64)
            total += run_total
            moment += run_moment
        _write_channel_backward(x, dy, j, m64, invstd[j], gamma[j], total, moment, dx, sums_out)
