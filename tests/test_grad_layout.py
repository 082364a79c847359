"""Gradients of a product take their operand's memory layout, so that Linear's
weight.grad (the gradient of a transposed view of the weight) comes out contiguous."""

import itertools

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn


def test_linear_weight_grad_is_contiguous():
    layer = nn.Linear(5, 3)
    F.cross_entropy(layer(mg.randn(4, 5)), [0, 1, 2, 0]).backward()
    assert layer.weight.grad.shape == (3, 5) and layer.weight.grad.data.flags.c_contiguous


def leaf(data, transposed):
    """A leaf holding ``data``, contiguous or as a transposed view of a contiguous copy."""
    array = np.ascontiguousarray(data.T).T if transposed else np.ascontiguousarray(data)
    assert array.flags.f_contiguous == transposed or data.ndim < 2
    return mg.tensor(array, requires_grad=True)


@pytest.mark.parametrize("a_transposed, b_transposed", itertools.product([False, True], repeat=2))
def test_products_of_transposed_views_give_the_same_gradients(a_transposed, b_transposed):
    rng = np.random.default_rng(0)
    a_data, b_data = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    upstream = mg.tensor(rng.standard_normal((4, 5)))
    a, b = leaf(a_data, a_transposed), leaf(b_data, b_transposed)
    (a @ b).backward(upstream)
    np.testing.assert_allclose(a.grad.data, upstream.data @ b_data.T, rtol=1e-12)
    np.testing.assert_allclose(b.grad.data, a_data.T @ upstream.data, rtol=1e-12)
    assert a.grad.data.flags.f_contiguous == a_transposed
    assert b.grad.data.flags.f_contiguous == b_transposed


def test_transposed_operands_stay_twice_differentiable():
    rng = np.random.default_rng(1)
    a = leaf(rng.standard_normal((3, 2)), True)
    b = leaf(rng.standard_normal((2, 4)), True)
    assert mg.gradcheck(lambda x, y: (x @ y).tanh(), [a, b])
    assert mg.gradgradcheck(lambda x, y: (x @ y).tanh(), [a, b])
