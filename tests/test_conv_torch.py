"""PyTorch parity for conv2d, max_pool2d, avg_pool2d and nn.Conv2d: forward, gradients and
second derivatives. Skipped when torch is not installed."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def draw(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


CONV_CASES = [
    # (x shape, weight shape, stride, padding, dilation, groups)
    ((2, 3, 8, 7), (5, 3, 3, 3), 1, 1, 1, 1),
    ((2, 4, 9, 9), (6, 2, 3, 2), (2, 1), (1, 2), (1, 2), 2),
    ((3, 4, 7, 8), (8, 1, 3, 3), 2, 1, 1, 4),
    ((1, 6, 10, 6), (3, 2, 2, 3), 3, 2, 2, 3),
    ((2, 3, 5, 5), (2, 3, 1, 1), 1, 0, 1, 1),
]


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV_CASES)
def test_conv2d_matches_torch(x_shape, w_shape, stride, padding, dilation, groups, with_bias):
    x, w, b = draw(*x_shape, seed=1), draw(*w_shape, seed=2), draw(w_shape[0], seed=3)
    ours = [mg.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = F.conv2d(ours[0], ours[1], ours[2] if with_bias else None, stride, padding, dilation, groups)
    expected = TF.conv2d(theirs[0], theirs[1], theirs[2] if with_bias else None,
                         stride, padding, dilation, groups)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    grad = draw(*out.shape, seed=4)
    out.backward(grad)
    expected.backward(torch.tensor(grad))
    for mine, reference in zip(ours if with_bias else ours[:2], theirs):
        np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_conv2d_float32_matches_torch():
    x, w = draw(4, 8, 12, 12, seed=1).astype(np.float32), draw(16, 8, 3, 3, seed=2).astype(np.float32)
    xm, wm = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    out = F.conv2d(xm, wm, padding=1, stride=2)
    expected = TF.conv2d(xt, wt, padding=1, stride=2)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-4, atol=1e-4)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(wm.grad.data, wt.grad.numpy(), rtol=1e-4, atol=1e-3)
    assert xm.grad.dtype == np.float32 and wm.grad.dtype == np.float32


def test_conv2d_double_backward_matches_torch():
    x, w = draw(2, 2, 6, 5, seed=1), draw(4, 1, 3, 2, seed=2)
    xm, wm = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)

    def penalty(conv, grad_fn, x, w):
        # A gradient penalty: the squared norm of d(loss)/dx, then differentiated again.
        loss = (conv(x, w, None, 2, 1, 1, 2) ** 2).sum()
        (gx,) = grad_fn(loss, x)
        return (gx * gx).sum()

    ours = penalty(F.conv2d, lambda y, x: mg.grad(y, x, create_graph=True), xm, wm)
    theirs = penalty(TF.conv2d, lambda y, x: torch.autograd.grad(y, x, create_graph=True), xt, wt)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-10)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(wm.grad.data, wt.grad.numpy(), rtol=1e-9, atol=1e-10)


POOL_CASES = [
    # (x shape, kernel_size, stride, padding)
    ((2, 3, 8, 8), 2, None, 0),
    ((2, 2, 7, 9), 3, 2, 1),
    ((1, 3, 9, 7), (3, 2), (2, 1), (1, 1)),
    ((2, 1, 6, 6), 3, 1, 1),
    ((1, 2, 11, 10), (5, 4), 3, (2, 2)),
]


@pytest.mark.parametrize("ours, theirs", [(F.max_pool2d, TF.max_pool2d), (F.avg_pool2d, TF.avg_pool2d)],
                         ids=["max", "avg"])
@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", POOL_CASES)
def test_pool_matches_torch(ours, theirs, x_shape, kernel_size, stride, padding):
    x = draw(*x_shape, seed=5)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = ours(xm, kernel_size, stride, padding)
    expected = theirs(xt, kernel_size, stride, padding)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    grad = draw(*out.shape, seed=6)
    out.backward(grad)
    expected.backward(torch.tensor(grad))
    np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("value", [1.0, -np.inf])
def test_max_pool_ties_match_torch(value):
    # Constant (and all -inf) inputs: every window is a tie; PyTorch picks the first
    # element of the window that is not padding.
    x = np.full((1, 2, 5, 6), value)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = F.max_pool2d(xm, 3, 2, 1)
    out.backward(np.ones(out.shape))
    TF.max_pool2d(xt, 3, 2, 1).backward(torch.ones(out.shape, dtype=torch.float64))
    np.testing.assert_array_equal(xm.grad.data, xt.grad.numpy())


def test_conv2d_module_matches_torch_with_its_state_dict():
    torch.manual_seed(0)
    reference = torch.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    layer = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    layer.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    x = draw(2, 4, 7, 8, seed=7).astype(np.float32)
    np.testing.assert_allclose(
        layer(mg.tensor(x)).data, reference(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5
    )
