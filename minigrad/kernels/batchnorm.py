"""Batch normalization kernels. Sums are float64 whatever the input dtype.

Two layouts of the work, each laid out so that the innermost loop runs along
contiguous memory with no loop-carried dependence, which is what lets the compiler
vectorize it without reordering any sum (there is no fastmath here, see below):

* channel at a time (``train_forward_by_channel``, ``train_backward_by_channel``) over
  (N, C, S) arrays, for images: each thread takes whole channels, makes the first pass
  (the sums) and then the second (y, or dx) while the channel's N * S values are still
  in its cache. A training step then reads x once forward and x and dy once backward.
  A channel's sums run on ``LANES`` float64 accumulators, value ``p`` of every run of
  S going to lane ``p % LANES``.
* by column over (N, K) arrays: (N, C) inputs, or (N, C * S) for short runs S. Every
  row is read in order; each column has its own accumulator or its own per-column
  constants. ``train_forward_by_columns`` and ``train_backward_by_columns`` take a
  block of columns per thread and make both passes, as the channel kernels do;
  ``affine`` and ``column_moments`` serve the eval mode and the gradients of frozen
  inputs, the reduction in a fixed number of chunks of the batch axis (one row of
  partial sums each).

minigrad/backend/batchnorm.py chooses the layout and the number of chunks, expands
per-channel constants to columns, and finishes the per-channel arithmetic (C numbers)
in NumPy.

No fastmath: with reassociation the compiler orders a sum as it sees fit, and the
one-thread and parallel compilations of one kernel (or a fresh and a cached one) then
round differently. With fixed lanes and chunks every compilation gives the same bits,
on one thread or many.

With ``NUMBA_DISABLE_JIT=1`` the same code runs as plain Python (``prange`` is
``range``), which is how the tests cover their logic on small shapes.
"""

import numpy as np
from numba import njit, prange

from ..runtime.threads import kernel

# Accumulators per channel in the channel-at-a-time sums: enough independent lanes to
# fill the vector units (4 float64 a register, two or more additions in flight).
LANES = 32


# ---------------------------------------------------------------------------------
# by column: (N, K) arrays
# ---------------------------------------------------------------------------------
# Rows four at a time: each column's accumulators are loaded and stored once per four
# rows, not once per row, which is what the by-column sums spent most of their time on
# ((256, 512) float32, one thread: 33 -> 19 us a pass). The four rows are added
# pairwise, then to the accumulator: a fixed order, whatever the thread count.
@njit(cache=True, inline="always")
def _shifted_row_sums(x, low, width, shift, totals, squares):
    """totals[q] += sum over rows of x[:, low + q] - shift[q]; squares the same of its square."""
    n = x.shape[0]
    whole = n - n % 4
    for i in range(0, whole, 4):
        r0 = x[i, low:low + width]
        r1 = x[i + 1, low:low + width]
        r2 = x[i + 2, low:low + width]
        r3 = x[i + 3, low:low + width]
        for q in range(width):
            c = shift[q]
            d0 = np.float64(r0[q]) - c
            d1 = np.float64(r1[q]) - c
            d2 = np.float64(r2[q]) - c
            d3 = np.float64(r3[q]) - c
            totals[q] += (d0 + d1) + (d2 + d3)
            squares[q] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)
    for i in range(whole, n):
        row = x[i, low:low + width]
        for q in range(width):
            d = np.float64(row[q]) - shift[q]
            totals[q] += d
            squares[q] += d * d


@njit(cache=True, inline="always")
def _moment_row_sums(x, dy, first_row, last_row, low, width, centre, totals, moments):
    """Over rows first_row..last_row - 1: totals[q] += dy[:, low + q] and
    moments[q] += dy[:, low + q] * (x[:, low + q] - centre[q])."""
    whole = last_row - (last_row - first_row) % 4
    for i in range(first_row, whole, 4):
        x0 = x[i, low:low + width]
        x1 = x[i + 1, low:low + width]
        x2 = x[i + 2, low:low + width]
        x3 = x[i + 3, low:low + width]
        g0 = dy[i, low:low + width]
        g1 = dy[i + 1, low:low + width]
        g2 = dy[i + 2, low:low + width]
        g3 = dy[i + 3, low:low + width]
        for q in range(width):
            c = centre[q]
            a0 = np.float64(g0[q])
            a1 = np.float64(g1[q])
            a2 = np.float64(g2[q])
            a3 = np.float64(g3[q])
            totals[q] += (a0 + a1) + (a2 + a3)
            moments[q] += ((a0 * (np.float64(x0[q]) - c) + a1 * (np.float64(x1[q]) - c))
                           + (a2 * (np.float64(x2[q]) - c) + a3 * (np.float64(x3[q]) - c)))
    for i in range(whole, last_row):
        x_row = x[i, low:low + width]
        dy_row = dy[i, low:low + width]
        for q in range(width):
            g = np.float64(dy_row[q])
            totals[q] += g
            moments[q] += g * (np.float64(x_row[q]) - centre[q])


