"""Tensor.grad_fn names the op that made a tensor, and repr shows it as PyTorch does."""

import numpy as np

import minigrad as mg


def test_grad_fn_is_the_op_name_and_none_for_leaves():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert x.grad_fn is None
    assert (x * 2).grad_fn == "Mul"
    assert (x + x).grad_fn == "Add"
    assert x.sum().grad_fn == "Sum"
    assert (x @ x).grad_fn == "MatMul"
    assert isinstance((x * 2).grad_fn, str)


def test_grad_fn_is_none_without_a_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.no_grad():
        assert (x * 2).grad_fn is None
    assert (mg.tensor([1.0]) * 2).grad_fn is None


def test_repr_shows_grad_fn_or_requires_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "Tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "Tensor([2., 4.], grad_fn=Mul)"
    assert repr(mg.tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    y = mg.tensor(np.array([1.0]), requires_grad=True)
    assert repr(y.exp()) == "Tensor([2.71828183], dtype=float64, grad_fn=Exp)"
