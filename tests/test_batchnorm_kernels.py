"""The Numba kernels of the fused batch norm, on their own, against NumPy.

Small shapes only: CI also runs this file with ``NUMBA_DISABLE_JIT=1``, so the
kernels' logic (chunking, partial sums, the closed form) is covered as plain Python.
"""

import os

import numpy as np
import pytest

from minigrad.backend import batchnorm as fused
from minigrad.kernels import batchnorm as kernels

JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")
SHAPES = [(2, 1, 1), (3, 4, 1), (5, 3, 7), (4, 2, 12)]  # (N, C, S); S = H * W


def draw(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    return x, dy


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("chunks", [1, 2, 3])
def test_partial_sums_add_up_whatever_the_chunking(shape, chunks):
    x, dy = draw(shape)
    chunks = min(chunks, shape[0])
    n, c, s = shape
    columns, dy_columns = x.reshape(n, c * s), dy.reshape(n, c * s)
    mean = columns.mean(axis=0)
    partial = kernels.column_moments(columns, dy_columns, mean, chunks)
    assert partial.shape == (chunks, 2, c * s) and partial.dtype == np.float64
    grads = partial.sum(axis=0)
    np.testing.assert_allclose(grads, [dy_columns.sum(axis=0), (dy_columns * (columns - mean)).sum(axis=0)],
                               rtol=1e-12, atol=1e-12)


def channel_stats(x):
    """The per-channel mean and biased variance a training forward computes."""
    channels = x.shape[1]
    _, mean, var = fused.train_forward(x, np.ones(channels), np.zeros(channels), 1e-5)
    return mean, var


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_channel_stats(shape, dtype):
    x, _ = draw(shape, dtype)
    mean, var = channel_stats(x)
    assert mean.dtype == var.dtype == np.float64
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(var, x64.var(axis=(0, 2)), rtol=1e-10, atol=1e-15)


def test_nchw_stats_equal_numpy_over_axes_0_2_3():
    x = np.random.default_rng(1).standard_normal((3, 4, 2, 5))
    mean, var = channel_stats(x.reshape(3, 4, 10))
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(var, x.var(axis=(0, 2, 3)), rtol=1e-12)


def test_stats_survive_a_large_offset_in_float32():
    noise = np.random.default_rng(2).standard_normal((16, 2, 8))
    x = (1e4 + noise).astype(np.float32)
    mean, var = channel_stats(x)
    exact = x.astype(np.float64)
    np.testing.assert_allclose(mean, exact.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(var, exact.var(axis=(0, 2)), rtol=1e-9)
    # the naive one-pass formula in float32 loses it
    naive = (x * x).mean(axis=(0, 2)) - x.mean(axis=(0, 2)) ** 2
    assert np.abs(naive - exact.var(axis=(0, 2))).max() > 0.1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_normalize_is_a_per_channel_affine_map(dtype):
    x, _ = draw((4, 3, 5), dtype)
    mean = np.array([0.5, -1.0, 2.0])
    scale = np.array([2.0, 0.5, -1.0])
    shift = np.array([0.0, 1.0, 3.0])
    y = fused.normalize(x, mean, scale, shift)
    assert y.dtype == dtype and y.shape == x.shape
    expected = (x.astype(np.float64) - mean[:, None]) * scale[:, None] + shift[:, None]
    np.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES[1:])
def test_input_grad_is_the_closed_form(shape):
    x, dy = draw(shape, seed=3)
    gamma = np.linspace(0.5, 2.0, shape[1])
    eps = 1e-5
    mean, var = channel_stats(x)
    invstd = 1 / np.sqrt(var + eps)
    dx, sum_dy, sum_dy_xhat = fused.train_backward(x, dy, mean, invstd, gamma)
    # the textbook steps: dxhat, dvar, dmean, then dx (with M values per channel)
    count = shape[0] * shape[2]
    axes = (0, 2)
    mu = x.mean(axis=axes, keepdims=True)
    v = x.var(axis=axes, keepdims=True)
    xhat = (x - mu) / np.sqrt(v + eps)
    dxhat = dy * gamma[None, :, None]
    dvar = (dxhat * (x - mu)).sum(axis=axes, keepdims=True) * -0.5 * (v + eps) ** -1.5
    dmean = -(dxhat / np.sqrt(v + eps)).sum(axis=axes, keepdims=True)  # the dvar term is zero
    expected = dxhat / np.sqrt(v + eps) + dvar * 2 * (x - mu) / count + dmean / count
    np.testing.assert_allclose(dx, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sum_dy_xhat, (dy * xhat).sum(axis=axes), rtol=1e-10)
    np.testing.assert_allclose(sum_dy, dy.sum(axis=axes), rtol=1e-12)


def test_input_grad_matches_finite_differences():
    x, dy = draw((3, 2, 2), seed=4)
    gamma, eps = np.array([1.5, -0.5]), 1e-5

    def loss(values):
        y = fused.train_forward(values, gamma, np.zeros(2), eps)[0]
        return (y * dy).sum()

    mean, var = channel_stats(x)
    invstd = 1 / np.sqrt(var + eps)
    dx = fused.train_backward(x, dy, mean, invstd, gamma)[0]
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += 1e-6
        minus[index] -= 1e-6
        numeric[index] = (loss(plus) - loss(minus)) / 2e-6
    np.testing.assert_allclose(dx, numeric, rtol=1e-5, atol=1e-7)


def test_the_chunking_depends_on_the_batch_only():
    assert fused.chunk_count(np.empty((4, 3, 5))) == 4
    assert fused.chunk_count(np.empty((1000, 3, 1))) == fused.CHUNKS


@pytest.mark.parametrize("shape", [(40, 6, 1), (9, 5, 20)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_thread_and_parallel_compilations_agree_bitwise(shape, dtype):
    # The thread policy may run either compilation; the numbers must not depend on it.
    x, dy = draw(shape, dtype)
    c = shape[1]
    gamma, beta = np.linspace(0.5, 2.0, c), np.linspace(-1.0, 1.0, c)
    mean, invstd = x.mean(axis=(0, 2)).astype(np.float64), np.linspace(1.0, 2.0, c)
    chunks = fused.chunk_count(x)
    columns, dy_columns = x.reshape(shape[0], -1), dy.reshape(shape[0], -1)

    def per_column(values, dtype=np.float64):
        return np.repeat(values, shape[2]).astype(dtype)

    calls = [
        (kernels.column_moments, lambda: (columns, dy_columns, per_column(mean), chunks)),
        (kernels.affine, lambda: (columns, *(per_column(v, dtype) for v in (mean, gamma, beta)),
                                  np.empty_like(columns))),
        (kernels.train_forward_by_channel, lambda: (x, gamma, beta, 1e-5, 2, np.empty_like(x),
                                                    np.empty(c), np.empty(c))),
        (kernels.train_backward_by_channel, lambda: (x, dy, mean, invstd, gamma, 2, np.empty_like(x),
                                                     np.empty((2, c)))),
        (kernels.train_forward_by_columns, lambda: (columns, shape[2], gamma, beta, 1e-5, 2,
                                                    np.empty_like(columns), np.empty(c), np.empty(c))),
        (kernels.train_backward_by_columns, lambda: (columns, dy_columns, shape[2], mean, invstd, gamma, 2,
                                                     np.empty_like(columns), np.empty((2, c)))),
    ]
    for kernel, arguments in calls:
        one, many = arguments(), arguments()
        first, second = kernel.serial(*one), kernel.parallel(*many)
        for a, b in zip(one, many):  # outputs written in place
            assert np.array_equal(a, b, equal_nan=True), kernel.__name__
        if first is not None:
            assert np.array_equal(first, second), kernel.__name__


@pytest.mark.skipif(JIT_DISABLED, reason="checks the compiled dispatchers")
def test_kernels_are_parallel_and_cached():
    for kernel in (kernels.affine, kernels.column_moments,
                   kernels.train_forward_by_channel, kernels.train_backward_by_channel,
                   kernels.train_forward_by_columns, kernels.train_backward_by_columns):
        assert kernel.parallel.targetoptions.get("parallel") is True
        assert not kernel.serial.targetoptions.get("parallel")
        for dispatcher in (kernel.parallel, kernel.serial):
            assert dispatcher._cache.__class__.__name__ == "FunctionCache"


@pytest.mark.parametrize("shape", [(3, 4, 16), (5, 2, 20), (2, 3, 17)])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_channel_at_a_time_path_matches_the_by_columns_path(shape, dtype, rtol, monkeypatch):
    x, dy = draw(shape, dtype)
    gamma = np.linspace(0.5, 2.0, shape[1])
    beta = np.linspace(-1.0, 1.0, shape[1])
    results = {}
    for path, min_run in (("by_channel", 1), ("by_columns", 10**9)):
        monkeypatch.setattr(fused, "BY_CHANNEL_MIN_RUN", min_run)
        assert fused.by_channel(x) == (path == "by_channel")
        y, mean, var = fused.train_forward(x, gamma, beta, 1e-5)
        invstd = 1.0 / np.sqrt(var + 1e-5)
        dx, sum_dy, sum_dy_xhat = fused.train_backward(x, dy, mean, invstd, gamma)
        results[path] = [a.copy() for a in (y, mean, var, dx, sum_dy, sum_dy_xhat)]
    # against NumPy, and against each other
    mean = x.astype(np.float64).mean(axis=(0, 2))
    var = x.astype(np.float64).var(axis=(0, 2))
    np.testing.assert_allclose(results["by_channel"][1], mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results["by_channel"][2], var, rtol=1e-10)
    for ours, theirs in zip(results["by_channel"], results["by_columns"]):
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("shape", [(3, 5, 16), (2, 7, 33)])
def test_the_channel_block_changes_no_number(shape):
    # each kernel against itself with other blocks (the two layouts round differently)
    x, dy = draw(shape, np.float32)
    c = shape[1]
    gamma, beta = np.linspace(0.5, 2.0, c), np.linspace(-1.0, 1.0, c)
    mean, invstd = x.mean(axis=(0, 2)).astype(np.float64), np.linspace(1.0, 2.0, c)
    results = []
    for block in (1, 2, 3, c):
        forward = (np.empty_like(x), np.empty(c), np.empty(c))
        kernels.train_forward_by_channel(x, gamma, beta, 1e-5, block, *forward)
        backward = (np.empty_like(x), np.empty((2, c)))
        kernels.train_backward_by_channel(x, dy, mean, invstd, gamma, block, *backward)
        columns, dy_columns = x.reshape(shape[0], -1), dy.reshape(shape[0], -1)
        by_columns = (np.empty_like(columns), np.empty(c), np.empty(c))
        kernels.train_forward_by_columns(columns, shape[2], gamma, beta, 1e-5, block, *by_columns)
        by_columns_backward = (np.empty_like(columns), np.empty((2, c)))
        kernels.train_backward_by_columns(columns, dy_columns, shape[2], mean, invstd, gamma, block,
                                          *by_columns_backward)
        results.append(forward + backward + by_columns + by_columns_backward)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)
