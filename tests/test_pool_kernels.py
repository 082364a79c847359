"""Max pooling's Numba kernels (minigrad/kernels/pool.py) against the NumPy reference
(minigrad/backend/reference.py): the same maxima, arg-max offsets and input gradients,
bit for bit, ties, NaN and -inf included, and max_pool2d the same on both backends.

Small shapes only: CI also runs this file with ``NUMBA_DISABLE_JIT=1``, so the
kernels' index arithmetic is covered as plain Python.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import backend
from minigrad.backend import pool, reference


@st.composite
def poolings(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    h = draw(st.integers(max(1, kh - 2 * padding[0]), 7))
    w = draw(st.integers(max(1, kw - 2 * padding[1]), 7))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w)
    return shape, (kh, kw), stride, padding


def images(shape, dtype, seed):
    """Values from a small set, so that windows hold ties, with some NaN and -inf."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=shape).astype(dtype)
    x[rng.random(shape) < 0.05] = np.nan
    x[rng.random(shape) < 0.1] = -np.inf
    return x


def out_size(shape, kernel, stride, padding):
    return tuple(reference.output_size(n, k, s, p, 1) for n, k, s, p in zip(shape[2:], kernel, stride, padding))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=30, deadline=None)
@given(case=poolings(), seed=st.integers(0, 2**16))
def test_the_kernels_equal_the_reference(dtype, case, seed):
    shape, kernel, stride, padding = case
    x = images(shape, dtype, seed)
    size = out_size(shape, kernel, stride, padding)
    best, choice = pool.max_pool(x, kernel, stride, padding, size)
    ref_best, ref_choice = reference.max_pool(x, kernel, stride, padding, size)
    np.testing.assert_array_equal(choice, ref_choice)
    np.testing.assert_array_equal(best, ref_best)  # NaN in the same places
    assert best.dtype == ref_best.dtype and choice.dtype == ref_choice.dtype
    grad = np.random.default_rng(seed + 1).standard_normal(best.shape).astype(dtype)
    dx = pool.max_pool_scatter(grad, choice, kernel, stride, padding, shape)
    ref_dx = reference.max_pool_scatter(grad, choice, kernel, stride, padding, shape)
    assert dx.dtype == ref_dx.dtype
    np.testing.assert_array_equal(dx, ref_dx)  # overlapping windows add in the same order


def test_max_pool2d_is_the_same_on_both_backends():
    x = images((2, 3, 8, 8), np.float32, 0)
    x[np.isnan(x)] = 0.0
    results = []
    for name in ("fast", "reference"):
        with backend.use(name):
            xt = mg.tensor(x, requires_grad=True)
            out = F.max_pool2d(xt, 3, stride=2, padding=1)
            out.backward(mg.ones(*out.shape))
            results.append((out.data, xt.grad.data))
    for fast, slow in zip(*results):
        np.testing.assert_array_equal(fast, slow)


def test_integer_images_take_the_reference():
    x = np.arange(32, dtype=np.int64).reshape(1, 2, 4, 4)
    best, choice = pool.max_pool(x, (2, 2), (2, 2), (0, 0), (2, 2))
    assert best.dtype == np.int64
    np.testing.assert_array_equal(best[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(choice, np.full((1, 2, 2, 2), 3))


def test_a_forked_child_and_threads_run_max_pooling_after_the_parent_ran_it_in_parallel():
    import os
    import subprocess
    import sys

    code = """
import os, threading, numpy as np, minigrad as mg, minigrad.nn.functional as F
def pool_step(seed):
    x = mg.tensor(np.random.default_rng(seed).standard_normal((64, 64, 32, 32)).astype(np.float32),
                  requires_grad=True)  # 4M elements: above any calibrated parallel threshold
    F.max_pool2d(x, 2).sum().backward()
    return int((x.grad.data != 0).sum())
expected = 64 * 64 * 16 * 16  # one winner per window
assert pool_step(0) == expected
pid = os.fork()
if pid == 0:
    os._exit(0 if pool_step(1) == expected else 3)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0
counts = []
threads = [threading.Thread(target=lambda s=s: counts.append(pool_step(s))) for s in range(3)]
[t.start() for t in threads]
[t.join() for t in threads]
assert counts == [expected] * 3, counts
print("ok")
"""
    # compiled kernels even when this file runs under NUMBA_DISABLE_JIT (4M elements)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
