"""A tensor with a real number: ops/scalar.py's one-input nodes give what the general
two-input ops give with the number as a 0-d array of the tensor's dtype, bit for bit."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.ops import elementwise as ew
from minigrad.ops import scalar as scalar_ops

NUMBERS = [1.0001, -3, 0.1, True, np.float64(2.5), np.float32(0.3), np.int64(7), 1e30, float("inf"),
           float("nan"), 0.0]
CASES = [
    ("add", lambda t, c: t + c, lambda t, c: ew.Add.apply(t, c)),
    ("radd", lambda t, c: c + t, lambda t, c: ew.Add.apply(c, t)),
    ("sub", lambda t, c: t - c, lambda t, c: ew.Sub.apply(t, c)),
    ("rsub", lambda t, c: c - t, lambda t, c: ew.Sub.apply(c, t)),
    ("mul", lambda t, c: t * c, lambda t, c: ew.Mul.apply(t, c)),
    ("rmul", lambda t, c: c * t, lambda t, c: ew.Mul.apply(c, t)),
    ("div", lambda t, c: t / c, lambda t, c: ew.Div.apply(t, c)),
]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("name, fast, general", CASES, ids=[c[0] for c in CASES])
def test_scalar_ops_equal_the_general_ops_bit_for_bit(dtype, shape, name, fast, general):
    data = np.random.default_rng(0).uniform(-2, 2, shape).astype(dtype)
    for number in NUMBERS:
        x = mg.tensor(data, requires_grad=True)
        with np.errstate(all="ignore"):
            out = fast(x, number)
            expected = general(mg.tensor(data), mg.Tensor._wrap(np.array(number, dtype=dtype)))
        assert out._ctx.function.__module__ == scalar_ops.__name__
        assert out.dtype == dtype and out.shape == shape
        np.testing.assert_array_equal(out.data, expected.data)
        assert out.grad_fn == name.lstrip("r").title()  # the same name as the general op


@pytest.mark.parametrize("name, fast, general", CASES, ids=[c[0] for c in CASES])
def test_scalar_op_gradients_equal_the_general_ops(name, fast, general):
    data = np.random.default_rng(1).uniform(0.5, 2, (3, 2)).astype(np.float32)
    x = mg.tensor(data, requires_grad=True)
    (fast(x, 1.7) * mg.tensor(data)).sum().backward()
    y = mg.tensor(data, requires_grad=True)
    (general(y, mg.Tensor._wrap(np.array(1.7, dtype=np.float32))) * mg.tensor(data)).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, y.grad.data)


def test_integer_tensors_and_non_numbers_take_the_general_path():
    ints = mg.tensor([1, 2, 3])
    assert (ints * 1.5).dtype == (ints * mg.tensor(1.5)).dtype
    assert (ints + 1).dtype == np.int64
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert (x * [2.0, 3.0]).tolist() == [2.0, 6.0]
    assert (x * np.array([2.0, 3.0], dtype=np.float32)).grad_fn == "Mul"


def test_a_scalar_chain_is_twice_differentiable():
    x = mg.tensor(np.array([0.5, -1.0]), requires_grad=True)
    y = ((x * 3.0 - 1.0) * (x + 2.0) / 4.0 + (1.0 - x) * 0.5)
    (dx,) = mg.grad(y.sum(), x, create_graph=True)
    (d2x,) = mg.grad(dx.sum(), x)
    # y = (3x - 1)(x + 2) / 4 + (1 - x) / 2 = (3x^2 + 5x - 2) / 4 + (1 - x) / 2
    np.testing.assert_allclose(dx.data, (6 * x.data + 5) / 4 - 0.5)
    np.testing.assert_allclose(d2x.data, [1.5, 1.5])