@kernel
def column_moments(x, dy, mean, chunks):
    """Per chunk and column: sum(dy) and sum(dy * (x - mean)), in one pass over both.

    Returns float64 of shape (chunks, 2, K).
    """
    n, k = x.shape
    partial = np.zeros((chunks, 2, k))
    for chunk in prange(chunks):
        totals = np.zeros(k)
        moments = np.zeros(k)
        _moment_row_sums(x, dy, chunk * n // chunks, (chunk + 1) * n // chunks, 0, k, mean, totals, moments)
        partial[chunk, 0] = totals
        partial[chunk, 1] = moments
    return partial


@kernel
def affine(x, mean, scale, shift, y):
    """y = (x - mean) * scale + shift per column, written into ``y`` (like ``x``)."""
    n, k = x.shape
    for i in prange(n):
        x_row = x[i]
        y_row = y[i]
        for q in range(k):
            y_row[q] = (x_row[q] - mean[q]) * scale[q] + shift[q]
    return y


@kernel
def train_forward_by_columns(x, s, gamma, beta, eps, block, y, mean_out, var_out):
    """Statistics and y of x (N, C * S) for ``block`` channels (block * S columns) at a
    time, one thread per block: each column's float64 sums of x - shift (shift a value
    of the data per channel, so that the variance E[d**2] - E[d]**2 does not cancel
    catastrophically when |mean| >> std), a channel's S columns added in order, then y
    per column. The block's rows are read twice, the second time from the core's cache."""
    n, k = x.shape
    c = k // s
    count = n * s
    for task in prange((c + block - 1) // block):
        low = task * block * s
        width = min(block * s, k - low)
        shift = np.empty(width)
        for q in range(width):
            shift[q] = x[0, low + q - q % s]  # its channel's first value
        totals = np.zeros(width)
        squares = np.zeros(width)
        _shifted_row_sums(x, low, width, shift, totals, squares)
        # The per-column constants in the dtype of x, as ``affine`` uses them.
        mean = np.empty(width, dtype=y.dtype)
        scale = np.empty(width, dtype=y.dtype)
        offset = np.empty(width, dtype=y.dtype)
        for first in range(0, width, s):
            j = (low + first) // s
            total = 0.0
            square = 0.0
            for q in range(first, first + s):
                total += totals[q]
                square += squares[q]
            delta = total / count
            var = max(square / count - delta * delta, 0.0)
            mean_out[j] = shift[first] + delta
            var_out[j] = var
            for q in range(first, first + s):
                mean[q] = shift[first] + delta
                scale[q] = gamma[j] / np.sqrt(var + eps)
                offset[q] = beta[j]
        for i in range(n):
            x_row = x[i, low:low + width]
            y_row = y[i, low:low + width]
            for q in range(width):
                y_row[q] = (x_row[q] - mean[q]) * scale[q] + offset[q]


@kernel
def train_backward_by_columns(x, dy, s, mean, invstd, gamma, block, dx, sums_out):
    """The per-channel sums, then dx, of x and dy (N, C * S), ``block`` channels at a
    time as ``train_forward_by_columns``; writes dx, by the closed form
    ``a * dy + b * (x - mean) + offset``, and ``sums_out[0] = sum(dy)``,
    ``sums_out[1] = sum(dy * xhat)`` per channel."""
    n, k = x.shape
    c = k // s
    count = n * s
    for task in prange((c + block - 1) // block):
        low = task * block * s
        width = min(block * s, k - low)
        centre = np.empty(width)
        for q in range(width):
            centre[q] = mean[(low + q) // s]
        totals = np.zeros(width)
        moments = np.zeros(width)
        _moment_row_sums(x, dy, 0, n, low, width, centre, totals, moments)
        m = np.empty(width, dtype=dx.dtype)
        a = np.empty(width, dtype=dx.dtype)
        b = np.empty(width, dtype=dx.dtype)
        offset = np.empty(width, dtype=dx.dtype)
        for first in range(0, width, s):
            j = (low + first) // s
            total = 0.0
            moment = 0.0
            for q in range(first, first + s):
                total += totals[q]
                moment += moments[q]
            sum_dy_xhat = moment * invstd[j]
            sums_out[0, j] = total
            sums_out[1, j] = sum_dy_xhat
            a64 = gamma[j] * invstd[j]
            for q in range(first, first + s):
                m[q] = mean[j]
                a[q] = a64
                b[q] = -a64 * invstd[j] * sum_dy_xhat / count
                offset[q] = -a64 * total / count
        for i in range(n):
            x_row = x[i, low:low + width]
            dy_row = dy[i, low:low + width]
            dx_row = dx[i, low:low + width]
            for q in range(width):
                dx_row[q] = a[q] * dy_row[q] + b[q] * (x_row[q] - m[q]) + offset[q]


# ---------------------------------------------------------------------------------
# channel at a time: (N, C, S) arrays
# ---------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _lane_sums(row, offset, totals, squares):
    """totals[l] += row[p] - offset and squares[l] += (row[p] - offset)**2, l = p % LANES."""
    size = row.size
    whole = size - size % LANES
    for start in range(0, whole, LANES):
        for lane in range(LANES):
            d = np.float64(row[start + lane]) - offset
            totals[lane] += d
            squares[lane] += d * d
    for p in range(whole, size):
        d = np.float64(row[p]) - offset
        totals[p - whole] += d
        squares[p - whole] += d * d


@njit(cache=True, inline="always")
def _lane_moments(x_row, dy_row, mean, totals, moments):
    """totals[l] += dy[p] and moments[l] += dy[p] * (x[p] - mean), l = p % LANES."""
    size = x_row.size
    whole = size - size % LANES
    for start in range(0, whole, LANES):
        for lane in range(LANES):
            g = np.float64(dy_row[start + lane])
            totals[lane] += g
            moments[lane] += g * (np.float64(x_row[start + lane]) - mean)
    for p in range(whole, size):
        g = np.float64(dy_row[p])
        totals[p - whole] += g
        moments[p - whole] += g * (np.float64(x_row[p]) - mean)


@kernel
def train_forward_by_channel(x, gamma, beta, eps, block, y, mean_out, var_out):
    """Statistics and y for ``block`` channels at a time, one thread per block.

    A block's values (N * S a channel) are read twice, but the second read comes from
    the core's cache: one pass over memory instead of two; a block of neighbouring
    channels makes the runs read and written B * S values long. Shifted float64 sums as
    in ``train_forward_by_columns``; writes y, and the mean and biased variance per channel. The
    block size changes the order of nothing, so not the numbers either.
    """
    n, c, s = x.shape
    count = n * s
    for task in prange((c + block - 1) // block):
        first = task * block
        width = min(block, c - first)
        shift = np.empty(width)
        for k in range(width):
            shift[k] = x[0, first + k, 0]
        totals = np.zeros((width, LANES))
        squares = np.zeros((width, LANES))
        for i in range(n):
            for k in range(width):
                _lane_sums(x[i, first + k], shift[k], totals[k], squares[k])
        # The per-channel constants in the dtype of x, as ``affine`` uses them.
        constants = np.empty((width, 3), dtype=y.dtype)
        for k in range(width):
            delta = totals[k].sum() / count
            var = max(squares[k].sum() / count - delta * delta, 0.0)
            mean_out[first + k] = shift[k] + delta
            var_out[first + k] = var
            constants[k, 0] = shift[k] + delta
            constants[k, 1] = gamma[first + k] / np.sqrt(var + eps)
            constants[k, 2] = beta[first + k]
        for i in range(n):
            for k in range(width):
                m, a, b = constants[k, 0], constants[k, 1], constants[k, 2]
                x_row = x[i, first + k]
                y_row = y[i, first + k]
                for t in range(s):
                    y_row[t] = (x_row[t] - m) * a + b


@kernel
def train_backward_by_channel(x, dy, mean, invstd, gamma, block, dx, sums_out):
    """The per-channel sums, then dx, ``block`` channels at a time (the second pass from
    cache), as ``train_forward_by_channel``.

    Writes dx and ``sums_out[0] = sum(dy)``, ``sums_out[1] = sum(dy * xhat)`` (float64),
    dx with the closed form ``a * dy + b * (x - mean) + offset``.
    """
    n, c, s = x.shape
    count = n * s
    for task in prange((c + block - 1) // block):
        first = task * block
        width = min(block, c - first)
        totals = np.zeros((width, LANES))
        moments = np.zeros((width, LANES))
        for i in range(n):
            for k in range(width):
                _lane_moments(x[i, first + k], dy[i, first + k], mean[first + k], totals[k], moments[k])
        constants = np.empty((width, 4), dtype=dx.dtype)
        for k in range(width):
            j = first + k
            total = totals[k].sum()
            sum_dy_xhat = moments[k].sum() * invstd[j]
            sums_out[0, j] = total
            sums_out[1, j] = sum_dy_xhat
            a64 = gamma[j] * invstd[j]
            constants[k, 0] = a64
            constants[k, 1] = -a64 * invstd[j] * sum_dy_xhat / count
            constants[k, 2] = -a64 * total / count
            constants[k, 3] = mean[j]
        for i in range(n):
            for k in range(width):
                a, b, offset, m = constants[k, 0], constants[k, 1], constants[k, 2], constants[k, 3]
                x_row = x[i, first + k]
                dy_row = dy[i, first + k]
                dx_row = dx[i, first + k]
                for t in range(s):
                    dx_row[t] = a * dy_row[t] + b * (x_row[t] - m) + offset
