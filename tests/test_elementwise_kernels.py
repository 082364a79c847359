"""ReLU's gradient on its one-pass kernel (minigrad/backend/elementwise.py) against
NumPy's ``grad * (out > 0)``: the same bits, NaN, infinities and -0.0 included."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import backend
from minigrad.backend import elementwise


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 40), min_size=1, max_size=3).map(tuple).filter(lambda s: np.prod(s) >= 6),
       seed=st.integers(0, 2**16))
def test_relu_grad_kernel_gives_numpys_bits(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    grad = rng.standard_normal(shape).astype(dtype)
    out = rng.standard_normal(shape).astype(dtype)
    flat_grad, flat_out = grad.reshape(-1), out.reshape(-1)
    flat_grad[:6] = [np.inf, -np.inf, np.nan, -1.5, 0.0, -0.0]
    flat_out[:6] = [0.0, -1.0, 2.0, np.nan, 1.0, -3.0]
    from minigrad.kernels import elementwise as kernels

    with np.errstate(invalid="ignore"):
        expected = grad * (out > 0)
    got = np.empty_like(grad)
    with np.errstate(invalid="ignore"):  # inf * 0 warns when the kernel runs as Python
        kernels.relu_grad(flat_grad, flat_out, got.reshape(-1))
    np.testing.assert_array_equal(got, expected)
    assert np.array_equal(np.signbit(got), np.signbit(expected))
    with np.errstate(invalid="ignore"):  # inf * 0, as NumPy's own product
        through_backend = elementwise.relu_grad(grad, out)  # on the kernel if large enough here
    assert through_backend.dtype == expected.dtype and through_backend.shape == expected.shape
    np.testing.assert_array_equal(through_backend, expected)


def test_the_calibrated_size_is_a_size():
    import numba

    size = elementwise.kernel_min_size()
    assert size >= elementwise.SMALLEST
    if not numba.config.DISABLE_JIT:  # as plain Python the kernel never pays
        assert size < float("inf")


def test_relu_backward_is_the_same_on_both_backends():
    x = np.random.default_rng(1).standard_normal((8, 16, 40)).astype(np.float32)
    grads = []
    for name in ("fast", "reference"):
        with backend.use(name):
            t = mg.tensor(x, requires_grad=True)
            (t.relu() * mg.tensor(x)).sum().backward()
            grads.append(t.grad.data)
    np.testing.assert_array_equal(*grads)


def test_a_small_relu_graph_does_not_import_numba():
    code = ("import sys, minigrad as mg\n"
            "x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)\n"
            "x.relu().sum().backward()\n"
            "assert x.grad.tolist() == [1.0, 0.0, 1.0]\n"
            "print('numba' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_reference_backend_never_calibrates_nor_imports_numba():
    code = ("import sys, numpy as np, minigrad as mg\n"
            "from minigrad.backend import elementwise\n"
            "x = mg.tensor(np.linspace(-1, 1, 4096), requires_grad=True)\n"
            "x.relu().sum().backward()\n"
            "print('numba' in sys.modules, elementwise._min_size)\n")
    env = dict(os.environ, MINIGRAD_BACKEND="reference")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.split() == ["False", "None"]
