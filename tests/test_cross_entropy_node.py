"""F.cross_entropy's one-node form (ops/loss.py) against the loss composed of primitive
ops: values, gradients and second derivatives."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.ops.loss import CrossEntropy


def composed(logits, target, reduction):
    log_probs = F.log_softmax(logits, axis=1)
    picked = -log_probs[np.arange(logits.shape[0]), target]
    return {"mean": picked.mean, "sum": picked.sum, "none": lambda: picked}[reduction]()


def draw(dtype, shape=(6, 4), scale=3.0, seed=0):
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal(shape)).astype(dtype)
    return logits, rng.integers(0, shape[1], size=shape[0])


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_one_node_equals_the_composed_loss_and_gradient(dtype, rtol, reduction):
    data, target = draw(dtype)
    x = mg.tensor(data, requires_grad=True)
    loss = F.cross_entropy(x, target, reduction=reduction)
    assert loss.grad_fn == "CrossEntropy" and loss.dtype == dtype
    y = mg.tensor(data, requires_grad=True)
    expected = composed(y, target, reduction)
    np.testing.assert_allclose(loss.data, expected.data, rtol=rtol, atol=rtol)
    upstream = np.linspace(0.5, 1.5, loss.data.size).astype(dtype).reshape(loss.shape)
    loss.backward(mg.tensor(upstream))
    expected.backward(mg.tensor(upstream))
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad.data, y.grad.data, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_and_gradgradcheck(reduction):
    data, target = draw(np.float64, shape=(4, 3), scale=1.0, seed=1)
    x = mg.tensor(data, requires_grad=True)
    f = lambda t: F.cross_entropy(t, target, reduction=reduction)  # noqa: E731
    assert mg.gradcheck(f, [x])
    assert mg.gradgradcheck(f, [x])


def test_second_derivative_equals_the_composed_one():
    data, target = draw(np.float64, seed=2)
    x = mg.tensor(data, requires_grad=True)
    (g,) = mg.grad(F.cross_entropy(x, target), x, create_graph=True)
    (h,) = mg.grad((g * g).sum(), x)
    y = mg.tensor(data, requires_grad=True)
    (g2,) = mg.grad(composed(y, target, "mean"), y, create_graph=True)
    (h2,) = mg.grad((g2 * g2).sum(), y)
    np.testing.assert_allclose(g.data, g2.data, rtol=1e-12)
    np.testing.assert_allclose(h.data, h2.data, rtol=1e-10, atol=1e-14)


def test_large_logits_stay_finite_and_backward_twice_gives_the_same():
    data = np.array([[1e4, -1e4, 0.0], [-3e4, 3e4, 3e4]], dtype=np.float32)
    x = mg.tensor(data, requires_grad=True)
    loss = F.cross_entropy(x, [1, 2], reduction="sum")
    np.testing.assert_allclose(loss.item(), 2e4 + np.log(2), rtol=1e-6)
    loss.backward()
    first = x.grad.data.copy()
    loss.backward()  # the saved softmax was not consumed
    np.testing.assert_allclose(x.grad.data, 2 * first)
    np.testing.assert_allclose(first, [[1, -1, 0], [0, 0.5, -0.5]], atol=1e-6)


def test_cases_outside_the_node_keep_the_composed_loss():
    data, target = draw(np.float32)
    x = mg.tensor(data, requires_grad=True)
    assert F.cross_entropy(x, target, label_smoothing=0.1).grad_fn != "CrossEntropy"
    assert F.cross_entropy(x, target, weight=mg.ones(4)).grad_fn != "CrossEntropy"
    target[0] = -100
    assert F.cross_entropy(x, target).grad_fn != "CrossEntropy"
    empty = F.cross_entropy(mg.zeros(0, 3, requires_grad=True), np.zeros(0, dtype=np.int64), reduction="sum")
    assert empty.item() == 0.0


def test_the_node_takes_a_transposed_view():
    data, target = draw(np.float64, shape=(4, 5))
    view = mg.tensor(np.ascontiguousarray(data.T).T, requires_grad=True)
    assert not view.data.flags.c_contiguous
    np.testing.assert_allclose(CrossEntropy.apply(view, target=target, reduction="mean").data,
                               composed(mg.tensor(data), target, "mean").data, rtol=1e-12)
